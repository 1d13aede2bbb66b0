// SPDX-License-Identifier: MIT
#pragma once

#include "transport/httprequest.h"

#include <QByteArray>
#include <QByteArrayView>

#include <memory>
#include <optional>
#include <utility>

namespace Mtw::Internal {

// One complete HTTP/1.x request: its head and its whole body (Content-Length or chunked,
// de-chunked).
struct HttpRequest
{
    HttpRequestHead head;
    QByteArray body;
    bool keepAlive = false; // the client may send another request on this connection
};

// Reads requests from the bytes of one connection with nodejs/http-parser (Debian
// libhttp-parser-dev), one request at a time: feed() stops after a complete request, so that a
// pipelined next one waits until the first is answered. Bytes in, requests out; it never sees
// a socket. The head is limited to MaxHttpHeadSize (431), the body to `maxBodySize` (413,
// decided from Content-Length before any of the body arrives, or as chunks add up).
class HttpRequestParser
{
public:
    enum class State {
        NeedMore, // nothing, or part of a request, so far
        Complete, // request() holds a request; call next() before feeding more
        Failed,   // errorStatus() and errorText() say why; the connection must close
    };

    explicit HttpRequestParser(qint64 maxBodySize);
    ~HttpRequestParser();
    HttpRequestParser(const HttpRequestParser &) = delete;
    HttpRequestParser &operator=(const HttpRequestParser &) = delete;

    // Parses from `data`; returns how many bytes it consumed (the rest belongs to a later
    // request: feed it again after next()).
    qsizetype feed(QByteArrayView data);
    State state() const { return m_state; }
    // Some bytes of a request that is not complete yet have arrived.
    bool inProgress() const { return m_started && m_state == State::NeedMore; }
    const HttpRequest &request() const { return m_request; }
    // True once per request that asked "Expect: 100-continue" (curl does for larger bodies):
    // the caller writes the interim 100 before the body comes.
    bool takeContinue() { return std::exchange(m_continue, false); }
    // After Complete: makes room for the next request on the connection.
    void next();
    int errorStatus() const { return m_errorStatus; }
    const QByteArray &errorText() const { return m_errorText; }

    // The head only (FrontDoor): parses `head`, which ends with its blank line, and stops there.
    static std::optional<HttpRequestHead> parseHead(QByteArrayView head);

private:
    struct Callbacks;
    void fail(int status, const QByteArray &text);

    struct Native;
    std::unique_ptr<Native> m_native;
    const qint64 m_maxBodySize;
    State m_state = State::NeedMore;
    bool m_started = false;
    bool m_headOnly = false;
    bool m_lastWasValue = false;
    bool m_continue = false;
    qint64 m_headBytes = 0;
    QByteArray m_field;
    QByteArray m_value;
    HttpRequest m_request;
    int m_errorStatus = 0;
    QByteArray m_errorText;
};

} // namespace Mtw::Internal
