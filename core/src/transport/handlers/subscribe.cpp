// SPDX-License-Identifier: MIT
// subscribe and unsubscribe: the registry decides, the worker's Fanout keeps its local members,
// presence join/leave notices go to the channel's other members.
#include "channels/channeljson.h"
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

void announcePresence(ProtocolContext &parts,
                      const Connection &connection,
                      const QString &channel,
                      QLatin1String event,
                      quint64 workerMask,
                      bool binary)
{
    IBroker *broker = connectedBroker(parts.server, channel);
    if (workerMask == 0 && !broker)
        return;
    Message notice = Message::create(MessageType::Ack);
    notice.channel = channel;
    notice.metadata.insert(u"event"_s, event);
    notice.metadata.insert(u"conn_id"_s, connection.connId);
    if (!connection.userId.isEmpty())
        notice.metadata.insert(u"user_id"_s, connection.userId);
    if (broker) {
        // To the members of every node, this one's through the broker too (in order with
        // the channel's publications).
        broker->notice(channel, encodeMessage(notice), connection.key);
        return;
    }
    parts.fanout.fanOut(Delivery{channel, encodeMessage(notice), connection.key, binary},
                        workerMask);
}

// The checks before the registry is asked: a channel, a valid history count, room for one
// more subscription. Returns the error to send, if any.
std::optional<Message>
refuseSubscribe(ProtocolContext &parts, const Connection &connection, const Message &message)
{
    if (message.channel.isEmpty())
        return Message::error(400, u"subscribe needs a channel"_s, message.id);
    if (metadataCount(message, u"history"_s) == -1)
        return Message::error(400,
                              u"metadata.history: expected a non-negative integer"_s,
                              message.id);
    if (const auto recover = metadataPosition(message, u"recover"_s); !recover)
        return errorReplyTo(message, recover.error());
    const int perConnection = parts.state.config().server.maxChannelsPerConnection;
    if (connection.channels.size() >= perConnection
        && !connection.channels.contains(message.channel)) {
        return Message::error(
            429,
            u"too many subscriptions: this connection may be subscribed to at most %1 channels "
            "(server.max_channels_per_connection)"_s.arg(perConnection),
            message.id);
    }
    return std::nullopt;
}

// After the checks (and in a cluster, after the broker counted the member: `joined`).
void finishSubscribe(ProtocolContext &parts,
                     Connection &connection,
                     const Message &message,
                     const BrokerJoined *joined)
{
    const std::optional<int> history = metadataCount(message, u"history"_s);
    const std::optional<RecoverFrom> recover = *metadataPosition(message, u"recover"_s);
    const Member member{connection.key, connection.connId, connection.userId, parts.state.index};
    const auto outcome = parts.server.registry.subscribe(message.channel,
                                                         member,
                                                         connection.authenticated,
                                                         history.value_or(0),
                                                         recover,
                                                         joined);
    if (!outcome) {
        if (joined)
            clusterBroker(parts.server, message.channel)->leave(message.channel, connection.connId);
        parts.out.send(connection, errorReplyTo(message, outcome.error()));
        return;
    }
    QJsonObject data{{u"subscribed"_s, message.channel},
                     {u"members"_s, outcome->members},
                     {u"offset"_s, qint64(outcome->position.offset)},
                     {u"epoch"_s, outcome->position.epoch}};
    if (outcome->recovery) {
        data.insert(u"publications"_s, historyJson(outcome->recovery->publications));
        data.insert(u"recovered"_s, outcome->recovery->recovered);
    } else if (history) {
        data.insert(u"history"_s, historyJson(outcome->history));
    }
    const QByteArray reply = encodeMessage(replyTo(message, data));
    if (!parts.out.replyFits(reply)) {
        // The client hears only the error, so it is not subscribed either.
        if (!outcome->alreadyMember) {
            parts.server.registry.unsubscribe(message.channel, connection.key);
            if (IBroker *broker = clusterBroker(parts.server, message.channel))
                broker->leave(message.channel, connection.connId);
        }
        parts.out.send(connection, parts.out.replyTooLarge(reply.size(), message.id));
        return;
    }
    if (!outcome->alreadyMember) {
        parts.fanout.join(message.channel, &connection, outcome->position.offset);
        connection.channels.append(message.channel);
    }
    parts.out.sendEncoded(connection, reply);
    if (outcome->alreadyMember)
        return;
    if (outcome->presence)
        announcePresence(parts,
                         connection,
                         message.channel,
                         "join"_L1,
                         outcome->workerMask,
                         outcome->settings.binary);
    if (parts.server.events->isListened(&ServerEvents::subscribed))
        Q_EMIT parts.server.events->subscribed(parts.modules.clientInfo(connection),
                                               message.channel);
}

// The broker counts the member over the cluster (max_members), keeps its presence and reads
// what it asked for; this node delivers the channel from then on. The connection's next
// messages wait meanwhile. Without the broker (unreachable), this node's own view decides and
// the broker registers the member when it is back.
void subscribeInCluster(ProtocolContext &parts,
                        Connection &connection,
                        const Message &message,
                        IBroker &broker)
{
    const auto check = checkChannelFor(parts, connection, message);
    if (!check)
        return;
    BrokerJoin join;
    join.channel = message.channel;
    join.connId = connection.connId;
    join.userId = connection.userId;
    join.maxMembers = check->settings.maxMembers;
    join.presence = check->settings.presence;
    join.newEpoch = newStreamEpoch();
    join.historyTtlMs = qint64(check->settings.historyTtl) * 1000;
    const std::optional<int> history = metadataCount(message, u"history"_s);
    if (const std::optional<RecoverFrom> recover = *metadataPosition(message, u"recover"_s)) {
        join.read = BrokerJoin::Read::After;
        join.after = BrokerPosition{recover->offset, recover->epoch};
    } else if (history.value_or(0) > 0) {
        join.read = BrokerJoin::Read::Newest;
        join.count = *history;
    }
    broker.join(join,
                onWorker<BrokerJoined>(
                    parts,
                    connection,
                    true,
                    [message, connId = connection.connId](ProtocolContext &context,
                                                          Connection *current,
                                                          Result<BrokerJoined> joined) {
                        if (!current || current->disconnected) {
                            context.server.broker->leave(message.channel, connId);
                            return;
                        }
                        if (joined) {
                            finishSubscribe(context, *current, message, &*joined);
                        } else if (joined.error().code == 503) {
                            finishSubscribe(context, *current, message, nullptr);
                        } else {
                            context.out.send(*current, errorReplyTo(message, joined.error()));
                        }
                    }));
}

} // namespace

void handleSubscribe(ProtocolContext &parts, Connection &connection, const Message &message)
{
    if (refuseReservedChannel(parts, connection, message))
        return;
    if (const auto refusal = refuseSubscribe(parts, connection, message)) {
        parts.out.send(connection, *refusal);
        return;
    }
    IBroker *broker = clusterBroker(parts.server, message.channel);
    if (broker && !connection.channels.contains(message.channel)) {
        subscribeInCluster(parts, connection, message, *broker);
        return;
    }
    finishSubscribe(parts, connection, message, nullptr);
}

void handleUnsubscribe(ProtocolContext &parts, Connection &connection, const Message &message)
{
    if (message.channel.isEmpty()) {
        parts.out.send(connection,
                       Message::error(400, u"unsubscribe needs a channel"_s, message.id));
        return;
    }
    leaveChannel(parts, connection, message.channel);
    parts.out.send(connection, replyTo(message, QJsonObject{{u"unsubscribed"_s, message.channel}}));
}

void leaveChannel(ProtocolContext &parts, Connection &connection, const QString &channel)
{
    if (!connection.channels.removeOne(channel))
        return;
    parts.fanout.leave(channel, &connection);
    const UnsubscribeOutcome outcome = parts.server.registry.unsubscribe(channel, connection.key);
    if (IBroker *broker = clusterBroker(parts.server, channel))
        broker->leave(channel, connection.connId);
    if (!outcome.wasMember)
        return;
    if (outcome.presence) {
        const bool binary =
            parts.server.registry.settings(channel).value_or(ChannelSettings{}).binary;
        announcePresence(parts, connection, channel, "leave"_L1, outcome.workerMask, binary);
    }
    if (parts.server.events->isListened(&ServerEvents::unsubscribed))
        Q_EMIT parts.server.events->unsubscribed(parts.modules.clientInfo(connection), channel);
}

} // namespace Mtw::Internal
