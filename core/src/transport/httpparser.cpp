// SPDX-License-Identifier: MIT
#include "transport/httpparser.h"

#include <http_parser.h>

namespace Mtw::Internal {

struct HttpRequestParser::Native
{
    http_parser parser{};
    http_parser_settings settings{};
};

// http-parser's C callbacks; each returns non-zero to stop the parser with an error.
struct HttpRequestParser::Callbacks
{
    static HttpRequestParser &self(http_parser *parser)
    {
        return *static_cast<HttpRequestParser *>(parser->data);
    }

    // Counts head bytes as they arrive, so that a head that never ends cannot grow.
    static bool headTooLarge(HttpRequestParser &p, size_t length)
    {
        p.m_headBytes += qint64(length);
        if (p.m_headBytes <= MaxHttpHeadSize)
            return false;
        p.fail(431, "request head larger than 16 KiB");
        return true;
    }

    static void flushHeader(HttpRequestParser &p)
    {
        if (p.m_field.isEmpty())
            return;
        // Moved, lowered and trimmed in place: no copy per header.
        p.m_request.head.headers.append(
            {std::move(p.m_field).toLower(), std::move(p.m_value).trimmed()});
        p.m_field = QByteArray();
        p.m_value = QByteArray();
    }

    static int onMessageBegin(http_parser *parser)
    {
        self(parser).m_started = true;
        self(parser).m_request.head.headers.reserve(16); // a browser's upgrade sends 10 to 15
        return 0;
    }

    static int onUrl(http_parser *parser, const char *at, size_t length)
    {
        HttpRequestParser &p = self(parser);
        if (headTooLarge(p, length))
            return 1;
        p.m_request.head.target.append(at, qsizetype(length));
        return 0;
    }

    static int onHeaderField(http_parser *parser, const char *at, size_t length)
    {
        HttpRequestParser &p = self(parser);
        if (headTooLarge(p, length))
            return 1;
        if (p.m_lastWasValue)
            flushHeader(p);
        p.m_lastWasValue = false;
        p.m_field.append(at, qsizetype(length));
        return 0;
    }

    static int onHeaderValue(http_parser *parser, const char *at, size_t length)
    {
        HttpRequestParser &p = self(parser);
        if (headTooLarge(p, length))
            return 1;
        p.m_lastWasValue = true;
        p.m_value.append(at, qsizetype(length));
        return 0;
    }

    static int onHeadersComplete(http_parser *parser)
    {
        HttpRequestParser &p = self(parser);
        flushHeader(p);
        HttpRequestHead &head = p.m_request.head;
        if (parser->http_major != 1 || head.target.isEmpty()) {
            p.fail(400, "malformed HTTP request: not HTTP/1.x");
            return -1; // 1 and 2 would mean "no body" here, not an error
        }
        head.method = http_method_str(http_method(parser->method));
        head.version = "HTTP/1." + QByteArray::number(parser->http_minor);
        const qsizetype query = head.target.indexOf('?');
        head.path = query < 0 ? head.target : head.target.left(query);
        p.m_continue = head.header("expect").compare("100-continue", Qt::CaseInsensitive) == 0
            && parser->content_length != 0;
        if (p.m_headOnly) {
            http_parser_pause(parser, 1);
            return 0;
        }
        // ULLONG_MAX: no Content-Length (chunked, or no body).
        if (parser->content_length != ULLONG_MAX
            && parser->content_length > quint64(p.m_maxBodySize)) {
            p.fail(413,
                   "request body of " + QByteArray::number(quint64(parser->content_length))
                       + " bytes exceeds transport.http.max_body_size = "
                       + QByteArray::number(p.m_maxBodySize));
            return -1;
        }
        return 0;
    }

    static int onBody(http_parser *parser, const char *at, size_t length)
    {
        HttpRequestParser &p = self(parser);
        if (p.m_request.body.size() + qint64(length) > p.m_maxBodySize) {
            p.fail(413,
                   "request body exceeds transport.http.max_body_size = "
                       + QByteArray::number(p.m_maxBodySize));
            return 1;
        }
        p.m_request.body.append(at, qsizetype(length));
        return 0;
    }

    static int onMessageComplete(http_parser *parser)
    {
        HttpRequestParser &p = self(parser);
        p.m_request.keepAlive = http_should_keep_alive(parser) != 0;
        p.m_state = State::Complete;
        http_parser_pause(parser, 1); // one request at a time
        return 0;
    }
};

HttpRequestParser::HttpRequestParser(qint64 maxBodySize)
    : m_native(std::make_unique<Native>())
    , m_maxBodySize(maxBodySize)
{
    http_parser_settings &s = m_native->settings;
    http_parser_settings_init(&s);
    s.on_message_begin = &Callbacks::onMessageBegin;
    s.on_url = &Callbacks::onUrl;
    s.on_header_field = &Callbacks::onHeaderField;
    s.on_header_value = &Callbacks::onHeaderValue;
    s.on_headers_complete = &Callbacks::onHeadersComplete;
    s.on_body = &Callbacks::onBody;
    s.on_message_complete = &Callbacks::onMessageComplete;
    http_parser_init(&m_native->parser, HTTP_REQUEST);
    m_native->parser.data = this;
}

HttpRequestParser::~HttpRequestParser() = default;

qsizetype HttpRequestParser::feed(QByteArrayView data)
{
    if (m_state != State::NeedMore || data.isEmpty())
        return 0;
    http_parser &parser = m_native->parser;
    const size_t consumed =
        http_parser_execute(&parser, &m_native->settings, data.data(), size_t(data.size()));
    const http_errno error = HTTP_PARSER_ERRNO(&parser);
    if (m_state == State::NeedMore && error != HPE_OK && error != HPE_PAUSED
        && m_errorStatus == 0) {
        fail(400, QByteArray("malformed HTTP request: ") + http_errno_description(error));
    }
    return qsizetype(consumed);
}

void HttpRequestParser::next()
{
    if (m_state != State::Complete)
        return;
    m_request = HttpRequest();
    m_state = State::NeedMore;
    m_started = false;
    m_lastWasValue = false;
    m_continue = false;
    m_headBytes = 0;
    http_parser_pause(&m_native->parser, 0);
}

void HttpRequestParser::fail(int status, const QByteArray &text)
{
    m_state = State::Failed;
    m_errorStatus = status;
    m_errorText = text;
}

std::optional<HttpRequestHead> HttpRequestParser::parseHead(QByteArrayView head)
{
    HttpRequestParser parser(0);
    parser.m_headOnly = true;
    parser.feed(head);
    const http_errno error = HTTP_PARSER_ERRNO(&parser.m_native->parser);
    if (parser.m_state == State::Failed || error != HPE_PAUSED)
        return std::nullopt;
    return parser.m_request.head;
}

} // namespace Mtw::Internal
