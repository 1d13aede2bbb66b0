// SPDX-License-Identifier: MIT
#include "transport/upgrader.h"

#include "transport/clientsocket.h"
#include "transport/httprequest.h"
#include "transport/httproutes.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <QWebSocket>
#include <QWebSocketCorsAuthenticator>
#include <QWebSocketServer>

namespace Mtw::Internal {

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

} // namespace

void adoptUpgradedSocket(QWebSocketServer *server, QWebSocket *webSocket, QTcpSocket *socket)
{
    QObject::disconnect(socket, &QAbstractSocket::disconnected, server, nullptr);
    socket->setParent(webSocket);
}

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

Upgrader::Upgrader(ServerContext &context, const WorkerState &state, QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_state(state)
    , m_webSocketServer(
          new QWebSocketServer(QStringLiteral("mtwserver"), QWebSocketServer::NonSecureMode, this))
{
    m_webSocketServer->setSupportedSubprotocols({QStringLiteral("mtw.v1")});
    connect(m_webSocketServer, &QWebSocketServer::newConnection, this, &Upgrader::onNewWebSocket);
    connect(
        m_webSocketServer,
        &QWebSocketServer::originAuthenticationRequired,
        this,
        [this](QWebSocketCorsAuthenticator *authenticator) {
            // The worker's live list: a reload that removes an origin refuses its next upgrade.
            const QStringList &allowed = m_state.config().transport.websocket.allowedOrigins;
            const bool ok = allowed.isEmpty() || allowed.contains(authenticator->origin());
            if (!ok)
                qCInfo(lcTransport) << "refused upgrade from origin" << authenticator->origin();
            authenticator->setAllowed(ok);
        },
        Qt::DirectConnection);
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
    upgrade(exchange.take());
}

void Upgrader::upgrade(ClientSocket *socket)
{
    // Until the upgrade succeeds the slot we reserved belongs to the TCP socket, keyed by the
    // object itself (a peer address is no key: a reset clears it, and ports are reused).
    // QWebSocketServer deletes the socket when it disconnects, on every failure path; the slot
    // is released with it. A socket that is paired with its QWebSocket hands the slot to the
    // Connection instead.
    m_upgrading.insert(socket, m_state.now());
    connect(socket->io(), &QObject::destroyed, this, [this, socket] {
        if (m_handshakeWriter == socket)
            m_handshakeWriter = nullptr;
        m_early.remove(socket);
        if (m_upgrading.remove(socket) > 0) {
            m_context.releaseConnection();
            Q_EMIT slotReleased();
        }
    });
    // QWebSocketServer writes the 101 and, in the same call, announces the QWebSocket.
    socket->reportNextWriteTo(&m_handshakeWriter);
    if (const QByteArray early = setAsideBytesAfterHead(socket); !early.isEmpty())
        m_early.insert(socket, early); // given back once the QWebSocket reads the socket
    m_webSocketServer->handleConnection(socket->io());
}

// QWebSocketServer reads the request head through a QTextStream, which reads ahead and drops
// whatever came after the head in the same read: the first frames of a client that does not
// wait for the 101 (conformance case hs_data_after_101). So the socket is left holding the head
// only, and what follows is kept here.
QByteArray Upgrader::setAsideBytesAfterHead(ClientSocket *client)
{
    QTcpSocket *socket = client->io();
    const QByteArray buffered = socket->peek(socket->bytesAvailable());
    const qsizetype headLength = httpHeadLength(buffered);
    if (headLength < 0 || headLength == buffered.size())
        return {};
    const QByteArray all = socket->read(buffered.size());
    for (qsizetype i = headLength; i-- > 0;) // ungetChar() puts back in front: last byte first
        socket->ungetChar(all.at(i));
    return all.sliced(headLength);
}

// Once upgraded (the QWebSocket now reads the socket) the bytes go back in front of whatever
// arrived since, and the QWebSocket is told there is something to read.
void Upgrader::giveBack(ClientSocket *client, const QByteArray &early)
{
    QTcpSocket *socket = client->io();
    for (qsizetype i = early.size(); i-- > 0;)
        socket->ungetChar(early.at(i));
    QMetaObject::invokeMethod(socket, "readyRead", Qt::QueuedConnection);
}

void Upgrader::onNewWebSocket()
{
    while (QWebSocket *socket = m_webSocketServer->nextPendingConnection()) {
        ClientSocket *tcp = std::exchange(m_handshakeWriter, nullptr);
        if (!tcp || !m_upgrading.contains(tcp)) {
            qCWarning(lcTransport) << "upgraded WebSocket without a pending TCP socket - dropped";
            socket->abort();
            socket->deleteLater();
            continue;
        }
        if (tcp->io()->state() != QAbstractSocket::ConnectedState) {
            // The peer reset the connection as the 101 went out: nobody to serve. The TCP
            // socket's deletion releases the slot.
            qCDebug(lcTransport).noquote() << "peer left during the upgrade";
            socket->deleteLater();
            tcp->io()->abort();
            tcp->io()->deleteLater();
            continue;
        }
        m_upgrading.remove(tcp);
        // The slot is the Connection's now: the watch on the socket's deletion has done its job
        // (one connection less for the life of every connection).
        QObject::disconnect(tcp->io(), &QObject::destroyed, this, nullptr);
        adoptUpgradedSocket(m_webSocketServer, socket, tcp->io());
        const QByteArray early = m_early.take(tcp);
        Q_EMIT upgraded(socket, tcp);
        if (!early.isEmpty())
            giveBack(tcp, early);
    }
}

// Handed to QWebSocketServer with a complete head, an upgrade finishes at once; one still
// there after a full handshake timeout is stuck, and its slot must not be.
void Upgrader::expireStuck()
{
    const qint64 limit = qint64(m_state.config().transport.websocket.handshakeTimeout) * 1000;
    const qint64 t = m_state.now();
    QList<ClientSocket *> expired;
    for (auto it = m_upgrading.cbegin(); it != m_upgrading.cend(); ++it) {
        if (t - it.value() >= limit)
            expired.append(it.key());
    }
    for (ClientSocket *client : std::as_const(expired)) {
        QTcpSocket *socket = client->io();
        qCInfo(lcTransport).noquote()
            << "upgrade of" << socket->peerAddress().toString() << "did not finish: dropped";
        socket->abort();
        socket->deleteLater();
    }
}

} // namespace Mtw::Internal
