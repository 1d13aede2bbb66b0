// SPDX-License-Identifier: MIT
// The mtw protocol as a worker speaks it with one connection (PROTOCOL.md §3).
#include "channels/channeljson.h"
#include "transport/clientsocket.h"
#include "transport/connection.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/worker.h"

#include <mtw/frame.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QWebSocket>

#include <cmath>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// Replies carry ref_id and never `channel` (PROTOCOL.md section 7): the TypeScript client hands
// any message with a channel to that channel's handlers, so a reply to its fire-and-forget
// publish would land in the publisher's own handler.
Message replyTo(const Message &request, const QJsonObject &data)
{
    return Message::response(request.id, data);
}

// `channels` pages: at most this many names per reply unless metadata.limit asks for fewer.
constexpr int ChannelsPageDefault = 100;
constexpr int ChannelsPageMax = 1000;

// metadata.<key> as a non-negative integer; nullopt when absent, -1 when present but invalid.
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

} // namespace

void Worker::onTextMessage(Connection &connection, const QString &text)
{
    connection.lastSeen = now();
    ++connection.messagesIn;
    const QByteArray json = text.toUtf8();
    m_context->counters.messagesIn.fetch_add(1, std::memory_order_relaxed);
    m_context->counters.bytesIn.fetch_add(json.size(), std::memory_order_relaxed);
    auto decoded = decodeMessage(json);
    if (!admitMessage(connection, decoded ? decoded->id : decoded.error().id))
        return;
    if (!decoded) {
        protocolError(connection, decoded.error().id, decoded.error().message);
        return;
    }
    dispatch(connection, std::move(*decoded));
}

// The inbound token bucket (transport.websocket.rate_limit / rate_burst), in thousandths of a
// message so that integer arithmetic refills it smoothly. Over the rate: error 429; a client
// that sends a whole burst more without waiting is closed with 1008.
bool Worker::admitMessage(Connection &connection, const QString &refId)
{
    const WebSocketConfig &ws = m_context->config.transport.websocket;
    if (ws.rateLimit <= 0)
        return true;
    const qint64 t = now();
    const qint64 capacity = qint64(ws.rateBurst) * 1000;
    // A day of refill fills any bucket and keeps the product far from overflowing.
    const qint64 elapsed = std::min<qint64>(t - connection.rateRefilledAt, 86'400'000);
    connection.rateTokens = std::min(capacity, connection.rateTokens + elapsed * ws.rateLimit);
    connection.rateRefilledAt = t;
    if (connection.rateTokens >= 1000) {
        connection.rateTokens -= 1000;
        connection.rateRefusals = 0;
        return true;
    }
    m_context->counters.rateLimited.fetch_add(1, std::memory_order_relaxed);
    if (++connection.rateRefusals > ws.rateBurst) {
        qCInfo(lcProtocol).noquote()
            << "connection" << connection.connId << "closed: it kept sending over the rate limit of"
            << ws.rateLimit << "messages/s";
        closeConnection(connection,
                        QWebSocketProtocol::CloseCodePolicyViolated,
                        u"message rate limit exceeded"_s,
                        DisconnectReason::error(u"message rate limit exceeded"_s));
        return false;
    }
    send(connection,
         Message::error(
             429,
             u"rate limit exceeded: at most %1 messages per second (burst %2)"_s.arg(ws.rateLimit)
                 .arg(ws.rateBurst),
             refId));
    return false;
}

void Worker::onBinaryMessage(Connection &connection, const QByteArray &data)
{
    connection.lastSeen = now();
    ++connection.messagesIn;
    m_context->counters.messagesIn.fetch_add(1, std::memory_order_relaxed);
    m_context->counters.bytesIn.fetch_add(data.size(), std::memory_order_relaxed);
    const auto frame = decodeFrame(data, m_context->config.transport.websocket.maxMessageSize);
    if (!frame) {
        if (admitMessage(connection, QString()))
            protocolError(connection, QString(), u"invalid MTW frame: "_s + frame.error());
        return;
    }
    switch (frame->type) {
    case FrameType::Json: {
        connection.binaryMode = true;
        auto decoded = decodeMessage(frame->payload);
        if (!admitMessage(connection, decoded ? decoded->id : decoded.error().id))
            return;
        if (!decoded) {
            protocolError(connection, decoded.error().id, decoded.error().message);
            return;
        }
        dispatch(connection, std::move(*decoded));
        return;
    }
    case FrameType::Ping: {
        if (!admitMessage(connection, QString()))
            return;
        // A binary WebSocket message holding an MTW pong, built once.
        static const QByteArray pong = [] {
            const QByteArray payload = encodeFrame(FrameType::Pong);
            QByteArray out;
            out.append(char(0x82));
            out.append(char(payload.size()));
            return out + payload;
        }();
        writeFrame(connection, pong);
        return;
    }
    case FrameType::Pong:
        return;
    case FrameType::Raw:
        if (admitMessage(connection, QString()))
            handleRawFrame(connection, frame->payload);
        return;
    }
}

void Worker::protocolError(Connection &connection, const QString &refId, const QString &text)
{
    m_context->counters.protocolErrors.fetch_add(1, std::memory_order_relaxed);
    qCDebug(lcProtocol).noquote() << "connection" << connection.connId << "sent bad input:" << text;
    send(connection, Message::error(400, text, refId));
    if (m_context->events->isListened(&ServerEvents::error))
        Q_EMIT m_context->events->error(connection.connId, Error{400, text});
    const int limit = m_context->config.transport.websocket.maxProtocolErrors;
    if (++connection.protocolErrors >= limit) {
        qCInfo(lcProtocol).noquote()
            << "connection" << connection.connId << "closed after" << limit << "protocol errors";
        closeConnection(connection,
                        QWebSocketProtocol::CloseCodePolicyViolated,
                        u"too many protocol errors"_s,
                        DisconnectReason::error(u"too many protocol errors"_s));
    }
}

void Worker::dispatch(Connection &connection, Message message)
{
    switch (message.type) {
    case MessageType::Connect:
        handleConnect(connection, message);
        return;
    case MessageType::Ping: {
        Message pong = Message::create(MessageType::Pong);
        pong.refId = message.id;
        send(connection, pong);
        return;
    }
    case MessageType::Subscribe:
    case MessageType::Unsubscribe:
    case MessageType::Publish:
    case MessageType::Request:
    case MessageType::AgentTask:
        // Module filters see these first: they may transform, reject or handle them.
        if (!runFilters(connection, message))
            return;
        handleFiltered(connection, message);
        runAfterFilters(connection, message);
        return;
    case MessageType::Disconnect:
        closeConnection(connection,
                        QWebSocketProtocol::CloseCodeNormal,
                        u"goodbye"_s,
                        DisconnectReason::normal());
        return;
    default:
        qCDebug(lcProtocol).noquote()
            << "ignored" << messageTypeName(message.type) << "from" << connection.connId;
        return;
    }
}

void Worker::handleFiltered(Connection &connection, const Message &message)
{
    switch (message.type) {
    case MessageType::Subscribe:
        handleSubscribe(connection, message);
        return;
    case MessageType::Unsubscribe:
        handleUnsubscribe(connection, message);
        return;
    case MessageType::Publish:
        handlePublish(connection, message);
        return;
    case MessageType::Request:
        handleRequest(connection, message);
        return;
    case MessageType::AgentTask:
        handleAgentTask(connection, message);
        return;
    default:
        return;
    }
}

void Worker::handleConnect(Connection &connection, const Message &message)
{
    if (hasAuthenticators()) {
        QString token = message.metadata.value(u"token"_s).toString();
        if (token.isEmpty())
            token = message.metadata.value(u"auth_token"_s).toString();
        if (!token.isEmpty()) {
            if (const auto verified = authenticate(connection, token); !verified) {
                refuseAuthentication(connection, verified.error(), message.id);
                return;
            }
        }
    }
    Message ack =
        Message::create(MessageType::Ack,
                        Payload::fromJson(QJsonObject{{u"conn_id"_s, connection.connId}}));
    ack.refId = message.id;
    ack.metadata.insert(u"conn_id"_s, connection.connId);
    if (connection.authenticated)
        ack.metadata.insert(u"user_id"_s, connection.userId);
    send(connection, ack);
}

void Worker::handleSubscribe(Connection &connection, const Message &message)
{
    if (message.channel.isEmpty()) {
        send(connection, Message::error(400, u"subscribe needs a channel"_s, message.id));
        return;
    }
    const std::optional<int> history = metadataCount(message, u"history"_s);
    if (history == -1) {
        send(connection,
             Message::error(400,
                            u"metadata.history: expected a non-negative integer"_s,
                            message.id));
        return;
    }
    const int perConnection = m_context->config.server.maxChannelsPerConnection;
    if (connection.channels.size() >= perConnection
        && !connection.channels.contains(message.channel)) {
        send(connection,
             Message::error(429,
                            u"too many subscriptions: this connection may be subscribed to at most "
                            "%1 channels (server.max_channels_per_connection)"_s.arg(perConnection),
                            message.id));
        return;
    }
    const Member member{connection.key, connection.connId, connection.userId, m_index};
    const auto outcome = m_context->registry.subscribe(message.channel,
                                                       member,
                                                       connection.authenticated,
                                                       history.value_or(0));
    if (!outcome) {
        send(connection, Message::error(outcome.error().code, outcome.error().message, message.id));
        return;
    }
    QJsonObject data{{u"subscribed"_s, message.channel}, {u"members"_s, outcome->members}};
    if (history)
        data.insert(u"history"_s, historyJson(outcome->history));
    const QByteArray reply = encodeMessage(replyTo(message, data));
    if (!replyFits(reply)) {
        // The client hears only the error, so it is not subscribed either.
        if (!outcome->alreadyMember)
            m_context->registry.unsubscribe(message.channel, connection.key);
        send(connection, replyTooLarge(reply.size(), message.id));
        return;
    }
    if (!outcome->alreadyMember) {
        m_members[message.channel].insert(&connection);
        connection.channels.append(message.channel);
    }
    sendEncoded(connection, reply);
    if (outcome->presence && !outcome->alreadyMember)
        announcePresence(connection,
                         message.channel,
                         "join"_L1,
                         outcome->workerMask,
                         outcome->settings.binary);
    if (!outcome->alreadyMember && m_context->events->isListened(&ServerEvents::subscribed))
        Q_EMIT m_context->events->subscribed(clientInfo(connection), message.channel);
}

void Worker::handleUnsubscribe(Connection &connection, const Message &message)
{
    if (message.channel.isEmpty()) {
        send(connection, Message::error(400, u"unsubscribe needs a channel"_s, message.id));
        return;
    }
    leaveChannel(connection, message.channel);
    send(connection, replyTo(message, QJsonObject{{u"unsubscribed"_s, message.channel}}));
}

void Worker::leaveChannel(Connection &connection, const QString &channel)
{
    if (!connection.channels.removeOne(channel))
        return;
    auto members = m_members.find(channel);
    if (members != m_members.end()) {
        members->remove(&connection);
        if (members->isEmpty())
            m_members.erase(members);
    }
    const UnsubscribeOutcome outcome = m_context->registry.unsubscribe(channel, connection.key);
    if (outcome.wasMember && outcome.presence)
        announcePresence(connection,
                         channel,
                         "leave"_L1,
                         outcome.workerMask,
                         m_context->registry.settings(channel).value_or(ChannelSettings{}).binary);
    if (outcome.wasMember && m_context->events->isListened(&ServerEvents::unsubscribed))
        Q_EMIT m_context->events->unsubscribed(clientInfo(connection), channel);
}

void Worker::announcePresence(const Connection &connection,
                              const QString &channel,
                              QLatin1String event,
                              quint64 workerMask,
                              bool binary)
{
    if (workerMask == 0)
        return;
    Message notice = Message::create(MessageType::Ack);
    notice.channel = channel;
    notice.metadata.insert(u"event"_s, event);
    notice.metadata.insert(u"conn_id"_s, connection.connId);
    if (!connection.userId.isEmpty())
        notice.metadata.insert(u"user_id"_s, connection.userId);
    fanOut(Delivery{channel, encodeMessage(notice), connection.key, binary}, workerMask);
}

void Worker::handlePublish(Connection &connection, const Message &original)
{
    Message message = original;
    if (message.channel.isEmpty()) {
        send(connection, Message::error(400, u"publish needs a channel"_s, message.id));
        return;
    }
    const QString requestId = message.id;
    const QString channel = message.channel;
    if (m_refusingPublishes) {
        // Shutting down: what is acknowledged must reach every member, so nothing more is.
        send(connection, Message::error(503, u"server is shutting down"_s, requestId));
        return;
    }
    // The server, not the client, says who sent it.
    message.metadata.insert(u"from"_s, connection.connId);
    if (connection.authenticated && !connection.userId.isEmpty())
        message.metadata.insert(u"user_id"_s, connection.userId);
    else
        message.metadata.remove(u"user_id"_s);

    const QByteArray json = encodeMessage(message);
    const auto outcome =
        m_context->registry.publish(channel, connection.key, connection.authenticated, json);
    if (!outcome) {
        send(connection, Message::error(outcome.error().code, outcome.error().message, requestId));
        return;
    }
    fanOut(Delivery{channel, json, connection.key, outcome->binary}, outcome->workerMask);
    if (m_context->events->isListened(&ServerEvents::messagePublished))
        Q_EMIT m_context->events->messagePublished(clientInfo(connection),
                                                   message,
                                                   outcome->recipients);
    send(connection,
         Message::response(
             requestId,
             QJsonObject{{u"published"_s, channel}, {u"recipients"_s, outcome->recipients}}));
}

void Worker::handleRequest(Connection &connection, const Message &message)
{
    const auto actionValue = message.metadata.constFind(u"action"_s);
    if (actionValue == message.metadata.constEnd()) {
        // No action: echo the payload back, whatever its kind.
        Message echo = Message::create(MessageType::Response, message.payload);
        echo.refId = message.id;
        send(connection, echo);
        return;
    }
    const QString action = actionValue->toString();
    const QString &channel = message.channel;
    const bool needsChannel = action == "history"_L1 || action == "presence"_L1;
    if (needsChannel) {
        if (channel.isEmpty()) {
            send(connection,
                 Message::error(400, u"action '%1' needs a channel"_s.arg(action), message.id));
            return;
        }
        const auto settings = m_context->registry.settings(channel);
        if (settings && settings->auth && !connection.authenticated) {
            send(connection,
                 Message::error(401,
                                u"channel '%1' requires authentication"_s.arg(channel),
                                message.id));
            return;
        }
    }
    if (action == "history"_L1) {
        const std::optional<int> limit = metadataCount(message, u"limit"_s);
        if (limit == -1) {
            send(connection,
                 Message::error(400,
                                u"metadata.limit: expected a non-negative integer"_s,
                                message.id));
            return;
        }
        const auto history = m_context->registry.history(channel, limit.value_or(0));
        if (!history) {
            send(connection,
                 Message::error(history.error().code, history.error().message, message.id));
            return;
        }
        send(connection,
             replyTo(message,
                     QJsonObject{{u"channel"_s, channel}, {u"messages"_s, historyJson(*history)}}));
    } else if (action == "presence"_L1) {
        const auto members = m_context->registry.presence(channel);
        if (!members) {
            send(connection,
                 Message::error(members.error().code, members.error().message, message.id));
            return;
        }
        send(connection,
             replyTo(message,
                     QJsonObject{{u"channel"_s, channel}, {u"members"_s, presenceJson(*members)}}));
    } else if (action == "channels"_L1) {
        listChannels(connection, message);
    } else if (!handleModuleRequest(connection, action, message)) {
        send(connection, Message::error(404, u"unknown action '%1'"_s.arg(action), message.id));
    }
}

// The `channels` action, a page at a time: names after metadata.after (sorted), at most
// metadata.limit of them; `next` is there when more follow. Auth channels are listed only to
// authenticated connections.
void Worker::listChannels(Connection &connection, const Message &message)
{
    const std::optional<int> limit = metadataCount(message, u"limit"_s);
    if (limit == -1 || limit == 0) {
        send(connection,
             Message::error(400, u"metadata.limit: expected a positive integer"_s, message.id));
        return;
    }
    const int pageSize = std::min(limit.value_or(ChannelsPageDefault), ChannelsPageMax);
    const QString after = message.metadata.value(u"after"_s).toString();
    const ChannelPage page =
        m_context->registry.channelPage(after, pageSize, connection.authenticated);
    QJsonArray list;
    for (const ChannelInfo &info : page.channels)
        list.append(QJsonObject{{u"name"_s, info.name}, {u"members"_s, info.members}});
    QJsonObject data{{u"channels"_s, list}};
    if (!page.next.isEmpty())
        data.insert(u"next"_s, page.next);
    send(connection, replyTo(message, data));
}

void Worker::handleAgentTask(Connection &connection, const Message &message)
{
    const QString agent = message.metadata.value(u"agent"_s).toString();
    if (agent.isEmpty()) {
        send(connection, Message::error(400, u"agent_task needs metadata.agent"_s, message.id));
        return;
    }
    send(connection, Message::error(404, u"agent '%1' not found"_s.arg(agent), message.id));
}

} // namespace Mtw::Internal
