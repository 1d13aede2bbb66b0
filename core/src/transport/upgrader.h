// SPDX-License-Identifier: MIT
#pragma once

#include <QHash>
#include <QObject>

class QTcpSocket;
class QWebSocket;
class QWebSocketServer;

namespace Mtw::Internal {

class ClientSocket;
class HttpExchange;
class ServerContext;
struct WorkerState;

// Makes `socket`, just upgraded by `server` to `webSocket`, the WebSocket's: QWebSocketServer
// keeps a watch on the socket's disconnected() for the socket's whole life (to delete it) and
// finds the socket then with QObject::sender(), which walks every connection to the server: one
// per socket it upgraded that is still open. With 10,000 clients a disconnect cost about 40 us more,
// and a mass disconnect was quadratic. The watch goes; the socket becomes a child of the
// QWebSocket, deleted with it and after it (~QWebSocket still closes through it).
void adoptUpgradedSocket(QWebSocketServer *server, QWebSocket *webSocket, QTcpSocket *socket);

// RFC 6455 sections 4.2.1 and 4.4: what QWebSocketServer would refuse without an answer (or,
// for a malformed key, accept). True when the exchange got its 400 or 426.
bool refuseBadUpgrade(HttpExchange &exchange);

// The route of the client WebSocket path: checks the upgrade request, reserves a
// server.max_connections slot (503 when none is left) and lets this worker's non-listening
// QWebSocketServer finish the handshake. Until the QWebSocket is paired with its TCP socket
// the slot belongs to the TCP socket object and is released on every path with it. Worker
// thread only.
class Upgrader : public QObject
{
    Q_OBJECT

public:
    Upgrader(ServerContext &context, const WorkerState &state, QObject *parent);

    void handle(HttpExchange &exchange);
    // Drops upgrades stuck in QtWebSockets for a whole handshake timeout.
    void expireStuck();
    bool isEmpty() const { return m_upgrading.isEmpty(); }

Q_SIGNALS:
    // The upgrade is done: `socket` is open over `tcp`, and the slot goes with it.
    void upgraded(QWebSocket *socket, ClientSocket *tcp);
    void slotReleased(); // an upgrade failed and gave its slot back

private:
    void upgrade(ClientSocket *socket);
    static QByteArray setAsideBytesAfterHead(ClientSocket *socket);
    static void giveBack(ClientSocket *socket, const QByteArray &early);
    void onNewWebSocket();

    ServerContext &m_context;
    const WorkerState &m_state;
    QWebSocketServer *m_webSocketServer;
    // Handed to QWebSocketServer, each holding a max_connections slot, with when it was handed.
    QHash<ClientSocket *, qint64> m_upgrading;
    QHash<ClientSocket *, QByteArray> m_early; // sent after the head, before the 101
    ClientSocket *m_handshakeWriter = nullptr; // the socket whose 101 response was just written
};

} // namespace Mtw::Internal
