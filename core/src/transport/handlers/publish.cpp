// SPDX-License-Identifier: MIT
// publish: the envelope is stamped (who sent it; its offset and epoch), encoded once, recorded
// by the registry and fanned out; the sender never receives its own publish and gets
// {published, recipients, offset, epoch}.
#include "transport/connection.h"
#include "transport/fanout.h"
#include "transport/handlers/handlers.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

void handlePublish(ProtocolContext &parts, Connection &connection, const Message &original)
{
    if (refuseReservedChannel(parts, connection, original))
        return;
    if (original.channel.isEmpty()) {
        parts.out.send(connection, Message::error(400, u"publish needs a channel"_s, original.id));
        return;
    }
    if (parts.state.refusingPublishes) {
        // Shutting down: what is acknowledged must reach every member, so nothing more is.
        parts.out.send(connection, Message::error(503, u"server is shutting down"_s, original.id));
        return;
    }
    Message message = original;
    // The server, not the client, says who sent it.
    message.metadata.insert(u"from"_s, connection.connId);
    if (connection.authenticated && !connection.userId.isEmpty())
        message.metadata.insert(u"user_id"_s, connection.userId);
    else
        message.metadata.remove(u"user_id"_s);

    const auto outcome = parts.fanout.publish(message, connection);
    if (!outcome) {
        parts.out.send(connection,
                       Message::error(outcome.error().code, outcome.error().message, message.id));
        return;
    }
    if (parts.server.events->isListened(&ServerEvents::messagePublished)) {
        message.metadata.insert(u"offset"_s, qint64(outcome->position.offset));
        message.metadata.insert(u"epoch"_s, outcome->position.epoch);
        Q_EMIT parts.server.events->messagePublished(parts.modules.clientInfo(connection),
                                                     message,
                                                     outcome->recipients);
    }
    parts.out.send(connection,
                   Message::response(message.id,
                                     QJsonObject{{u"published"_s, message.channel},
                                                 {u"recipients"_s, outcome->recipients},
                                                 {u"offset"_s, qint64(outcome->position.offset)},
                                                 {u"epoch"_s, outcome->position.epoch}}));
}

} // namespace Mtw::Internal
