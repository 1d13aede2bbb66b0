// SPDX-License-Identifier: MIT
#pragma once

#include "transport/httproutes.h"

#include <QHash>
#include <QHostAddress>
#include <QObject>

QT_FORWARD_DECLARE_CLASS(QSslSocket)

namespace Mtw::Internal {

class ClientSocket;
class ServerContext;
struct WorkerState;

// Every accepted socket passes here first: the HTTP request head is peeked (not consumed) under
// the handshake deadline and the per-address pending limit, then handed to the route of its
// path (404 for none, 405 for a method the route does not take). On a TLS port the handshake
// runs here first, so the routes never know whether bytes came over TLS. Worker thread only.
class FrontDoor : public QObject
{
    Q_OBJECT

public:
    FrontDoor(ServerContext &context, const WorkerState &state, QObject *parent);

    HttpRoutes &routes() { return m_routes; }

    void accept(qintptr socketDescriptor);
    // Drops sockets whose head did not arrive within transport.websocket.handshake_timeout.
    void expireHandshakes();
    // Shutdown: every socket still sending its head gets a 503.
    void refuseAll();

    void respond(ClientSocket *socket,
                 int status,
                 QByteArrayView body,
                 QByteArrayView extraHeaders = {});
    // Lets go of a socket a route took over.
    void release(ClientSocket *socket);

private:
    struct PendingSocket
    {
        qint64 acceptedAt = 0;
        QHostAddress peer;
        bool counted = true; // holds a pendingHandshakes place (trusted proxies do not)
    };

    bool admit(ClientSocket *socket);
    void readHead(ClientSocket *socket);
    void startTls(QSslSocket *socket);
    void route(ClientSocket *socket, const HttpRequestHead &head, qsizetype headLength);
    void forget(ClientSocket *socket);

    ServerContext &m_context;
    const WorkerState &m_state;
    HttpRoutes m_routes;
    QHash<ClientSocket *, PendingSocket> m_pending;
};

} // namespace Mtw::Internal
