// SPDX-License-Identifier: MIT
#include "transport/worker.h"

#include "modules/modulehost.h"
#include "transport/acceptor.h"
#include "transport/admingate.h"
#include "transport/clientsocket.h"
#include "transport/connection.h"
#include "transport/httprequest.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/tsanannotations.h"

#include <mtw/frame.h>
#include <mtw/ulid.h>

#include <QDateTime>
#include <QTcpSocket>
#include <QTimer>
#include <QWebSocket>
#include <QWebSocketCorsAuthenticator>
#include <QWebSocketServer>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// A WebSocket frame header (at most 10 bytes) plus an MTW frame header (9 bytes).
constexpr qint64 MaxFrameOverhead = 10 + 9;

// Grace period for a peer to answer our close frame before the socket is dropped.
constexpr qint64 CloseGraceMs = 3000;
constexpr qint64 CloseHardLimitMs = 60000;

// A complete server-to-client WebSocket frame (FIN set, unmasked, RFC 6455 §5.2). Writing it
// straight to the TCP socket is safe alongside QWebSocket's own writes (pings, close), which
// also queue whole frames, and skips QWebSocket's QString round trip per message.
QByteArray webSocketFrame(bool binary, QByteArrayView payload)
{
    QByteArray frame;
    const qsizetype size = payload.size();
    frame.reserve(size + 10);
    frame.append(char(0x80 | (binary ? 0x2 : 0x1)));
    if (size < 126) {
        frame.append(char(size));
    } else if (size <= 0xffff) {
        frame.append(char(126));
        frame.append(char(size >> 8));
        frame.append(char(size & 0xff));
    } else {
        frame.append(char(127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((quint64(size) >> shift) & 0xff));
    }
    frame.append(payload);
    return frame;
}

// What may wait for one admin client: a snapshot of 10,000 connections is about 3 MB.
constexpr qint64 AdminMaxQueueSize = 64 * 1024 * 1024;

// RFC 6455 section 4.2.1: the key is 16 random bytes in base64.
bool isValidWebSocketKey(const QByteArray &key)
{
    if (key.size() != 24)
        return false;
    const auto decoded =
        QByteArray::fromBase64Encoding(key, QByteArray::AbortOnBase64DecodingErrors);
    return decoded && decoded.decoded.size() == 16;
}

} // namespace

Worker::Worker(ServerContext *context, int index)
    : m_context(context)
    , m_index(index)
{
    m_clock.start();
}

Worker::~Worker()
{
    // Runs in the worker thread as it finishes (deferred delete): the sockets are still ours.
    for (Connection *connection : std::as_const(m_connections)) {
        delete connection->socket;
        delete connection;
    }
}

void Worker::postInitialize()
{
    QMetaObject::invokeMethod(this, &Worker::initialize, Qt::QueuedConnection);
}

void Worker::postDescriptor(qintptr socketDescriptor)
{
    QMetaObject::invokeMethod(
        this,
        [this, socketDescriptor] { acceptDescriptor(socketDescriptor); },
        Qt::QueuedConnection);
}

void Worker::postDelivery(const Delivery &delivery)
{
    QMetaObject::invokeMethod(
        this,
        [this, delivery = Tsan::HandedOver<Delivery>(delivery)] {
            deliver(*delivery);
            delivery.done(); // see Tsan::HandedOver
        },
        Qt::QueuedConnection);
}

void Worker::postStopPublishing()
{
    QMetaObject::invokeMethod(this, &Worker::stopPublishing, Qt::QueuedConnection);
}

void Worker::postShutdown()
{
    QMetaObject::invokeMethod(this, &Worker::beginShutdown, Qt::QueuedConnection);
}

void Worker::postForceClose()
{
    QMetaObject::invokeMethod(this, &Worker::forceClose, Qt::QueuedConnection);
}

void Worker::postSend(const QString &connId, const QByteArray &json)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, json] {
            if (Connection *connection = m_byConnId.value(connId))
                sendEncoded(*connection, json);
        },
        Qt::QueuedConnection);
}

void Worker::postKick(const QString &connId, const QString &reason)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, reason] {
            Connection *connection = m_byConnId.value(connId);
            if (!connection)
                return;
            qCInfo(lcTransport).noquote() << "connection" << connId << "kicked:" << reason;
            closeConnection(*connection,
                            QWebSocketProtocol::CloseCodePolicyViolated,
                            reason,
                            DisconnectReason::kicked(reason));
        },
        Qt::QueuedConnection);
}

void Worker::postCollect(QObject *receiver,
                         bool changedOnly,
                         std::function<void(QList<ConnectionSummary>)> callback)
{
    QMetaObject::invokeMethod(
        this,
        [this, receiver, changedOnly, callback = std::move(callback)] {
            QList<ConnectionSummary> rows = collect(changedOnly);
            QMetaObject::invokeMethod(
                receiver,
                [callback, rows] { callback(rows); },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

QList<ConnectionSummary> Worker::collect(bool changedOnly)
{
    QList<ConnectionSummary> rows;
    for (Connection *connection : std::as_const(m_connections)) {
        const qint64 queue = connection->socket->bytesToWrite();
        if (changedOnly && connection->reportedIn == connection->messagesIn
            && connection->reportedOut == connection->messagesOut
            && connection->reportedQueue == queue) {
            continue;
        }
        if (changedOnly) { // a full listing (a snapshot) leaves the delta baseline alone
            connection->reportedIn = connection->messagesIn;
            connection->reportedOut = connection->messagesOut;
            connection->reportedQueue = queue;
        }
        rows.append(ConnectionSummary{connection->connId,
                                      connection->peerAddress.toString(),
                                      connection->userId,
                                      connection->userAgent,
                                      connection->channels,
                                      connection->binaryMode,
                                      queue,
                                      connection->messagesIn,
                                      connection->messagesOut,
                                      connection->connectedAt});
    }
    return rows;
}

void Worker::initialize()
{
    const WebSocketConfig &ws = m_context->config.transport.websocket;
    m_webSocketServer =
        new QWebSocketServer(QStringLiteral("mtwserver"), QWebSocketServer::NonSecureMode, this);
    m_webSocketServer->setSupportedSubprotocols({QStringLiteral("mtw.v1")});
    connect(m_webSocketServer, &QWebSocketServer::newConnection, this, &Worker::onNewWebSocket);
    connect(
        m_webSocketServer,
        &QWebSocketServer::originAuthenticationRequired,
        this,
        [allowed = ws.allowedOrigins](QWebSocketCorsAuthenticator *authenticator) {
            const bool ok = allowed.isEmpty() || allowed.contains(authenticator->origin());
            if (!ok)
                qCInfo(lcTransport) << "refused upgrade from origin" << authenticator->origin();
            authenticator->setAllowed(ok);
        },
        Qt::DirectConnection);

    m_housekeeping = new QTimer(this);
    m_housekeeping->setInterval(int(std::min<qint64>(1000, qint64(ws.handshakeTimeout) * 250)));
    connect(m_housekeeping, &QTimer::timeout, this, &Worker::housekeeping);
    m_housekeeping->start();

    if (ws.pingInterval > 0) {
        m_pingTimer = new QTimer(this);
        m_pingTimer->setInterval(int(qint64(ws.pingInterval) * 1000));
        connect(m_pingTimer, &QTimer::timeout, this, &Worker::pingAll);
        m_pingTimer->start();
    }
}

void Worker::acceptDescriptor(qintptr socketDescriptor)
{
    auto *socket = new ClientSocket(this);
    if (!socket->setSocketDescriptor(socketDescriptor)) {
        qCWarning(lcTransport) << "cannot adopt accepted socket:" << socket->errorString()
                               << "- refused with 503";
        delete socket;
        // Qt leaves a descriptor it could not adopt open (it closes it only when making it
        // non-blocking fails, and the acceptor hands over non-blocking ones): answer, close.
        refuseDescriptor(
            socketDescriptor,
            httpResponse(503, "server cannot take the connection\n", "Retry-After: 1\r\n"));
        return;
    }
    // Until the upgrade only our small HTTP answers are written here.
    socket->setQueueLimit(m_context->config.transport.websocket.maxQueueSize);
    if (m_shuttingDown) {
        respondAndClose(socket, 503, "server is shutting down\n");
        return;
    }
    const QHostAddress peer = socket->peerAddress();
    // A trusted reverse proxy carries many clients: the per-address guard would lock them out.
    const bool counted = !m_context->trustedProxies.contains(peer);
    if (counted && !m_context->pendingHandshakes.tryAcquire(peer)) {
        qCWarning(lcTransport).noquote()
            << "refused connection from" << peer.toString()
            << "- too many pending handshakes from this address (max_pending_handshakes_per_ip ="
            << m_context->config.transport.websocket.maxPendingHandshakesPerIp << ")";
        respondAndClose(socket, 429, "too many pending connections from your address\n");
        return;
    }
    m_pending.insert(socket, PendingSocket{now(), peer, counted});
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { readRequestHead(socket); });
    connect(socket, &QTcpSocket::disconnected, this, [this, socket] {
        forgetPending(socket);
        socket->deleteLater();
    });
    if (socket->bytesAvailable() > 0)
        readRequestHead(socket);
}

void Worker::readRequestHead(ClientSocket *socket)
{
    const QByteArray data = socket->peek(MaxHttpHeadSize + 1);
    const qsizetype length = httpHeadLength(data);
    if (length < 0) {
        if (data.size() > MaxHttpHeadSize)
            respondAndClose(socket, 431, "request head larger than 16 KiB\n");
        return;
    }
    const std::optional<HttpRequestHead> head =
        parseHttpRequestHead(QByteArrayView(data).first(length));
    if (!head) {
        respondAndClose(socket, 400, "malformed HTTP request\n");
        return;
    }
    route(socket, *head);
}

void Worker::route(ClientSocket *socket, const HttpRequestHead &head)
{
    if (head.method != "GET") {
        respondAndClose(socket, 405, "only GET is supported here\n", "Allow: GET\r\n");
        return;
    }
    if (head.path == "/status" || head.path == "/healthz") {
        // Alive: this worker answers. /status keeps its historical body.
        respondAndClose(socket, 200, head.path == "/status" ? "ok" : "ok\n");
        return;
    }
    if (head.path == "/readyz") {
        answerReadiness(socket);
        return;
    }
    const AdminConfig &admin = m_context->config.admin;
    if (admin.enabled && m_context->adminService && head.path == admin.path.toUtf8()) {
        routeAdmin(socket, head);
        return;
    }
    const QByteArray wsPath = m_context->config.transport.websocket.path.toUtf8();
    if (head.path != wsPath && head.path != "/") {
        respondAndClose(socket, 404, "no such endpoint: " + head.path + '\n');
        return;
    }
    if (!head.isWebSocketUpgrade()) {
        respondAndClose(socket,
                        426,
                        "this endpoint expects a WebSocket upgrade\n",
                        "Upgrade: websocket\r\n");
        return;
    }
    if (refuseBadUpgrade(socket, head))
        return;
    if (m_shuttingDown) {
        respondAndClose(socket, 503, "server is shutting down\n");
        return;
    }
    if (!m_context->reserveConnection()) {
        qCWarning(lcTransport).noquote()
            << "refused upgrade from" << socket->peerAddress().toString()
            << "- server.max_connections =" << m_context->config.server.maxConnections << "reached";
        respondAndClose(socket, 503, "server is at its connection limit\n", "Retry-After: 5\r\n");
        return;
    }
    upgrade(socket);
}

void Worker::answerReadiness(ClientSocket *socket)
{
    const auto [ready, reason] = m_context->readiness();
    if (m_shuttingDown || !ready) {
        const QByteArray why = m_shuttingDown ? QByteArray("shutting down") : reason.toUtf8();
        respondAndClose(socket, 503, "not ready: " + why + '\n', "Retry-After: 5\r\n");
        return;
    }
    respondAndClose(socket, 200, "ready\n");
}

// RFC 6455 section 4.2.1 and 4.4: what QWebSocketServer would refuse without an answer (or,
// for a malformed key, accept). Returns true when the socket got a 400 or 426.
bool Worker::refuseBadUpgrade(ClientSocket *socket, const HttpRequestHead &head)
{
    QByteArray problem;
    if (head.header("host").isEmpty())
        problem = "missing Host header";
    else if (head.header("sec-websocket-key").isEmpty())
        problem = "missing Sec-WebSocket-Key header";
    else if (!isValidWebSocketKey(head.header("sec-websocket-key")))
        problem = "Sec-WebSocket-Key must be 16 bytes in base64";
    else if (head.header("sec-websocket-version").isEmpty())
        problem = "missing Sec-WebSocket-Version header";
    if (!problem.isEmpty()) {
        qCInfo(lcTransport).noquote() << "refused upgrade from" << socket->peerAddress().toString()
                                      << "-" << QString::fromLatin1(problem);
        respondAndClose(socket, 400, "bad WebSocket upgrade: " + problem + '\n');
        return true;
    }
    if (head.header("sec-websocket-version") != "13") {
        respondAndClose(socket,
                        426,
                        "unsupported WebSocket version; this server speaks 13\n",
                        "Sec-WebSocket-Version: 13\r\n");
        return true;
    }
    return false;
}

void Worker::routeAdmin(ClientSocket *socket, const HttpRequestHead &head)
{
    const QHostAddress peer =
        m_context->trustedProxies.clientAddress(socket->peerAddress(),
                                                head.header("x-forwarded-for"));
    switch (m_context->adminGate.check(head, peer, QDateTime::currentMSecsSinceEpoch())) {
    case AdminGate::Verdict::Throttled:
        qCWarning(lcTransport).noquote()
            << "admin API: refused" << peer.toString() << "- too many failed attempts, throttled";
        respondAndClose(socket,
                        429,
                        "too many failed attempts; try again later\n",
                        "Retry-After: 60\r\n");
        return;
    case AdminGate::Verdict::Unauthorized:
        qCWarning(lcTransport).noquote()
            << "admin API: refused" << peer.toString() << "- wrong or missing token";
        respondAndClose(socket, 401, "admin token required\n", "WWW-Authenticate: Bearer\r\n");
        return;
    case AdminGate::Verdict::ForbiddenOrigin:
        qCWarning(lcTransport).noquote()
            << "admin API: refused" << peer.toString() << "- Origin"
            << QString::fromUtf8(head.header("origin")) << "is not in admin.allowed_origins";
        respondAndClose(socket,
                        403,
                        "this Origin may not use the admin API (admin.allowed_origins)\n");
        return;
    case AdminGate::Verdict::TokenInQuery:
        qCWarning(lcTransport).noquote()
            << "admin API: refused" << peer.toString()
            << "- a token in the query string (URLs are logged); send Authorization: Bearer";
        respondAndClose(
            socket,
            400,
            "send the admin token in an Authorization: Bearer header, not in the URL\n");
        return;
    case AdminGate::Verdict::Allow:
        break;
    }
    if (!head.isWebSocketUpgrade()) {
        respondAndClose(socket,
                        426,
                        "the admin API expects a WebSocket upgrade\n",
                        "Upgrade: websocket\r\n");
        return;
    }
    if (refuseBadUpgrade(socket, head))
        return;
    // The admin service lives in the server's thread: the socket moves there with its buffered
    // request, which the service's own QWebSocketServer then reads.
    forgetPending(socket);
    socket->setQueueLimit(AdminMaxQueueSize);
    socket->disconnect(this);
    socket->setParent(nullptr);
    socket->moveToThread(m_context->adminService->thread());
    QMetaObject::invokeMethod(
        m_context->adminService,
        [adopt = m_context->adoptAdminSocket, socket] { adopt(socket); },
        Qt::QueuedConnection);
}

void Worker::respondAndClose(ClientSocket *socket,
                             int status,
                             QByteArrayView body,
                             QByteArrayView extraHeaders)
{
    forgetPending(socket);
    socket->disconnect(this);
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    socket->write(httpResponse(status, body, extraHeaders));
    socket->disconnectFromHost();
}

void Worker::forgetPending(ClientSocket *socket)
{
    const auto it = m_pending.constFind(socket);
    if (it == m_pending.cend())
        return;
    if (it->counted)
        m_context->pendingHandshakes.release(it->peer);
    m_pending.erase(it);
}

void Worker::upgrade(ClientSocket *socket)
{
    forgetPending(socket);
    socket->disconnect(this);
    // Until the upgrade succeeds the slot we reserved belongs to the TCP socket, keyed by the
    // object itself (a peer address is no key: a reset clears it, and ports are reused).
    // QWebSocketServer deletes the socket when it disconnects, on every failure path; the slot
    // is released with it. A socket that is paired with its QWebSocket hands the slot to the
    // Connection instead.
    m_upgrading.insert(socket, now());
    connect(socket, &QObject::destroyed, this, [this, socket] {
        if (m_handshakeWriter == socket)
            m_handshakeWriter = nullptr;
        if (m_upgrading.remove(socket) > 0) {
            m_context->releaseConnection();
            checkDrained();
        }
    });
    // QWebSocketServer writes the 101 and, in the same call, announces the QWebSocket.
    socket->reportNextWriteTo(&m_handshakeWriter);
    m_webSocketServer->handleConnection(socket);
}

void Worker::onNewWebSocket()
{
    while (QWebSocket *socket = m_webSocketServer->nextPendingConnection()) {
        ClientSocket *tcp = std::exchange(m_handshakeWriter, nullptr);
        if (!tcp || !m_upgrading.contains(tcp)) {
            qCWarning(lcTransport) << "upgraded WebSocket without a pending TCP socket - dropped";
            socket->abort();
            socket->deleteLater();
            continue;
        }
        if (tcp->state() != QAbstractSocket::ConnectedState) {
            // The peer reset the connection as the 101 went out: nobody to serve. The TCP
            // socket's deletion releases the slot.
            qCDebug(lcTransport).noquote() << "peer left during the upgrade";
            socket->deleteLater();
            tcp->abort();
            tcp->deleteLater();
            continue;
        }
        m_upgrading.remove(tcp);
        setUpConnection(socket, tcp);
    }
}

void Worker::setUpConnection(QWebSocket *socket, ClientSocket *tcp)
{
    const WebSocketConfig &ws = m_context->config.transport.websocket;
    socket->setMaxAllowedIncomingMessageSize(quint64(ws.maxMessageSize));
    socket->setMaxAllowedIncomingFrameSize(quint64(ws.maxMessageSize));

    auto *connection = new Connection;
    connection->socket = socket;
    connection->tcp = tcp;
    connection->key = m_context->nextConnKey.fetch_add(1, std::memory_order_relaxed);
    connection->connId = generateUlid();
    connection->peerAddress =
        m_context->trustedProxies.clientAddress(tcp->peerAddress(),
                                                socket->request().rawHeader("X-Forwarded-For"));
    connection->userAgent = QString::fromUtf8(socket->request().rawHeader("User-Agent"));
    connection->connectedAt = QDateTime::currentMSecsSinceEpoch();
    connection->lastSeen = now();
    connection->rateRefilledAt = now();
    connection->rateTokens = qint64(ws.rateBurst) * 1000;
    m_connections.insert(connection->key, connection);
    m_byConnId.insert(connection->connId, connection);
    m_context->addToDirectory(connection->connId, m_index);
    m_connectionCount.fetch_add(1, std::memory_order_relaxed);
    m_context->counters.connectionsTotal.fetch_add(1, std::memory_order_relaxed);

    connect(socket,
            &QWebSocket::textMessageReceived,
            this,
            [this, connection](const QString &text) { onTextMessage(*connection, text); });
    connect(socket,
            &QWebSocket::binaryMessageReceived,
            this,
            [this, connection](const QByteArray &data) { onBinaryMessage(*connection, data); });
    connect(socket, &QWebSocket::pong, this, [this, connection] { connection->lastSeen = now(); });
    connect(socket, &QWebSocket::disconnected, this, [this, connection] {
        onDisconnected(connection);
    });
    // Bytes QWebSocket queues by itself (pongs to the client's pings, close frames) count too.
    connect(tcp,
            &ClientSocket::queueOverflowed,
            this,
            [this, connection](qint64 queued, qint64 refused) {
                dropSlowConsumer(*connection, queued, refused);
            });

    qCDebug(lcTransport).noquote() << "connection" << connection->connId << "from"
                                   << connection->peerAddress.toString() << "on worker" << m_index;
    Q_EMIT connectionOpened(connection->connId);

    Message ack =
        Message::create(MessageType::Ack,
                        Payload::fromJson(QJsonObject{{u"conn_id"_s, connection->connId}}));
    ack.metadata.insert(u"conn_id"_s, connection->connId);
    send(*connection, ack);
    if (hasAuthenticators()) {
        // A token in the upgrade (?token= or Authorization: Bearer) is checked at once.
        if (const QString token = upgradeToken(*connection); !token.isEmpty()) {
            if (const auto verified = authenticate(*connection, token); !verified) {
                refuseAuthentication(*connection, verified.error(), QString());
                return;
            }
        }
    }
    connection->announced = true; // listeners see a disconnect only for a connect they saw
    if (m_context->events->isListened(&ServerEvents::clientConnected))
        Q_EMIT m_context->events->clientConnected(clientInfo(*connection));

    if (m_shuttingDown) {
        closeConnection(*connection,
                        QWebSocketProtocol::CloseCodeGoingAway,
                        QStringLiteral("server shutdown"),
                        DisconnectReason::serverShutdown());
    }
}

void Worker::onDisconnected(Connection *connection)
{
    if (connection->disconnected)
        return;
    connection->disconnected = true;
    // Clean up from the event loop, never from inside a delivery loop or a socket signal.
    const quint64 key = connection->key;
    QMetaObject::invokeMethod(
        this,
        [this, key] { cleanUp(key); },
        Qt::QueuedConnection);
}

void Worker::cleanUp(quint64 key)
{
    Connection *connection = m_connections.take(key);
    if (!connection)
        return;
    m_byConnId.remove(connection->connId);
    m_context->removeFromDirectory(connection->connId);
    const QStringList channels = connection->channels;
    for (const QString &channel : channels)
        leaveChannel(*connection, channel);

    DisconnectReason reason = connection->reason.value_or(DisconnectReason::normal());
    if (!connection->reason) {
        const auto code = connection->socket->closeCode();
        if (code == QWebSocketProtocol::CloseCodeTooMuchData)
            reason = DisconnectReason::error(QStringLiteral("message too large"));
        else if (code == QWebSocketProtocol::CloseCodeProtocolError)
            reason = DisconnectReason::error(QStringLiteral("WebSocket protocol error"));
        else if (code == QWebSocketProtocol::CloseCodeWrongDatatype) // QWebSocket's 1007
            reason = DisconnectReason::error(QStringLiteral("invalid UTF-8 in a text message"));
    }
    qCInfo(lcTransport).noquote() << "connection" << connection->connId
                                  << "closed:" << reason.toString();
    if (connection->announced && m_context->events->isListened(&ServerEvents::clientDisconnected))
        Q_EMIT m_context->events->clientDisconnected(clientInfo(*connection), reason);

    connection->socket->disconnect(this);
    connection->socket->deleteLater();
    const QString connId = connection->connId;
    delete connection;
    m_connectionCount.fetch_sub(1, std::memory_order_relaxed);
    m_context->releaseConnection();
    Q_EMIT connectionClosed(connId, reason);
    checkDrained();
}

void Worker::housekeeping()
{
    const qint64 t = now();
    expireHandshakes(t);
    expireTokens();
    if (m_index == 0) // one sweep for the whole registry, off the other workers' paths
        m_context->registry.reclaim();
    for (Connection *connection : std::as_const(m_connections)) {
        // Our close frame went out after any queued output: once that is written (or the
        // hard limit passes) a peer that does not answer the close is dropped.
        const qint64 closingFor = t - connection->closingSince;
        if (connection->closingSince >= 0 && !connection->disconnected
            && ((closingFor > CloseGraceMs && connection->socket->bytesToWrite() == 0)
                || closingFor > CloseHardLimitMs)) {
            connection->socket->abort();
        }
    }
}

void Worker::expireHandshakes(qint64 t)
{
    const qint64 handshakeLimit =
        qint64(m_context->config.transport.websocket.handshakeTimeout) * 1000;
    QList<ClientSocket *> expired;
    for (auto it = m_pending.cbegin(); it != m_pending.cend(); ++it) {
        if (t - it->acceptedAt >= handshakeLimit)
            expired.append(it.key());
    }
    for (ClientSocket *socket : std::as_const(expired)) {
        qCInfo(lcTransport).noquote()
            << "handshake timeout for" << socket->peerAddress().toString();
        forgetPending(socket);
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
    }
    // Handed to QWebSocketServer with a complete head, an upgrade finishes at once; one still
    // there after a full handshake timeout is stuck, and its slot must not be.
    expired.clear();
    for (auto it = m_upgrading.cbegin(); it != m_upgrading.cend(); ++it) {
        if (t - it.value() >= handshakeLimit)
            expired.append(it.key());
    }
    for (ClientSocket *socket : std::as_const(expired)) {
        qCInfo(lcTransport).noquote()
            << "upgrade of" << socket->peerAddress().toString() << "did not finish: dropped";
        socket->abort();
        socket->deleteLater();
    }
}

void Worker::expireTokens()
{
    const qint64 epochNow = QDateTime::currentMSecsSinceEpoch();
    for (Connection *connection : std::as_const(m_connections)) {
        if (connection->tokenExpiresAt <= 0 || connection->tokenExpiresAt > epochNow
            || connection->disconnected || connection->closingSince >= 0) {
            continue;
        }
        qCInfo(lcTransport).noquote() << "connection" << connection->connId << "of user"
                                      << connection->userId << "closed: its token expired";
        send(*connection, Message::error(401, u"token expired"_s));
        closeConnection(*connection,
                        QWebSocketProtocol::CloseCode(4001),
                        u"token expired"_s,
                        DisconnectReason::error(u"token expired"_s));
    }
}

void Worker::pingAll()
{
    const qint64 t = now();
    const qint64 limit =
        2 * qint64(m_context->config.transport.websocket.pingInterval) * 1000 + 500;
    for (Connection *connection : std::as_const(m_connections)) {
        if (connection->disconnected || connection->closingSince >= 0)
            continue;
        if (t - connection->lastSeen > limit) {
            closeConnection(*connection,
                            QWebSocketProtocol::CloseCodePolicyViolated,
                            QStringLiteral("ping timeout"),
                            DisconnectReason::timeout());
            continue;
        }
        connection->socket->ping();
    }
}

void Worker::stopPublishing()
{
    m_refusingPublishes = true;
    Q_EMIT publishingStopped();
}

void Worker::beginShutdown()
{
    m_refusingPublishes = true;
    m_shuttingDown = true;
    const QList<ClientSocket *> pending = m_pending.keys();
    for (ClientSocket *socket : pending)
        respondAndClose(socket, 503, "server is shutting down\n");
    for (Connection *connection : std::as_const(m_connections)) {
        closeConnection(*connection,
                        QWebSocketProtocol::CloseCodeGoingAway,
                        QStringLiteral("server shutdown"),
                        DisconnectReason::serverShutdown());
    }
    checkDrained();
}

void Worker::forceClose()
{
    for (Connection *connection : std::as_const(m_connections)) {
        if (!connection->reason)
            connection->reason = DisconnectReason::serverShutdown();
        connection->socket->abort();
    }
    checkDrained();
}

void Worker::checkDrained()
{
    if (m_shuttingDown && !m_drained && m_connections.isEmpty() && m_upgrading.isEmpty()) {
        m_drained = true; // the server counts workers: say it once
        Q_EMIT drained();
    }
}

void Worker::send(Connection &connection, const Message &message)
{
    const QByteArray json = encodeMessage(message);
    // A reply that could never fit in the queue (a large history) is an error for the client,
    // not a reason to drop it; the error names the limit.
    if (message.type != MessageType::Error && !replyFits(json)) {
        sendEncoded(connection, encodeMessage(replyTooLarge(json.size(), message.refId)));
        return;
    }
    sendEncoded(connection, json);
}

// One reply may take the larger of the queue limit and the message size limit.
bool Worker::replyFits(const QByteArray &json) const
{
    const WebSocketConfig &ws = m_context->config.transport.websocket;
    return json.size() + MaxFrameOverhead <= std::max(ws.maxQueueSize, ws.maxMessageSize);
}

Message Worker::replyTooLarge(qsizetype size, const QString &refId) const
{
    const WebSocketConfig &ws = m_context->config.transport.websocket;
    return Message::error(413,
                          u"reply of %1 bytes exceeds the %2 bytes one reply may take (the larger "
                          "of transport.websocket.max_queue_size and max_message_size); ask for "
                          "less"_s.arg(size)
                              .arg(std::max(ws.maxQueueSize, ws.maxMessageSize)),
                          refId);
}

void Worker::sendEncoded(Connection &connection, const QByteArray &json)
{
    if (connection.disconnected || connection.closingSince >= 0)
        return;
    const QByteArray frame = connection.binaryMode
        ? webSocketFrame(true, encodeFrame(FrameType::Json, json))
        : webSocketFrame(false, json);
    writeFrame(connection, frame);
}

bool Worker::writeFrame(Connection &connection, const QByteArray &frame)
{
    const qint64 written = queueFrame(connection, frame);
    if (written < 0)
        return false;
    ++connection.messagesOut;
    m_context->counters.messagesOut.fetch_add(1, std::memory_order_relaxed);
    m_context->counters.bytesOut.fetch_add(written, std::memory_order_relaxed);
    return true;
}

// Every byte queued for a client counts: ClientSocket refuses a write that would take the queue
// over its limit (one check per write, in one place), and the client is dropped at once.
qint64 Worker::queueFrame(Connection &connection, const QByteArray &frame)
{
    // Bytes written in this event-loop pass wait in Qt's buffer until the loop runs: a client
    // that reads promptly but asked for several large replies at once would look slow. Hand
    // what waits to the kernel first; only what the kernel will not take counts as queued.
    if (Q_UNLIKELY(!connection.tcp->hasRoomFor(frame.size())))
        connection.tcp->flush();
    const qint64 written = connection.tcp->write(frame);
    if (Q_UNLIKELY(written < 0) && connection.tcp->hasOverflowed())
        dropSlowConsumer(connection, connection.tcp->bytesToWrite(), frame.size());
    return written;
}

void Worker::dropSlowConsumer(Connection &connection, qint64 queued, qint64 refused)
{
    if (connection.disconnected || connection.slowConsumer)
        return;
    connection.slowConsumer = true;
    const qint64 limit = m_context->config.transport.websocket.maxQueueSize;
    qCWarning(lcTransport).noquote()
        << "connection" << connection.connId << "is a slow consumer:" << queued
        << "bytes queued and" << refused
        << "more would exceed transport.websocket.max_queue_size =" << limit << "- disconnected";
    m_context->counters.slowConsumers.fetch_add(1, std::memory_order_relaxed);
    connection.reason = DisconnectReason::error(
        QStringLiteral("slow consumer: %1 bytes queued, limit %2").arg(queued).arg(limit));
    // Its queue is full: a close frame would wait behind it, so the socket is dropped at once.
    connection.socket->abort();
}

void Worker::closeConnection(Connection &connection,
                             QWebSocketProtocol::CloseCode code,
                             const QString &text,
                             const DisconnectReason &reason)
{
    if (connection.disconnected || connection.closingSince >= 0)
        return;
    connection.reason = reason;
    connection.closingSince = now();
    connection.socket->close(code, text);
}

void Worker::deliver(const Delivery &delivery)
{
    const auto it = m_members.constFind(delivery.channel);
    if (it == m_members.cend())
        return;
    // A copy of the set (implicitly shared, so free) keeps the loop safe if a slow consumer is
    // dropped while we iterate; removals happen later from the event loop.
    const QSet<Connection *> members = *it;
    // Each WebSocket frame is built once (header included) and the same bytes are queued on
    // every recipient's socket: no per-recipient encoding or allocation of our own.
    QByteArray textFrame;
    QByteArray binaryFrame;
    qint64 sent = 0;
    qint64 bytes = 0;
    for (Connection *connection : members) {
        if (connection->key == delivery.excludeKey || connection->disconnected
            || connection->closingSince >= 0) {
            continue;
        }
        const QByteArray *frame = &textFrame;
        if (connection->binaryMode || delivery.forceBinary) {
            if (binaryFrame.isNull())
                binaryFrame = webSocketFrame(true, encodeFrame(FrameType::Json, delivery.json));
            frame = &binaryFrame;
        } else if (textFrame.isNull()) {
            textFrame = webSocketFrame(false, delivery.json);
        }
        const qint64 written = queueFrame(*connection, *frame);
        if (written < 0)
            continue;
        bytes += written;
        ++connection->messagesOut;
        ++sent;
    }
    m_context->counters.messagesOut.fetch_add(sent, std::memory_order_relaxed);
    m_context->counters.bytesOut.fetch_add(bytes, std::memory_order_relaxed);
}

void Worker::fanOut(const Delivery &delivery, quint64 workerMask)
{
    for (int i = 0; workerMask != 0 && i < m_context->workerCount; ++i, workerMask >>= 1) {
        if (!(workerMask & 1))
            continue;
        if (i == m_index)
            deliver(delivery);
        else
            m_context->workers.at(i)->postDelivery(delivery);
    }
}

} // namespace Mtw::Internal
