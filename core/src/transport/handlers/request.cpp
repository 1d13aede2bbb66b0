// SPDX-License-Identifier: MIT
// request: no metadata.action echoes the payload; the built-in actions (history, presence,
// channels) are a table here; any other action goes to the module that registered it.
#include "channels/channeljson.h"
#include "transport/cluster.h"
#include "transport/connection.h"
#include "transport/handlers/handlers.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"

#include <QJsonArray>

#include <cmath>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// `channels` pages: at most this many names per reply unless metadata.limit asks for fewer.
constexpr int ChannelsPageDefault = 100;
constexpr int ChannelsPageMax = 1000;

QJsonObject historyData(const Message &message,
                        const QList<QByteArray> &publications,
                        const StreamPosition &position,
                        const HistoryQuery &query,
                        bool recovered)
{
    QJsonObject data{{u"channel"_s, message.channel},
                     {u"messages"_s, historyJson(publications)},
                     {u"offset"_s, qint64(position.offset)},
                     {u"epoch"_s, position.epoch}};
    if (query.since && !query.reverse) // paging backward cannot miss what comes after
        data.insert(u"recovered"_s, recovered);
    return data;
}

// In a cluster the broker keeps the history every node shares.
void historyFromCluster(ProtocolContext &parts,
                        Connection &connection,
                        const Message &message,
                        const HistoryQuery &query,
                        IBroker &broker)
{
    const auto settings = parts.server.registry.checkChannel(message.channel, 0, true);
    if (!settings) {
        parts.out.send(connection, errorReplyTo(message, settings.error()));
        return;
    }
    BrokerHistoryQuery read;
    read.channel = message.channel;
    read.limit = query.limit;
    read.reverse = query.reverse;
    read.hasSince = query.since.has_value();
    if (query.since)
        read.since = BrokerPosition{query.since->offset, query.since->epoch};
    read.historyTtlMs = qint64(settings->settings.historyTtl) * 1000;
    const bool configured = settings->configured || settings->exists;
    broker.history(
        read,
        onWorker<BrokerHistory>(
            parts,
            connection,
            false,
            [message, query, configured](ProtocolContext &context,
                                         Connection *current,
                                         Result<BrokerHistory> page) {
                if (!current)
                    return;
                if (page && page->position.epoch.isEmpty() && !configured)
                    page = fail(404, u"channel '%1' not found"_s.arg(message.channel));
                if (!page) {
                    context.out.send(*current, errorReplyTo(message, page.error()));
                    return;
                }
                const StreamPosition position{page->position.offset, page->position.epoch};
                context.out.send(*current,
                                 replyTo(message,
                                         historyData(message,
                                                     page->publications,
                                                     position,
                                                     query,
                                                     page->recovered)));
            }));
}

// The newest metadata.limit publications, or with metadata.since the ones after that position
// (oldest first, so that a client pages forward); metadata.reverse: newest first.
void historyAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const std::optional<int> limit = metadataCount(message, u"limit"_s);
    const auto since = metadataPosition(message, u"since"_s);
    const QJsonValue reverse = message.metadata.value(u"reverse"_s);
    std::optional<Message> refusal;
    if (limit == -1)
        refusal =
            Message::error(400, u"metadata.limit: expected a non-negative integer"_s, message.id);
    else if (!since)
        refusal = errorReplyTo(message, since.error());
    else if (!reverse.isUndefined() && !reverse.isBool())
        refusal = Message::error(400, u"metadata.reverse: expected true or false"_s, message.id);
    if (refusal) {
        parts.out.send(connection, *refusal);
        return;
    }
    const HistoryQuery query{limit.value_or(0), reverse.toBool(false), *since};
    if (IBroker *broker = connectedBroker(parts.server, message.channel)) {
        historyFromCluster(parts, connection, message, query, *broker);
        return;
    }
    const auto page = parts.server.registry.history(message.channel, query);
    if (!page) {
        parts.out.send(connection, errorReplyTo(message, page.error()));
        return;
    }
    parts.out.send(
        connection,
        replyTo(message,
                historyData(message, page->publications, page->position, query, page->recovered)));
}

void presenceAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    if (IBroker *broker = connectedBroker(parts.server, message.channel)) {
        broker->presence(
            message.channel,
            onWorker<QList<BrokerMember>>(
                parts,
                connection,
                false,
                [message](ProtocolContext &context,
                          Connection *current,
                          Result<QList<BrokerMember>> members) {
                    if (!current)
                        return;
                    if (!members) {
                        context.out.send(*current, errorReplyTo(message, members.error()));
                        return;
                    }
                    QJsonArray list;
                    for (const BrokerMember &member : std::as_const(*members)) {
                        QJsonObject entry{{u"conn_id"_s, member.connId}};
                        if (!member.userId.isEmpty())
                            entry.insert(u"user_id"_s, member.userId);
                        list.append(entry);
                    }
                    context.out.send(*current,
                                     replyTo(message,
                                             QJsonObject{{u"channel"_s, message.channel},
                                                         {u"members"_s, list}}));
                }));
        return;
    }
    const auto members = parts.server.registry.presence(message.channel);
    if (!members) {
        parts.out.send(connection, errorReplyTo(message, members.error()));
        return;
    }
    parts.out.send(connection,
                   replyTo(message,
                           QJsonObject{{u"channel"_s, message.channel},
                                       {u"members"_s, presenceJson(*members)}}));
}

// In a cluster: the channels with members on any node. One more than asked says whether a
// next page follows.
void channelsFromCluster(ProtocolContext &parts,
                         Connection &connection,
                         const Message &message,
                         const QString &after,
                         int pageSize,
                         IBroker &broker)
{
    broker.channels(after,
                    pageSize + 1,
                    onWorker<QList<BrokerChannel>>(
                        parts,
                        connection,
                        false,
                        [message, pageSize](ProtocolContext &context,
                                            Connection *current,
                                            Result<QList<BrokerChannel>> channels) {
                            if (!current)
                                return;
                            if (!channels) {
                                context.out.send(*current, errorReplyTo(message, channels.error()));
                                return;
                            }
                            QJsonArray list;
                            QString last;
                            bool more = false;
                            for (const BrokerChannel &channel : std::as_const(*channels)) {
                                if (list.size() == pageSize) {
                                    more = true;
                                    break;
                                }
                                const auto settings = context.server.registry.resolve(channel.name);
                                last = channel.name;
                                if (settings.auth && !current->authenticated)
                                    continue;
                                list.append(QJsonObject{{u"name"_s, channel.name},
                                                        {u"members"_s, channel.members}});
                            }
                            QJsonObject data{{u"channels"_s, list}};
                            if (more)
                                data.insert(u"next"_s, last);
                            context.out.send(*current, replyTo(message, data));
                        }));
}

// A page at a time: names after metadata.after (sorted), at most metadata.limit of them; `next`
// is there when more follow. Auth channels are listed only to authenticated connections.
void channelsAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const std::optional<int> limit = metadataCount(message, u"limit"_s);
    if (limit == -1 || limit == 0) {
        parts.out.send(
            connection,
            Message::error(400, u"metadata.limit: expected a positive integer"_s, message.id));
        return;
    }
    const int pageSize = std::min(limit.value_or(ChannelsPageDefault), ChannelsPageMax);
    const QString after = message.metadata.value(u"after"_s).toString();
    if (IBroker *broker = connectedBroker(parts.server)) {
        channelsFromCluster(parts, connection, message, after, pageSize, *broker);
        return;
    }
    const ChannelPage page =
        parts.server.registry.channelPage(after, pageSize, connection.authenticated);
    QJsonArray list;
    for (const ChannelInfo &info : page.channels)
        list.append(QJsonObject{{u"name"_s, info.name}, {u"members"_s, info.members}});
    QJsonObject data{{u"channels"_s, list}};
    if (!page.next.isEmpty())
        data.insert(u"next"_s, page.next);
    parts.out.send(connection, replyTo(message, data));
}

struct RequestAction
{
    QLatin1String name;
    bool needsChannel; // and the connection may read it (auth channels need authentication)
    MessageHandler run;
};

// A new built-in action is one more row.
constexpr RequestAction BuiltinActions[] = {
    {"history"_L1, true, historyAction},
    {"presence"_L1, true, presenceAction},
    {"channels"_L1, false, channelsAction},
    {"kv.get"_L1, false, kvGetAction},
    {"kv.put"_L1, false, kvPutAction},
    {"kv.delete"_L1, false, kvDeleteAction},
    {"kv.list"_L1, false, kvListAction},
    {"kv.batch"_L1, false, kvBatchAction},
};

// The error for a channel action the connection may not use, if any.
std::optional<Message> refuseChannelAction(ProtocolContext &parts,
                                           const Connection &connection,
                                           const QString &action,
                                           const Message &message)
{
    if (message.channel.isEmpty())
        return Message::error(400, u"action '%1' needs a channel"_s.arg(action), message.id);
    const auto settings = parts.server.registry.settings(message.channel);
    if (settings && settings->auth && !connection.authenticated)
        return Message::error(401,
                              u"channel '%1' requires authentication"_s.arg(message.channel),
                              message.id);
    return std::nullopt;
}

} // namespace

std::optional<int> metadataCount(const Message &message, const QString &key)
{
    const auto it = message.metadata.constFind(key);
    if (it == message.metadata.constEnd())
        return std::nullopt;
    const double value = it->toDouble(-1);
    if (!it->isDouble() || value < 0 || value != std::floor(value) || value > 1e9)
        return -1;
    return int(value);
}

Result<std::optional<RecoverFrom>> metadataPosition(const Message &message, const QString &key)
{
    const auto it = message.metadata.constFind(key);
    if (it == message.metadata.constEnd())
        return std::optional<RecoverFrom>();
    const QJsonObject position = it->toObject();
    const QJsonValue offset = position.value(u"offset"_s);
    const QJsonValue epoch = position.value(u"epoch"_s);
    const double number = offset.toDouble(-1);
    // Offsets are integers below 2^53, the largest a JSON number carries exactly.
    if (!it->isObject() || !offset.isDouble() || number < 0 || number != std::floor(number)
        || number > 9007199254740991.0 || !epoch.isString()) {
        return fail(400,
                    u"metadata.%1: expected {\"offset\": <non-negative integer>, "
                    "\"epoch\": \"<string>\"}"_s.arg(key));
    }
    return std::optional<RecoverFrom>(RecoverFrom{quint64(number), epoch.toString()});
}

bool runBuiltinAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const QString action = message.metadata.value(u"action"_s).toString();
    for (const RequestAction &builtin : BuiltinActions) {
        if (action != builtin.name)
            continue;
        if (builtin.needsChannel) {
            if (const auto refusal = refuseChannelAction(parts, connection, action, message)) {
                parts.out.send(connection, *refusal);
                return true;
            }
        }
        builtin.run(parts, connection, message);
        return true;
    }
    return false;
}

void handleRequest(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const auto actionValue = message.metadata.constFind(u"action"_s);
    if (actionValue == message.metadata.constEnd()) {
        // No action: echo the payload back, whatever its kind.
        Message echo = Message::create(MessageType::Response, message.payload);
        echo.refId = message.id;
        parts.out.send(connection, echo);
        return;
    }
    if (runBuiltinAction(parts, connection, message))
        return;
    const QString action = actionValue->toString();
    if (!parts.modules.handleRequest(connection, action, message))
        parts.out.send(connection,
                       Message::error(404, u"unknown action '%1'"_s.arg(action), message.id));
}

} // namespace Mtw::Internal
