// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>

#include <optional>

namespace Mtw::Internal {

// The head of an HTTP/1.x request, read before deciding between a plain HTTP answer and a
// WebSocket upgrade. Values are views into nothing: they own their bytes.
struct HttpRequestHead
{
    QByteArray method;
    QByteArray target; // as sent: path plus query
    QByteArray path;   // target without the query
    QByteArray version;
    QList<QPair<QByteArray, QByteArray>> headers; // names lower-cased

    QByteArray header(QByteArrayView lowerName) const;
    bool isWebSocketUpgrade() const;
    // "Access-Control-Allow-Origin: <origin>\r\nVary: Origin\r\n" for a request with an Origin
    // header (the browser transports answer any origin they serve), else nothing.
    QByteArray corsHeaders() const;
};

// Size of the head including the blank line, or -1 when "\r\n\r\n" has not arrived yet.
qsizetype httpHeadLength(QByteArrayView data);

// Parses a complete head (up to and including "\r\n\r\n"); nullopt when it is not HTTP/1.x.
std::optional<HttpRequestHead> parseHttpRequestHead(QByteArrayView head);

// A complete response that closes the connection.
QByteArray httpResponse(int status, QByteArrayView body, QByteArrayView extraHeaders = {});
// A complete response of any type; `keepAlive` says so in its Connection header.
QByteArray httpReply(int status,
                     QByteArrayView contentType,
                     QByteArrayView body,
                     bool keepAlive,
                     QByteArrayView extraHeaders = {});

inline constexpr qsizetype MaxHttpHeadSize = 16 * 1024;

} // namespace Mtw::Internal
