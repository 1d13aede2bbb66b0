// SPDX-License-Identifier: MIT
#include "transport/protocol.h"

#include "transport/connection.h"
#include "transport/handlers/handlers.h"
#include "transport/logging.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <mtw/frame.h>

#include <QScopeGuard>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

Protocol::Protocol(ProtocolContext &parts)
    : m_parts(parts)
{
    registerHandler(MessageType::Connect, handleConnect, false);
    registerHandler(MessageType::Ping, handlePing, false);
    registerHandler(MessageType::Disconnect, handleDisconnect, false);
    registerHandler(MessageType::Subscribe, handleSubscribe, true);
    registerHandler(MessageType::Unsubscribe, handleUnsubscribe, true);
    registerHandler(MessageType::Publish, handlePublish, true);
    registerHandler(MessageType::Request, handleRequest, true);
    registerHandler(MessageType::AgentTask, handleAgentTask, true);
    registerHandler(MessageType::AgentToolResult, handleAgentToolResult, false);
}

void Protocol::registerHandler(MessageType type, MessageHandler handler, bool filtered)
{
    m_handlers[size_t(type)] = Entry{handler, filtered};
}

void Protocol::onText(Connection &connection, const QByteArray &json)
{
    connection.lastSeen = m_parts.state.now();
    ++connection.messagesIn;
    m_parts.state.metrics.framesIn.add();
    m_parts.state.metrics.bytesIn.add(quint64(json.size()));
    auto decoded = decodeMessage(json);
    if (!admit(connection, decoded ? decoded->id : decoded.error().id))
        return;
    if (!decoded) {
        protocolError(connection, decoded.error().id, decoded.error().message);
        return;
    }
    dispatch(connection, std::move(*decoded), json.size());
}

void Protocol::onBinary(Connection &connection, const QByteArray &data)
{
    connection.lastSeen = m_parts.state.now();
    ++connection.messagesIn;
    m_parts.state.metrics.framesIn.add();
    m_parts.state.metrics.bytesIn.add(quint64(data.size()));
    const auto frame = decodeFrame(data, m_parts.state.config().transport.websocket.maxMessageSize);
    if (!frame) {
        if (admit(connection, QString()))
            protocolError(connection, QString(), u"invalid MTW frame: "_s + frame.error());
        return;
    }
    switch (frame->type) {
    case FrameType::Json: {
        connection.binaryMode = true;
        auto decoded = decodeMessage(frame->payload);
        if (!admit(connection, decoded ? decoded->id : decoded.error().id))
            return;
        if (!decoded) {
            protocolError(connection, decoded.error().id, decoded.error().message);
            return;
        }
        dispatch(connection, std::move(*decoded), data.size());
        return;
    }
    case FrameType::Ping:
        if (admit(connection, QString()))
            answerMtwPing(connection);
        return;
    case FrameType::Pong:
        return;
    case FrameType::Raw:
        if (admit(connection, QString()))
            m_parts.modules.handleRawFrame(connection, frame->payload);
        return;
    }
}

void Protocol::answerMtwPing(Connection &connection)
{
    // A binary WebSocket message holding an MTW pong, built once.
    static const QByteArray pong = [] {
        const QByteArray payload = encodeFrame(FrameType::Pong);
        QByteArray out;
        out.append(char(0x82));
        out.append(char(payload.size()));
        return out + payload;
    }();
    m_parts.out.writeFrame(connection, pong);
}

// The inbound token bucket (transport.websocket.rate_limit / rate_burst), in thousandths of a
// message so that integer arithmetic refills it smoothly. Over the rate: error 429; a client
// that sends a whole burst more without waiting is closed with 1008.
bool Protocol::admit(Connection &connection, const QString &refId)
{
    const WebSocketConfig &ws = m_parts.state.config().transport.websocket;
    if (ws.rateLimit <= 0)
        return true;
    const qint64 t = m_parts.state.now();
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
    m_parts.server.counters.rateLimited.fetch_add(1, std::memory_order_relaxed);
    if (++connection.rateRefusals > ws.rateBurst) {
        qCInfo(lcProtocol).noquote()
            << "connection" << connection.connId << "closed: it kept sending over the rate limit of"
            << ws.rateLimit << "messages/s";
        m_parts.out.close(connection,
                          QWebSocketProtocol::CloseCodePolicyViolated,
                          u"message rate limit exceeded"_s,
                          DisconnectReason::error(u"message rate limit exceeded"_s));
        return false;
    }
    m_parts.out.send(
        connection,
        Message::error(
            429,
            u"rate limit exceeded: at most %1 messages per second (burst %2)"_s.arg(ws.rateLimit)
                .arg(ws.rateBurst),
            refId));
    return false;
}

void Protocol::protocolError(Connection &connection, const QString &refId, const QString &text)
{
    m_parts.server.counters.protocolErrors.fetch_add(1, std::memory_order_relaxed);
    m_parts.state.metrics.messagesIn[MessageTypeCount].add();
    qCDebug(lcProtocol).noquote() << "connection" << connection.connId << "sent bad input:" << text;
    m_parts.out.send(connection, Message::error(400, text, refId));
    if (m_parts.server.events->isListened(&ServerEvents::error))
        Q_EMIT m_parts.server.events->error(connection.connId, Error{400, text});
    const int limit = m_parts.state.config().transport.websocket.maxProtocolErrors;
    if (++connection.protocolErrors >= limit) {
        qCInfo(lcProtocol).noquote()
            << "connection" << connection.connId << "closed after" << limit << "protocol errors";
        m_parts.out.close(connection,
                          QWebSocketProtocol::CloseCodePolicyViolated,
                          u"too many protocol errors"_s,
                          DisconnectReason::error(u"too many protocol errors"_s));
    }
}

void Protocol::dispatch(Connection &connection, Message message, qint64 size)
{
    m_parts.state.metrics.messagesIn[size_t(message.type)].add();
    if (Q_UNLIKELY(connection.deciding)) {
        wait(connection, std::move(message), size);
        return;
    }
    run(connection, std::move(message));
}

// Behind a pending decision (an authenticator or a filter answering later), so that nothing
// overtakes what came before it; bounded like everything else held for the client.
void Protocol::wait(Connection &connection, Message message, qint64 size)
{
    const qint64 limit = m_parts.state.config().transport.websocket.maxQueueSize;
    if (connection.waitingBytes + size > limit) {
        m_parts.out.send(connection,
                         Message::error(429,
                                        u"%1 messages wait for a server module's decision on an "
                                        "earlier one; slow down"_s.arg(connection.waiting.size()),
                                        message.id));
        return;
    }
    connection.waitingBytes += size;
    connection.waiting.append({std::move(message), size});
}

void Protocol::resume(Connection &connection)
{
    while (!connection.deciding && !connection.waiting.isEmpty()) {
        auto [message, size] = connection.waiting.takeFirst();
        connection.waitingBytes -= size;
        run(connection, std::move(message));
    }
}

void Protocol::run(Connection &connection, Message message)
{
    const Entry &entry = m_handlers[size_t(message.type)];
    if (!entry.handle) {
        qCDebug(lcProtocol).noquote()
            << "ignored" << messageTypeName(message.type) << "from" << connection.connId;
        return;
    }
    // The handler's own time on this worker (a filter's or the broker's later answer is not).
    const auto started = std::chrono::steady_clock::now();
    const auto timed = qScopeGuard([this, started, type = message.type] {
        m_parts.state.metrics.commandDuration[size_t(type)].observe(std::chrono::steady_clock::now()
                                                                    - started);
    });
    if (!entry.filtered || !m_parts.modules.hasFilters()) {
        entry.handle(m_parts, connection, message);
        return;
    }
    // Module filters see these first: they may transform, reject or handle them, now or later
    // (the connection's next messages wait meanwhile).
    m_parts.modules.runFilters(
        connection,
        message,
        [this, handle = entry.handle](Connection &current, const Message &accepted) {
            handle(m_parts, current, accepted);
            m_parts.modules.runAfterFilters(current, accepted);
        });
}

} // namespace Mtw::Internal
