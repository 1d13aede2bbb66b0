// SPDX-License-Identifier: MIT
// connect, ping and disconnect, and the ack every connection gets first.
#include "transport/connection.h"
#include "transport/handlers/handlers.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <QWebSocket>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

Message connectAck(const Connection &connection)
{
    Message ack =
        Message::create(MessageType::Ack,
                        Payload::fromJson(QJsonObject{{u"conn_id"_s, connection.connId}}));
    ack.metadata.insert(u"conn_id"_s, connection.connId);
    return ack;
}

} // namespace

// Right after the upgrade: the ack with conn_id, then a token from the upgrade request (?token=
// or Authorization: Bearer) is checked at once.
void greet(ProtocolContext &parts, Connection &connection)
{
    parts.out.send(connection, connectAck(connection));
    if (parts.modules.hasAuthenticators()) {
        if (const QString token = parts.modules.upgradeToken(connection); !token.isEmpty()) {
            if (const auto verified = parts.modules.authenticate(connection, token); !verified) {
                parts.modules.refuseAuthentication(connection, verified.error(), QString());
                return;
            }
        }
    }
    connection.announced = true; // listeners see a disconnect only for a connect they saw
    if (parts.server.events->isListened(&ServerEvents::clientConnected))
        Q_EMIT parts.server.events->clientConnected(parts.modules.clientInfo(connection));
    if (parts.state.shuttingDown) {
        parts.out.close(connection,
                        QWebSocketProtocol::CloseCodeGoingAway,
                        u"server shutdown"_s,
                        DisconnectReason::serverShutdown());
    }
}

void handleConnect(ProtocolContext &parts, Connection &connection, const Message &message)
{
    if (parts.modules.hasAuthenticators()) {
        QString token = message.metadata.value(u"token"_s).toString();
        if (token.isEmpty())
            token = message.metadata.value(u"auth_token"_s).toString();
        if (!token.isEmpty()) {
            if (const auto verified = parts.modules.authenticate(connection, token); !verified) {
                parts.modules.refuseAuthentication(connection, verified.error(), message.id);
                return;
            }
        }
    }
    Message ack = connectAck(connection);
    ack.refId = message.id;
    if (connection.authenticated)
        ack.metadata.insert(u"user_id"_s, connection.userId);
    parts.out.send(connection, ack);
}

void handlePing(ProtocolContext &parts, Connection &connection, const Message &message)
{
    Message pong = Message::create(MessageType::Pong);
    pong.refId = message.id;
    parts.out.send(connection, pong);
}

void handleDisconnect(ProtocolContext &parts, Connection &connection, const Message &)
{
    parts.out.close(connection,
                    QWebSocketProtocol::CloseCodeNormal,
                    u"goodbye"_s,
                    DisconnectReason::normal());
}

} // namespace Mtw::Internal
