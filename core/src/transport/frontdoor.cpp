// SPDX-License-Identifier: MIT
#include "transport/frontdoor.h"

#include "transport/clientsocket.h"
#include "transport/descriptors.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

namespace Mtw::Internal {

FrontDoor::FrontDoor(ServerContext &context, const WorkerState &state, QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_state(state)
{ }

void FrontDoor::accept(qintptr socketDescriptor)
{
    ClientSocket *client = ClientSocket::create(m_context.tls.enabled(), this);
    QTcpSocket *socket = client->io();
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
    // Frames are small and written whole: without this, one sent while an earlier one waits for
    // its ACK is held back until the client's delayed ACK (~40 ms on Linux). Best effort.
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    // Until the upgrade only our small HTTP answers are written here.
    client->setQueueLimit(m_state.config().transport.websocket.maxQueueSize);
    if (!admit(client))
        return;
    connect(socket, &QTcpSocket::readyRead, this, [this, client] { readHead(client); });
    connect(socket, &QTcpSocket::disconnected, this, [this, client, socket] {
        forget(client);
        socket->deleteLater();
    });
    if (socket->bytesAvailable() > 0)
        readHead(client);
}

// Not while shutting down, and not more half-sent heads from one address than
// max_pending_handshakes_per_ip (slowloris). A trusted reverse proxy carries many clients:
// the per-address guard would lock them out.
bool FrontDoor::admit(ClientSocket *socket)
{
    if (m_state.shuttingDown) {
        respond(socket, 503, "server is shutting down\n");
        return false;
    }
    const QHostAddress peer = socket->io()->peerAddress();
    const WebSocketConfig &ws = m_state.config().transport.websocket;
    const bool counted = !m_state.trustedProxies().contains(peer);
    if (counted && !m_context.pendingHandshakes.tryAcquire(peer, ws.maxPendingHandshakesPerIp)) {
        qCWarning(lcTransport).noquote()
            << "refused connection from" << peer.toString()
            << "- too many pending handshakes from this address (max_pending_handshakes_per_ip ="
            << ws.maxPendingHandshakesPerIp << ")";
        respond(socket, 429, "too many pending connections from your address\n");
        return false;
    }
    m_pending.insert(socket, PendingSocket{m_state.now(), peer, counted});
    return true;
}

void FrontDoor::readHead(ClientSocket *socket)
{
    if (QSslSocket *tls = socket->tls(); tls && tls->mode() == QSslSocket::UnencryptedMode) {
        startTls(tls);
        return;
    }
    const QByteArray data = socket->io()->peek(MaxHttpHeadSize + 1);
    const qsizetype length = httpHeadLength(data);
    if (length < 0) {
        if (data.size() > MaxHttpHeadSize)
            respond(socket, 431, "request head larger than 16 KiB\n");
        return;
    }
    const std::optional<HttpRequestHead> head =
        parseHttpRequestHead(QByteArrayView(data).first(length));
    if (!head) {
        respond(socket, 400, "malformed HTTP request\n");
        return;
    }
    route(socket, *head, length);
}

// [server.tls]: the port speaks TLS only, under the same handshake deadline and per-address
// limit as the HTTP head. A TLS client's first byte is a handshake record (0x16); anything
// else is a plain-HTTP client, told so in clear text. The routes then read decrypted bytes.
void FrontDoor::startTls(QSslSocket *socket)
{
    char first = 0;
    if (socket->peek(&first, 1) != 1)
        return;
    if (first != 0x16) {
        qCInfo(lcTransport).noquote()
            << "refused plain HTTP from" << socket->peerAddress().toString() << "on a TLS port";
        respond(ClientSocket::from(socket),
                400,
                "this port speaks TLS only: use https:// or wss://\n");
        return;
    }
    connect(socket, &QAbstractSocket::errorOccurred, this, [socket](QAbstractSocket::SocketError) {
        if (!socket->isEncrypted())
            qCInfo(lcTransport).noquote()
                << "TLS handshake with" << socket->peerAddress().toString()
                << "failed:" << socket->errorString();
    });
    socket->setSslConfiguration(m_context.tls.current());
    socket->startServerEncryption();
}

void FrontDoor::route(ClientSocket *socket, const HttpRequestHead &head, qsizetype headLength)
{
    const HttpRoutes::Entry *entry = m_routes.find(head.path);
    if (!entry) {
        respond(socket, 404, "no such endpoint: " + head.path + '\n');
        return;
    }
    if (!entry->methods.contains(head.method)) {
        const QByteArray allowed = entry->methods.join(", ");
        respond(socket,
                405,
                "method not allowed here; use " + allowed + '\n',
                "Allow: " + allowed + "\r\n");
        return;
    }
    HttpExchange exchange(*this, socket, head, headLength);
    entry->route(exchange);
}

void FrontDoor::expireHandshakes()
{
    const qint64 limit = qint64(m_state.config().transport.websocket.handshakeTimeout) * 1000;
    const qint64 t = m_state.now();
    QList<ClientSocket *> expired;
    for (auto it = m_pending.cbegin(); it != m_pending.cend(); ++it) {
        if (t - it->acceptedAt >= limit)
            expired.append(it.key());
    }
    for (ClientSocket *client : std::as_const(expired)) {
        QTcpSocket *socket = client->io();
        qCInfo(lcTransport).noquote()
            << "handshake timeout for" << socket->peerAddress().toString();
        forget(client);
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
    }
}

void FrontDoor::refuseAll()
{
    const QList<ClientSocket *> pending = m_pending.keys();
    for (ClientSocket *socket : pending)
        respond(socket, 503, "server is shutting down\n");
}

void FrontDoor::respond(ClientSocket *client,
                        int status,
                        QByteArrayView body,
                        QByteArrayView extraHeaders)
{
    release(client);
    QTcpSocket *socket = client->io();
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    socket->write(httpResponse(status, body, extraHeaders));
    socket->disconnectFromHost();
}

void FrontDoor::release(ClientSocket *socket)
{
    forget(socket);
    socket->io()->disconnect(this);
}

void FrontDoor::forget(ClientSocket *socket)
{
    const auto it = m_pending.constFind(socket);
    if (it == m_pending.cend())
        return;
    if (it->counted)
        m_context.pendingHandshakes.release(it->peer);
    m_pending.erase(it);
}

} // namespace Mtw::Internal
