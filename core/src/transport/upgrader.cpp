// SPDX-License-Identifier: MIT
#include "transport/upgrader.h"

#include "transport/clientsocket.h"
#include "transport/httprequest.h"
#include "transport/httproutes.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <QCryptographicHash>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// RFC 6455 section 4.2.1: the key is 16 random bytes in base64.
bool isValidWebSocketKey(const QByteArray &key)
{
    if (key.size() != 24)
        return false;
    const auto decoded =
        QByteArray::fromBase64Encoding(key, QByteArray::AbortOnBase64DecodingErrors);
    return decoded && decoded.decoded.size() == 16;
}

QByteArray upgradeProblem(const HttpRequestHead &head)
{
    if (head.header("host").isEmpty())
        return "missing Host header";
    if (head.header("sec-websocket-key").isEmpty())
        return "missing Sec-WebSocket-Key header";
    if (!isValidWebSocketKey(head.header("sec-websocket-key")))
        return "Sec-WebSocket-Key must be 16 bytes in base64";
    if (head.header("sec-websocket-version").isEmpty())
        return "missing Sec-WebSocket-Version header";
    return {};
}

// Every Sec-WebSocket-Protocol header counts, each a comma-separated list.
bool offersSubprotocol(const HttpRequestHead &head, QByteArrayView wanted)
{
    for (const auto &[name, value] : head.headers) {
        if (name != "sec-websocket-protocol")
            continue;
        for (const QByteArray &offered : value.split(',')) {
            if (offered.trimmed() == wanted)
                return true;
        }
    }
    return false;
}

} // namespace

bool refuseBadUpgrade(HttpExchange &exchange)
{
    if (const QByteArray problem = upgradeProblem(exchange.head()); !problem.isEmpty()) {
        qCInfo(lcTransport).noquote()
            << "refused upgrade from" << exchange.socket()->io()->peerAddress().toString() << "-"
            << QString::fromLatin1(problem);
        exchange.respond(400, "bad WebSocket upgrade: " + problem + '\n');
        return true;
    }
    if (exchange.head().header("sec-websocket-version") != "13") {
        exchange.respond(426,
                         "unsupported WebSocket version; this server speaks 13\n",
                         "Sec-WebSocket-Version: 13\r\n");
        return true;
    }
    return false;
}

QByteArray handshakeResponse(const HttpRequestHead &head)
{
    QCryptographicHash sha1(QCryptographicHash::Sha1);
    sha1.addData(head.header("sec-websocket-key"));
    sha1.addData("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"); // RFC 6455 section 1.3
    const QByteArray accept = sha1.result().toBase64();
    QByteArray response;
    response.reserve(160);
    response += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: ";
    response += accept;
    response += "\r\n";
    if (offersSubprotocol(head, "mtw.v1"))
        response += "Sec-WebSocket-Protocol: mtw.v1\r\n";
    response += "\r\n";
    return response;
}

Upgrader::Upgrader(ServerContext &context, const WorkerState &state, QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_state(state)
{ }

// transport.websocket.allowed_origins, the worker's live list (a reload that removes an origin
// refuses its next upgrade): empty takes every request, with an Origin header or without.
bool Upgrader::originAllowed(const HttpExchange &exchange) const
{
    const QStringList &allowed = m_state.config().transport.websocket.allowedOrigins;
    if (allowed.isEmpty())
        return true;
    const QString origin = QString::fromUtf8(exchange.head().header("origin"));
    if (allowed.contains(origin))
        return true;
    qCInfo(lcTransport).noquote() << "refused upgrade from origin"
                                  << (origin.isEmpty() ? u"(none)"_s : origin) << "of"
                                  << exchange.socket()->io()->peerAddress().toString()
                                  << "- not in transport.websocket.allowed_origins";
    return false;
}

void Upgrader::handle(HttpExchange &exchange)
{
    if (!exchange.head().isWebSocketUpgrade()) {
        exchange.respond(426,
                         "this endpoint expects a WebSocket upgrade\n",
                         "Upgrade: websocket\r\n");
        return;
    }
    if (refuseBadUpgrade(exchange))
        return;
    if (!originAllowed(exchange)) {
        exchange.respond(403,
                         "this Origin may not connect (transport.websocket.allowed_origins)\n");
        return;
    }
    if (m_state.shuttingDown) {
        exchange.respond(503, "server is shutting down\n");
        return;
    }
    if (!m_context.reserveConnection()) {
        qCWarning(lcTransport).noquote()
            << "refused upgrade from" << exchange.socket()->io()->peerAddress().toString()
            << "- server.max_connections ="
            << m_context.maxConnections.load(std::memory_order_relaxed) << "reached";
        exchange.respond(503, "server is at its connection limit\n", "Retry-After: 5\r\n");
        return;
    }
    const QByteArray response = handshakeResponse(exchange.head());
    ClientSocket *socket = exchange.take();
    // The head leaves the socket; frames a client sent without waiting for the 101 stay
    // (conformance case hs_data_after_101). It is copied into an array of its own size: read(n)
    // of a whole chunk would hand over Qt's 16 KiB read chunk, which the Connection would then
    // keep for its whole life.
    QByteArray rawHead(exchange.headLength(), Qt::Uninitialized);
    if (socket->io()->read(rawHead.data(), rawHead.size()) != rawHead.size())
        rawHead.clear(); // cannot be: the head was peeked from the same buffer
    // The 101 waits as the first queued frame, so that the greeting leaves with it in one write.
    socket->queueFrame(response);
    Q_EMIT upgraded(socket, exchange.head(), rawHead);
}

} // namespace Mtw::Internal
