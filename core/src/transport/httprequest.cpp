// SPDX-License-Identifier: MIT
#include "transport/httprequest.h"

namespace Mtw::Internal {

namespace {

// QByteArrayView has no split() in Qt 6.4.
QList<QByteArrayView> splitView(QByteArrayView data, char separator)
{
    QList<QByteArrayView> parts;
    qsizetype start = 0;
    for (qsizetype i = 0; i < data.size(); ++i) {
        if (data[i] == separator) {
            parts.append(data.sliced(start, i - start));
            start = i + 1;
        }
    }
    parts.append(data.sliced(start));
    return parts;
}

QByteArrayView reasonPhrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

bool headerHasToken(const QByteArray &value, QByteArrayView token)
{
    for (QByteArrayView part : splitView(value, ',')) {
        if (part.trimmed().compare(token, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

} // namespace

QByteArray HttpRequestHead::header(QByteArrayView lowerName) const
{
    for (const auto &[name, value] : headers) {
        if (name == lowerName)
            return value;
    }
    return {};
}

bool HttpRequestHead::isWebSocketUpgrade() const
{
    return headerHasToken(header("upgrade"), "websocket")
        && headerHasToken(header("connection"), "upgrade");
}

qsizetype httpHeadLength(QByteArrayView data)
{
    const qsizetype end = data.indexOf(QByteArrayView("\r\n\r\n"));
    return end < 0 ? -1 : end + 4;
}

std::optional<HttpRequestHead> parseHttpRequestHead(QByteArrayView head)
{
    const QList<QByteArrayView> lines = splitView(head, '\n');
    if (lines.isEmpty())
        return std::nullopt;
    const QList<QByteArrayView> requestLine = splitView(lines.first().trimmed(), ' ');
    if (requestLine.size() != 3 || !requestLine[2].startsWith("HTTP/1.") || requestLine[0].isEmpty()
        || requestLine[1].isEmpty()) {
        return std::nullopt;
    }

    HttpRequestHead request;
    request.method = requestLine[0].toByteArray();
    request.target = requestLine[1].toByteArray();
    request.version = requestLine[2].toByteArray();
    const qsizetype query = request.target.indexOf('?');
    request.path = query < 0 ? request.target : request.target.left(query);

    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArrayView line = lines[i].trimmed();
        if (line.isEmpty())
            break;
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return std::nullopt;
        request.headers.append({line.first(colon).trimmed().toByteArray().toLower(),
                                line.sliced(colon + 1).trimmed().toByteArray()});
    }
    return request;
}

QByteArray httpResponse(int status, QByteArrayView body, QByteArrayView extraHeaders)
{
    QByteArray response;
    response.reserve(128 + body.size() + extraHeaders.size());
    response += "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status).toByteArray()
        + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
        + QByteArray::number(body.size()) + "\r\nConnection: close\r\n";
    response += extraHeaders;
    response += "\r\n";
    response += body;
    return response;
}

} // namespace Mtw::Internal
