// SPDX-License-Identifier: MIT
#include "transport/connectiontable.h"

#include "transport/clientsocket.h"
#include "transport/handlers/handlers.h"
#include "transport/logging.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/protocol.h"
#include "transport/servercontext.h"
#include "transport/ssestream.h"
#include "transport/workerstate.h"

#include <mtw/ulid.h>

#include <QDateTime>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// Grace period for a peer to answer our close frame before the socket is dropped.
constexpr qint64 CloseGraceMs = 3000;
constexpr qint64 CloseHardLimitMs = 60000;

} // namespace

ConnectionTable::ConnectionTable(ProtocolContext &parts,
                                 Protocol &protocol,
                                 std::atomic<int> &count,
                                 QObject *parent)
    : QObject(parent)
    , m_parts(parts)
    , m_protocol(protocol)
    , m_count(count)
{ }

ConnectionTable::~ConnectionTable()
{
    // The worker is finishing in its own thread: the sockets are still ours.
    for (Connection *connection : std::as_const(m_connections)) {
        if (connection->sse) {
            connection->tcp->io()->disconnect(this);
            delete connection->sse; // with its socket
        } else {
            connection->tcp->io()->disconnect(this);
            delete connection->tcp->io();
        }
        m_parts.out.forget(*connection);
        delete connection;
    }
}

void ConnectionTable::open(ClientSocket *tcp,
                           const HttpRequestHead &head,
                           const QByteArray &rawHead)
{
    tcp->io()->setParent(this);
    Connection *connection = create(tcp, head.header("x-forwarded-for"), head.header("user-agent"));
    connection->upgradeHead = rawHead;
    wire(connection);
    qCDebug(lcTransport).noquote()
        << "connection" << connection->connId << "from" << connection->peerAddress.toString()
        << "on worker" << m_parts.state.index;
    Q_EMIT opened(connection->connId);
    greet(m_parts, *connection);
    // What the client sent without waiting for the 101 is answered after the greeting.
    if (!connection->disconnected && tcp->io()->bytesAvailable() > 0)
        readFrames(connection);
    else
        tcp->releaseReadBuffer(); // the upgrade request has been read
}

Connection *ConnectionTable::openSse(SseStream *stream)
{
    stream->setParent(this);
    Connection *connection = create(stream->socket(),
                                    stream->head().header("x-forwarded-for"),
                                    stream->head().header("user-agent"));
    connection->sse = stream;
    connection->httpRequest = &stream->request();
    wireSse(connection);
    qCInfo(lcTransport).noquote() << "SSE stream" << connection->connId << "from"
                                  << connection->peerAddress.toString() << "for"
                                  << stream->channels().join(u", "_s);
    Q_EMIT opened(connection->connId);
    greet(m_parts, *connection);
    return connection;
}

Connection *ConnectionTable::create(ClientSocket *tcp,
                                    const QByteArray &forwardedFor,
                                    const QByteArray &userAgent)
{
    auto *connection = new Connection;
    connection->tcp = tcp;
    connection->key = m_parts.server.nextConnKey.fetch_add(1, std::memory_order_relaxed);
    connection->connId = generateUlid();
    connection->peerAddress =
        m_parts.state.trustedProxies().clientAddress(tcp->io()->peerAddress(), forwardedFor);
    if (connection->peerAddress == tcp->io()->peerAddress())
        connection->peerPort = tcp->io()->peerPort();
    connection->userAgent = QString::fromUtf8(userAgent);
    connection->connectedAt = QDateTime::currentMSecsSinceEpoch();
    connection->lastSeen = m_parts.state.now();
    connection->rateRefilledAt = connection->lastSeen;
    connection->rateTokens = qint64(m_parts.state.config().transport.websocket.rateBurst) * 1000;
    m_connections.insert(connection->key, connection);
    m_byConnId.insert(connection->connId, connection);
    m_parts.server.addToDirectory(connection->connId, m_parts.state.index);
    m_count.fetch_add(1, std::memory_order_relaxed);
    m_parts.server.counters.connectionsTotal.fetch_add(1, std::memory_order_relaxed);
    return connection;
}

void ConnectionTable::wire(Connection *connection)
{
    QTcpSocket *tcp = connection->tcp->io();
    connect(tcp, &QTcpSocket::readyRead, this, [this, connection] { readFrames(connection); });
    connect(tcp, &QTcpSocket::disconnected, this, [this, connection] {
        onDisconnected(connection);
    });
    // Our pongs and close frames count too.
    connection->tcp->onQueueOverflow([this, connection](qint64 queued, qint64 refused) {
        m_parts.out.dropSlowConsumer(*connection, queued, refused);
    });
}

// Everything the socket has, frame by frame, until a frame is incomplete. After our Close
// frame nothing is read any more (RFC 6455 section 5.5.1); a client's Close is answered and
// the connection closed; a broken rule fails the connection with the close code it calls for.
void ConnectionTable::readFrames(Connection *connection)
{
    ClientSocket *tcp = connection->tcp;
    if (connection->closeSent || connection->disconnected) {
        tcp->io()->readAll(); // not for us any more; not kept either
        return;
    }
    connection->reader.append(tcp->readAvailable());
    const qint64 limit = m_parts.state.config().transport.websocket.maxMessageSize;
    while (!connection->closeSent && !connection->disconnected) {
        WebSocketReader::Event event = connection->reader.next(limit);
        switch (event.kind) {
        case WebSocketReader::Kind::None:
            return;
        case WebSocketReader::Kind::Message:
            if (event.binary)
                m_protocol.onBinary(*connection, event.payload);
            else
                m_protocol.onText(*connection, event.payload);
            break;
        case WebSocketReader::Kind::Ping:
            connection->lastSeen = m_parts.state.now();
            m_parts.out.queueFrame(*connection, pongFrame(event.payload));
            break;
        case WebSocketReader::Kind::Pong:
            connection->lastSeen = m_parts.state.now();
            break;
        case WebSocketReader::Kind::Close:
            // Answered with its own code (a Close without one with 1000), then TCP closes:
            // the server closes first (RFC 6455 section 7.1.1).
            m_parts.out.closeWebSocket(*connection,
                                       event.code == quint16(CloseCode::NoStatus)
                                           ? quint16(CloseCode::Normal)
                                           : event.code,
                                       {});
            break;
        case WebSocketReader::Kind::Failed:
            failWebSocket(*connection, CloseCode(event.code), event.payload);
            break;
        }
    }
}

// RFC 6455 section 7.1.7: our Close with the code the broken rule calls for, then TCP closes.
void ConnectionTable::failWebSocket(Connection &connection,
                                    CloseCode code,
                                    const QByteArray &problem)
{
    qCInfo(lcTransport).noquote() << "connection" << connection.connId
                                  << "failed:" << QString::fromUtf8(problem) << "- closing with"
                                  << int(code);
    if (!connection.reason) {
        switch (code) {
        case CloseCode::TooBig:
            connection.reason = DisconnectReason::error(u"message too large"_s);
            break;
        case CloseCode::InvalidPayload:
            connection.reason = DisconnectReason::error(u"invalid UTF-8 in a text message"_s);
            break;
        default:
            connection.reason = DisconnectReason::error(u"WebSocket protocol error"_s);
            break;
        }
    }
    m_parts.out.closeWebSocket(connection, quint16(code), problem);
}

void ConnectionTable::wireSse(Connection *connection)
{
    QTcpSocket *tcp = connection->tcp->io();
    // The client sends nothing more on a stream (its request had no body to speak of): what
    // comes is read and dropped, so that it cannot pile up.
    connect(tcp, &QTcpSocket::readyRead, this, [tcp] { tcp->readAll(); });
    connect(tcp, &QTcpSocket::disconnected, this, [this, connection] {
        onDisconnected(connection);
    });
    connection->tcp->onQueueOverflow([this, connection](qint64 queued, qint64 refused) {
        m_parts.out.dropSlowConsumer(*connection, queued, refused);
    });
}

void ConnectionTable::keepAliveStreams()
{
    for (Connection *connection : std::as_const(m_connections)) {
        if (connection->sse && !connection->disconnected && connection->closingSince < 0)
            connection->sse->keepAlive(*connection);
    }
}

void ConnectionTable::onDisconnected(Connection *connection)
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

DisconnectReason ConnectionTable::reasonFor(const Connection &connection) const
{
    // The server's decision (a failed frame among them), or the client's own close.
    return connection.reason ? *connection.reason : DisconnectReason::normal();
}

void ConnectionTable::cleanUp(quint64 key)
{
    Connection *connection = m_connections.take(key);
    if (!connection)
        return;
    m_byConnId.remove(connection->connId);
    m_parts.server.removeFromDirectory(connection->connId);
    const QStringList channels = connection->channels;
    for (const QString &channel : channels)
        leaveChannel(m_parts, *connection, channel);

    const DisconnectReason reason = reasonFor(*connection);
    m_parts.state.metrics.disconnects[size_t(reason.kind)].add();
    qCInfo(lcTransport).noquote() << "connection" << connection->connId
                                  << "closed:" << reason.toString();
    ServerEvents *events = m_parts.server.events;
    if (connection->announced && events->isListened(&ServerEvents::clientDisconnected))
        Q_EMIT events->clientDisconnected(m_parts.modules.clientInfo(*connection), reason);

    if (connection->sse) {
        connection->tcp->io()->disconnect(this);
        connection->sse->deleteLater(); // with its socket
    } else {
        connection->tcp->io()->disconnect(this);
        connection->tcp->io()->deleteLater();
    }
    const QString connId = connection->connId;
    m_parts.out.forget(*connection);
    delete connection;
    m_count.fetch_sub(1, std::memory_order_relaxed);
    m_parts.server.releaseConnection();
    Q_EMIT closed(connId, reason);
}

void ConnectionTable::housekeeping()
{
    expireTokens();
    const qint64 t = m_parts.state.now();
    for (Connection *connection : std::as_const(m_connections)) {
        // Our close frame went out after any queued output: once that is written (or the
        // hard limit passes) a peer that does not answer the close is dropped.
        const qint64 closingFor = t - connection->closingSince;
        if (connection->closingSince >= 0 && !connection->disconnected
            && ((closingFor > CloseGraceMs && connection->tcp->queuedBytes() == 0)
                || closingFor > CloseHardLimitMs)) {
            abortConnection(*connection);
        }
    }
}

void ConnectionTable::expireTokens()
{
    const qint64 epochNow = QDateTime::currentMSecsSinceEpoch();
    for (Connection *connection : std::as_const(m_connections)) {
        if (connection->tokenExpiresAt <= 0 || connection->tokenExpiresAt > epochNow
            || connection->disconnected || connection->closingSince >= 0) {
            continue;
        }
        qCInfo(lcTransport).noquote() << "connection" << connection->connId << "of user"
                                      << connection->userId << "closed: its token expired";
        m_parts.out.send(*connection, Message::error(401, u"token expired"_s));
        m_parts.out.close(*connection,
                          QWebSocketProtocol::CloseCode(4001),
                          u"token expired"_s,
                          DisconnectReason::error(u"token expired"_s));
    }
}

void ConnectionTable::reconfigure(const QStringList &nowAuth)
{
    const WebSocketConfig &ws = m_parts.state.config().transport.websocket;
    for (Connection *connection : std::as_const(m_connections)) {
        if (connection->disconnected)
            continue;
        // A lower max_message_size holds from the next frame on (readFrames() reads the live
        // configuration); a message being read whose next frame takes it over is refused with
        // 1009, as any oversize message.
        connection->tcp->setQueueLimit(ws.maxQueueSize);
        if (connection->authenticated || nowAuth.isEmpty())
            continue;
        const QStringList channels = connection->channels;
        for (const QString &channel : channels) {
            if (!nowAuth.contains(channel))
                continue;
            qCInfo(lcTransport).noquote()
                << "connection" << connection->connId << "left" << channel
                << "- the channel requires authentication since the configuration reload";
            leaveChannel(m_parts, *connection, channel);
            Message notice = Message::create(MessageType::Unsubscribe);
            notice.channel = channel;
            notice.metadata.insert(QStringLiteral("reason"), QStringLiteral("auth_required"));
            m_parts.out.send(*connection, notice);
        }
    }
}

void ConnectionTable::pingAll()
{
    const qint64 t = m_parts.state.now();
    const qint64 limit =
        2 * qint64(m_parts.state.config().transport.websocket.pingInterval) * 1000 + 500;
    for (Connection *connection : std::as_const(m_connections)) {
        // An SSE client sends nothing back: its stream has keep-alive comments instead.
        if (connection->disconnected || connection->closingSince >= 0 || connection->sse)
            continue;
        if (t - connection->lastSeen > limit) {
            m_parts.out.close(*connection,
                              QWebSocketProtocol::CloseCodePolicyViolated,
                              u"ping timeout"_s,
                              DisconnectReason::timeout());
            continue;
        }
        m_parts.out.queueFrame(*connection, pingFrame());
    }
}

void ConnectionTable::closeAll()
{
    for (Connection *connection : std::as_const(m_connections)) {
        m_parts.out.close(*connection,
                          QWebSocketProtocol::CloseCodeGoingAway,
                          u"server shutdown"_s,
                          DisconnectReason::serverShutdown());
    }
}

void ConnectionTable::abortAll()
{
    for (Connection *connection : std::as_const(m_connections)) {
        if (!connection->reason)
            connection->reason = DisconnectReason::serverShutdown();
        abortConnection(*connection);
    }
}

QList<ConnectionSummary> ConnectionTable::collect(bool changedOnly)
{
    QList<ConnectionSummary> rows;
    for (Connection *connection : std::as_const(m_connections)) {
        const qint64 queue = connection->tcp->queuedBytes();
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
                                      connection->peerPort,
                                      connection->userId,
                                      connection->roles,
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

} // namespace Mtw::Internal
