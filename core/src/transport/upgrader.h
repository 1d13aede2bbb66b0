// SPDX-License-Identifier: MIT
#pragma once

#include <QObject>

namespace Mtw::Internal {

class ClientSocket;
class HttpExchange;
struct HttpRequestHead;
class ServerContext;
struct WorkerState;

// RFC 6455 sections 4.2.1 and 4.4: an upgrade request the server must refuse (400 for a
// missing Host or a malformed key, 426 for another version). True when the exchange got it.
bool refuseBadUpgrade(HttpExchange &exchange);

// The 101 answer to a valid upgrade request: Sec-WebSocket-Accept from its key, and the mtw.v1
// subprotocol when the client offers it (none otherwise, RFC 6455 section 4.2.2).
QByteArray handshakeResponse(const HttpRequestHead &head);

// The route of the client WebSocket path: checks the upgrade request and its Origin, reserves
// a server.max_connections slot (503 when none is left) and answers the handshake itself, at
// once: the head leaves the socket, the 101 is queued on it, and the socket is handed on
// (upgraded()) with what the client sent after the head still unread. No QWebSocket: the
// connection reads its frames with its own WebSocketReader (docs/architecture.md). Worker
// thread only.
class Upgrader : public QObject
{
    Q_OBJECT

public:
    Upgrader(ServerContext &context, const WorkerState &state, QObject *parent);

    void handle(HttpExchange &exchange);

Q_SIGNALS:
    // `socket` is a WebSocket now (its 101 queued, not yet flushed) and holds a slot;
    // `rawHead` is its request head as sent, for what the authenticators read of it.
    void upgraded(Mtw::Internal::ClientSocket *socket,
                  const Mtw::Internal::HttpRequestHead &head,
                  const QByteArray &rawHead);

private:
    bool originAllowed(const HttpExchange &exchange) const;

    ServerContext &m_context;
    const WorkerState &m_state;
};

} // namespace Mtw::Internal
