// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/disconnectreason.h>
#include <mtw/message.h>

#include <QByteArray>
#include <QElapsedTimer>
#include <QWebSocketProtocol>

#include <vector>

namespace Mtw::Internal {

class ClientSocket;
struct Connection;
class ServerContext;
struct WorkerMetrics;
struct WorkerState;

// A WebSocket frame header (at most 10 bytes) plus an MTW frame header (9 bytes).
inline constexpr qint64 MaxFrameOverhead = 10 + 9;

// The `code` of an error message's Json payload, as mtw_errors_total counts it; 0 otherwise.
int errorCodeOf(const Message &message);

// A complete server-to-client WebSocket frame (FIN set, unmasked, RFC 6455 §5.2).
QByteArray webSocketFrame(bool binary, QByteArrayView payload);

// Everything a worker writes to its connections goes through here: replies, fan-out frames,
// closes. Every byte queued for a client counts against transport.websocket.max_queue_size;
// a client whose queue is full is dropped as a slow consumer. Worker thread only.
// Drops the connection's socket at once (its WebSocket, or its SSE stream's socket).
void abortConnection(const Connection &connection);

class Outbound
{
public:
    Outbound(ServerContext &context, WorkerState &state);

    WorkerMetrics &metrics() { return m_metrics; }
    const WorkerState &state() const { return m_state; }

    // A reply or notice; one that could never fit in the queue becomes a 413 error.
    void send(Connection &connection, const Message &message);
    // An encoded envelope, framed as text or (for a binary-mode client) as an MTW frame.
    void sendEncoded(Connection &connection,
                     const QByteArray &json,
                     MessageType type = MessageType::Response);
    // An envelope encoded elsewhere (the agent runner, another node), counted by its type and,
    // for an error, by `errorCode` as send() counts it.
    void
    sendForeign(Connection &connection, const QByteArray &json, MessageType type, int errorCode);
    // One prebuilt WebSocket frame, counted as one message out. False when refused.
    bool writeFrame(Connection &connection, const QByteArray &frame);
    // Queues a frame without counting it as a message; -1 when refused (the client is dropped).
    qint64 queueFrame(Connection &connection, const QByteArray &frame);

    // One reply may take the larger of the queue limit and the message size limit.
    bool replyFits(const QByteArray &json) const;
    Message replyTooLarge(qsizetype size, const QString &refId) const;

    // Hands what was queued to the kernel before the worker waits again (its event
    // dispatcher's aboutToBlock): one write() per socket written to, for at most
    // MaxFlushesPerPass sockets, oldest first; true when some are left for the next pass (the
    // caller wakes the loop up so that it comes back at once, after whatever is ready). Written
    // through Qt's buffer one frame at a time, every socket written to had its write interest
    // switched on in epoll and off again after the next wait: two epoll_ctl and one more wake-up
    // per delivery. The bound keeps what the old path did well: with many sockets to write, a
    // socket's frames gather while the others are written (one write() carries many of them),
    // and reads (the next publishes) are served in between. What the kernel does not take (a
    // full socket buffer) stays in Qt's buffer with its notifier on.
    bool flushWritten();
    // A connection about to be deleted leaves the list of sockets to flush.
    void forget(const Connection &connection);
    // The same as one epoll_wait() batch of the worker's dispatcher.
    static constexpr std::size_t MaxFlushesPerPass = 256;

    void dropSlowConsumer(Connection &connection, qint64 queued, qint64 refused);
    // Sends our close frame after any queued output, then closes the connection (once what is
    // queued has been written: a peer that does not read is dropped by the close grace).
    void close(Connection &connection,
               QWebSocketProtocol::CloseCode code,
               const QString &text,
               const DisconnectReason &reason);
    // The WebSocket part of close(), also the answer to the client's Close: our Close frame
    // (once), behind what is queued, then TCP closes, server first (RFC 6455 section 7.1.1).
    void closeWebSocket(Connection &connection, quint16 code, QByteArrayView reason);

private:
    ServerContext &m_context;
    const WorkerState &m_state;
    const QElapsedTimer &m_clock;
    // True while the socket of `connection` waits in m_written.
    bool isToFlush(const Connection &connection) const;

    // The sockets written to since the last complete flush, each once, at the flushSlot of its
    // connection (whose flushRound is m_round); nullptr for one deleted meanwhile (forget()).
    // Pointers, not keys: a lookup by key per flushed socket was a third of the user-space
    // cycles one at a time to 10,000 (cache misses in the hash). A connection is in the list
    // when its round is this one and its slot not yet flushed, so that a flush writes nothing
    // but the sockets; m_round goes up whenever the list has been flushed to its end.
    std::vector<ClientSocket *> m_written;
    std::size_t m_flushedUpTo = 0; // m_written before this index is done
    quint64 m_round = 1;
    WorkerMetrics &m_metrics;
};

} // namespace Mtw::Internal
