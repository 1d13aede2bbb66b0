// SPDX-License-Identifier: MIT
// publish: the envelope is stamped (who sent it; its offset and epoch), encoded once, recorded
// by the registry and fanned out; the sender never receives its own publish and gets
// {published, recipients, offset, epoch}. In a cluster the broker gives the offset and delivers
// to every node (docs/cluster.md).
#include "transport/cluster.h"
#include "transport/connection.h"
#include "transport/fanout.h"
#include "transport/handlers/handlers.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

void announcePublished(ProtocolContext &parts,
                       Connection &connection,
                       Message message,
                       const StreamPosition &position,
                       int recipients)
{
    if (parts.server.events->isListened(&ServerEvents::messagePublished)) {
        message.metadata.insert(u"offset"_s, qint64(position.offset));
        message.metadata.insert(u"epoch"_s, position.epoch);
        Q_EMIT parts.server.events->messagePublished(parts.modules.clientInfo(connection),
                                                     message,
                                                     recipients);
    }
    parts.out.send(connection,
                   Message::response(message.id,
                                     QJsonObject{{u"published"_s, message.channel},
                                                 {u"recipients"_s, recipients},
                                                 {u"offset"_s, qint64(position.offset)},
                                                 {u"epoch"_s, position.epoch}}));
    startChannelAgents(parts, connection, message); // after the publisher heard back
}

BrokerPublish
clusterPublish(const Message &message, const Connection &sender, const PublishCheck &check)
{
    BrokerPublish publish;
    publish.channel = message.channel;
    splitForCluster(message, publish);
    publish.newEpoch = newStreamEpoch();
    publish.senderKey = senderKey(sender);
    publish.senderIsMember = check.senderIsMember;
    publish.mustExist = !check.configured;
    publish.historySize = check.settings.history;
    publish.historyTtlMs = qint64(check.settings.historyTtl) * 1000;
    return publish;
}

} // namespace

std::optional<PublishCheck>
checkChannelFor(ProtocolContext &parts, Connection &connection, const Message &message)
{
    auto check = parts.server.registry.checkChannel(message.channel,
                                                    connection.key,
                                                    connection.authenticated);
    if (!check) {
        parts.out.send(connection, errorReplyTo(message, check.error()));
        return std::nullopt;
    }
    return std::move(*check);
}

namespace {

// The broker numbers it and delivers it to every node, this one included; the publisher hears
// back once it has (later publishes of the same connection keep their order on the way).
void publishToCluster(ProtocolContext &parts,
                      Connection &connection,
                      const Message &message,
                      IBroker &broker)
{
    const auto check = checkChannelFor(parts, connection, message);
    if (!check)
        return;
    broker.publish(
        clusterPublish(message, connection, *check),
        onWorker<BrokerPublished>(
            parts,
            connection,
            false,
            [message](ProtocolContext &context, Connection *current, Result<BrokerPublished> done) {
                if (!current)
                    return;
                if (!done) {
                    context.out.send(*current, errorReplyTo(message, done.error()));
                    return;
                }
                announcePublished(context,
                                  *current,
                                  message,
                                  StreamPosition{done->position.offset, done->position.epoch},
                                  done->recipients);
            }));
}

// The broker is unreachable: this node's members get it now, without a position (the cluster
// numbers it once the broker is back, and the other nodes get it then, as far as the broker's
// bounded queue allows).
void publishDetached(ProtocolContext &parts,
                     Connection &connection,
                     const Message &message,
                     IBroker &broker)
{
    const auto check = checkChannelFor(parts, connection, message);
    if (!check)
        return;
    if (!check->exists && !check->configured) {
        parts.out.send(
            connection,
            errorReplyTo(message, Error{404, u"channel '%1' not found"_s.arg(message.channel)}));
        return;
    }
    Message local = message;
    local.metadata.remove(u"offset"_s);
    local.metadata.remove(u"epoch"_s);
    parts.fanout.fanOut(Delivery{message.channel,
                                 encodeMessage(local),
                                 senderKey(connection),
                                 check->settings.binary},
                        check->workerMask);
    BrokerPublish later = clusterPublish(message, connection, *check);
    later.deliveredHere = true;
    broker.publish(later, [](const Result<BrokerPublished> &) {
        // Counted and logged by the broker when it has to drop it.
    });
    parts.out.send(connection,
                   Message::response(message.id,
                                     QJsonObject{{u"published"_s, message.channel},
                                                 {u"recipients"_s, check->localRecipients},
                                                 {u"queued"_s, true}}));
}

} // namespace

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

    if (IBroker *broker = parts.server.broker) {
        if (broker->isConnected())
            publishToCluster(parts, connection, message, *broker);
        else
            publishDetached(parts, connection, message, *broker);
        return;
    }
    const auto outcome = parts.fanout.publish(message, connection);
    if (!outcome) {
        parts.out.send(connection, errorReplyTo(message, outcome.error()));
        return;
    }
    announcePublished(parts, connection, message, outcome->position, outcome->recipients);
}

} // namespace Mtw::Internal
