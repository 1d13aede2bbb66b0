// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/disconnectreason.h>
#include <mtw/message.h>

#include <QByteArray>
#include <QElapsedTimer>
#include <QWebSocketProtocol>

namespace Mtw::Internal {

struct Connection;
class ServerContext;
struct WorkerMetrics;
struct WorkerState;

// A WebSocket frame header (at most 10 bytes) plus an MTW frame header (9 bytes).
inline constexpr qint64 MaxFrameOverhead = 10 + 9;

// A complete server-to-client WebSocket frame (FIN set, unmasked, RFC 6455 §5.2).
QByteArray webSocketFrame(bool binary, QByteArrayView payload);

// Everything a worker writes to its connections goes through here: replies, fan-out frames,
// closes. Every byte queued for a client counts against transport.websocket.max_queue_size;
// a client whose queue is full is dropped as a slow consumer. Worker thread only.
class Outbound
{
public:
    Outbound(ServerContext &context, WorkerState &state);

    WorkerMetrics &metrics() { return m_metrics; }

    // A reply or notice; one that could never fit in the queue becomes a 413 error.
    void send(Connection &connection, const Message &message);
    // An encoded envelope, framed as text or (for a binary-mode client) as an MTW frame.
    void sendEncoded(Connection &connection,
                     const QByteArray &json,
                     MessageType type = MessageType::Response);
    // One prebuilt WebSocket frame, counted as one message out. False when refused.
    bool writeFrame(Connection &connection, const QByteArray &frame);
    // Queues a frame without counting it as a message; -1 when refused (the client is dropped).
    qint64 queueFrame(Connection &connection, const QByteArray &frame);

    // One reply may take the larger of the queue limit and the message size limit.
    bool replyFits(const QByteArray &json) const;
    Message replyTooLarge(qsizetype size, const QString &refId) const;

    void dropSlowConsumer(Connection &connection, qint64 queued, qint64 refused);
    // Sends our close frame after any queued output; the peer's answer ends the connection.
    void close(Connection &connection,
               QWebSocketProtocol::CloseCode code,
               const QString &text,
               const DisconnectReason &reason);

private:
    ServerContext &m_context;
    const QElapsedTimer &m_clock;
    WorkerMetrics &m_metrics;
};

} // namespace Mtw::Internal
