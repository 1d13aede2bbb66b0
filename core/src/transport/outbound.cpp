// SPDX-License-Identifier: MIT
#include "transport/outbound.h"

#include "transport/clientsocket.h"
#include "transport/connection.h"
#include "transport/logging.h"
#include "transport/prefetch.h"
#include "transport/servercontext.h"
#include "transport/ssestream.h"
#include "transport/workerstate.h"

#include <mtw/frame.h>

#include <QElapsedTimer>
#include <QTcpSocket>

#include <algorithm>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

QByteArray webSocketFrame(bool binary, QByteArrayView payload)
{
    QByteArray frame;
    const qsizetype size = payload.size();
    frame.reserve(size + 10);
    frame.append(char(0x80 | (binary ? 0x2 : 0x1)));
    if (size < 126) {
        frame.append(char(size));
    } else if (size <= 0xffff) {
        frame.append(char(126));
        frame.append(char(size >> 8));
        frame.append(char(size & 0xff));
    } else {
        frame.append(char(127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((quint64(size) >> shift) & 0xff));
    }
    frame.append(payload);
    return frame;
}

int errorCodeOf(const Message &message)
{
    return message.type == MessageType::Error
        ? message.payload.json.toObject().value(QLatin1String("code")).toInt()
        : 0;
}

Outbound::Outbound(ServerContext &context, WorkerState &state)
    : m_context(context)
    , m_state(state)
    , m_clock(state.clock)
    , m_metrics(state.metrics)
{ }

void Outbound::send(Connection &connection, const Message &message)
{
    if (Q_UNLIKELY(connection.sink)) {
        connection.sink->reply(message);
        return;
    }
    if (Q_UNLIKELY(message.type == MessageType::Error))
        m_metrics.countError(errorCodeOf(message));
    const QByteArray json = encodeMessage(message);
    // A reply that could never fit in the queue (a large history) is an error for the client,
    // not a reason to drop it; the error names the limit.
    if (message.type != MessageType::Error && !replyFits(json)) {
        m_metrics.countError(413);
        sendEncoded(connection,
                    encodeMessage(replyTooLarge(json.size(), message.refId)),
                    MessageType::Error);
        return;
    }
    sendEncoded(connection, json, message.type);
}

void Outbound::sendForeign(Connection &connection,
                           const QByteArray &json,
                           MessageType type,
                           int errorCode)
{
    if (type == MessageType::Error && !connection.sink)
        m_metrics.countError(errorCode);
    sendEncoded(connection, json, type);
}

bool Outbound::replyFits(const QByteArray &json) const
{
    const WebSocketConfig &ws = m_state.config().transport.websocket;
    return json.size() + MaxFrameOverhead <= std::max(ws.maxQueueSize, ws.maxMessageSize);
}

Message Outbound::replyTooLarge(qsizetype size, const QString &refId) const
{
    const WebSocketConfig &ws = m_state.config().transport.websocket;
    return Message::error(413,
                          u"reply of %1 bytes exceeds the %2 bytes one reply may take (the larger "
                          "of transport.websocket.max_queue_size and max_message_size); ask for "
                          "less"_s.arg(size)
                              .arg(std::max(ws.maxQueueSize, ws.maxMessageSize)),
                          refId);
}

void Outbound::sendEncoded(Connection &connection, const QByteArray &json, MessageType type)
{
    if (Q_UNLIKELY(connection.sink)) {
        if (auto message = decodeMessage(json))
            connection.sink->reply(*message);
        return;
    }
    if (Q_UNLIKELY(connection.sse)) {
        if (connection.sse->send(connection, json, type))
            m_metrics.messagesOut[size_t(type)].add();
        return;
    }
    if (connection.disconnected || connection.closingSince >= 0)
        return;
    const QByteArray frame = connection.binaryMode
        ? webSocketFrame(true, encodeFrame(FrameType::Json, json))
        : webSocketFrame(false, json);
    if (writeFrame(connection, frame))
        m_metrics.messagesOut[size_t(type)].add();
}

bool Outbound::writeFrame(Connection &connection, const QByteArray &frame)
{
    const qint64 written = queueFrame(connection, frame);
    if (written < 0)
        return false;
    ++connection.messagesOut;
    m_metrics.framesOut.add();
    m_metrics.bytesOut.add(quint64(written));
    return true;
}

// ClientSocket refuses a write that would take the queue over its limit (one check per write,
// in one place), and the client is dropped at once.
qint64 Outbound::queueFrame(Connection &connection, const QByteArray &frame)
{
    // Bytes written in this event-loop pass wait in Qt's buffer until the loop runs: a client
    // that reads promptly but asked for several large replies at once would look slow. Hand
    // what waits to the kernel first; only what the kernel will not take counts as queued.
    ClientSocket *tcp = connection.tcp;
    if (Q_UNLIKELY(!tcp->tryQueueFrame(frame))) {
        if (!tcp->hasRoomFor(frame.size()))
            tcp->sendQueued();
        if (!tcp->queueFrame(frame)) {
            if (tcp->hasOverflowed())
                dropSlowConsumer(connection, tcp->queuedBytes(), frame.size());
            return -1;
        }
    }
    if (!isToFlush(connection)) {
        connection.flushRound = m_round;
        connection.flushSlot = quint32(m_written.size());
        m_written.push_back(tcp);
    }
    return frame.size();
}

bool Outbound::isToFlush(const Connection &connection) const
{
    return connection.flushRound == m_round && connection.flushSlot >= m_flushedUpTo
        && connection.flushSlot < m_written.size()
        && m_written[connection.flushSlot] == connection.tcp;
}

bool Outbound::flushWritten()
{
    // By index: a flush that fails closes its connection, and what runs then may queue more
    // (appended, and flushed in turn). Only the sockets are read, not their connections (one
    // cache miss less per delivery), and the next ones are fetched while a socket is written.
    // A socket whose connection has said disconnected still sends what was queued before: its
    // descriptor is gone (ClientSocket writes nothing then) or still open for these bytes.
    constexpr std::size_t Ahead = 4;
    const std::size_t end = std::min(m_written.size(), m_flushedUpTo + MaxFlushesPerPass);
    for (; m_flushedUpTo < end; ++m_flushedUpTo) {
        if (m_flushedUpTo + Ahead < end)
            prefetch(m_written[m_flushedUpTo + Ahead]);
        if (ClientSocket *tcp = m_written[m_flushedUpTo])
            tcp->sendQueued();
    }
    if (m_flushedUpTo < m_written.size())
        return true;
    m_written.clear();
    m_flushedUpTo = 0;
    ++m_round;
    return false;
}

void Outbound::forget(const Connection &connection)
{
    if (isToFlush(connection))
        m_written[connection.flushSlot] = nullptr;
}

void Outbound::dropSlowConsumer(Connection &connection, qint64 queued, qint64 refused)
{
    if (connection.disconnected || connection.slowConsumer)
        return;
    connection.slowConsumer = true;
    const qint64 limit = m_state.config().transport.websocket.maxQueueSize;
    qCWarning(lcTransport).noquote()
        << "connection" << connection.connId << "is a slow consumer:" << queued
        << "bytes queued and" << refused
        << "more would exceed transport.websocket.max_queue_size =" << limit << "- disconnected";
    m_context.counters.slowConsumers.fetch_add(1, std::memory_order_relaxed);
    m_metrics.slowConsumers.add();
    connection.reason = DisconnectReason::error(
        QStringLiteral("slow consumer: %1 bytes queued, limit %2").arg(queued).arg(limit));
    // Its queue is full: a close frame would wait behind it, so the socket is dropped at once.
    abortConnection(connection);
}

void Outbound::close(Connection &connection,
                     QWebSocketProtocol::CloseCode code,
                     const QString &text,
                     const DisconnectReason &reason)
{
    if (connection.disconnected || connection.closingSince >= 0)
        return;
    connection.reason = reason;
    connection.closingSince = m_clock.elapsed();
    if (connection.sse)
        connection.sse->close(connection, code, text);
    else
        closeWebSocket(connection, quint16(code), text.toUtf8());
}

void Outbound::closeWebSocket(Connection &connection, quint16 code, QByteArrayView reason)
{
    if (connection.closeSent || connection.disconnected)
        return;
    connection.closeSent = true;
    if (connection.closingSince < 0)
        connection.closingSince = m_clock.elapsed();
    QTcpSocket *socket = connection.tcp->io();
    socket->write(closeFrame(code, reason)); // after the queued frames (ClientSocket::write)
    socket->disconnectFromHost();
}

void abortConnection(const Connection &connection)
{
    if (connection.sse)
        connection.sse->abort();
    else if (connection.tcp)
        connection.tcp->reset(); // its disconnected() ends the connection
}

} // namespace Mtw::Internal
