// SPDX-License-Identifier: MIT
// connect, ping and disconnect, and the ack every connection gets first.
#include "protocol/jsonwriter_p.h"
#include "protocol/ulid_p.h"
#include "transport/connection.h"
#include "transport/handlers/handlers.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <QDateTime>
#include <QWebSocketProtocol>

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

// The client is in: ServerEvents listeners hear of it (and of its disconnect, later).
void announce(ProtocolContext &parts, Connection &connection)
{
    connection.announced = true;
    if (parts.server.events->isListened(&ServerEvents::clientConnected))
        Q_EMIT parts.server.events->clientConnected(parts.modules.clientInfo(connection));
    if (parts.state.shuttingDown) {
        parts.out.close(connection,
                        QWebSocketProtocol::CloseCodeGoingAway,
                        u"server shutdown"_s,
                        DisconnectReason::serverShutdown());
    }
}

} // namespace

QByteArray encodeGreeting(const QString &id, qint64 timestamp, const QString &connId)
{
    QByteArray out;
    out.reserve(160 + 2 * connId.size());
    out.append(R"({"id":)");
    appendJsonString(out, id);
    out.append(R"(,"type":"ack","payload":{"kind":"Json","data":{"conn_id":)");
    appendJsonString(out, connId);
    out.append(R"(}},"metadata":{"conn_id":)");
    appendJsonString(out, connId);
    out.append(R"(},"timestamp":)");
    out.append(QByteArray::number(timestamp));
    out.append('}');
    return out;
}

// Right after the upgrade: the ack with conn_id, then a token from the upgrade request (?token=
// or Authorization: Bearer) is checked at once; what the client sends meanwhile waits.
void greet(ProtocolContext &parts, Connection &connection)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    parts.out.sendEncoded(connection,
                          encodeGreeting(generateUlid(now), now, connection.connId),
                          MessageType::Ack);
    const QString token =
        parts.modules.hasAuthenticators() ? parts.modules.upgradeToken(connection) : QString();
    if (token.isEmpty()) {
        announce(parts, connection);
        return;
    }
    parts.modules.authenticate(
        connection,
        token,
        [&parts](Connection &current, const Result<void> &verified) {
            if (!verified) {
                parts.modules.refuseAuthentication(current, verified.error(), QString());
                return;
            }
            announce(parts, current);
        });
}

void handleConnect(ProtocolContext &parts, Connection &connection, const Message &message)
{
    QString token = message.metadata.value(u"token"_s).toString();
    if (token.isEmpty())
        token = message.metadata.value(u"auth_token"_s).toString();
    const auto acknowledge = [&parts, refId = message.id](Connection &current) {
        Message ack = connectAck(current);
        ack.refId = refId;
        if (current.authenticated)
            ack.metadata.insert(u"user_id"_s, current.userId);
        parts.out.send(current, ack);
    };
    if (token.isEmpty() || !parts.modules.hasAuthenticators()) {
        acknowledge(connection);
        return;
    }
    parts.modules.authenticate(
        connection,
        token,
        [&parts, acknowledge, refId = message.id](Connection &current,
                                                  const Result<void> &verified) {
            if (!verified) {
                parts.modules.refuseAuthentication(current, verified.error(), refId);
                return;
            }
            acknowledge(current);
        });
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
