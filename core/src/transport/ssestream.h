// SPDX-License-Identifier: MIT
#pragma once

#include "channels/channelregistry.h"
#include "transport/httprequest.h"

#include <mtw/message.h>

#include <QHostAddress>
#include <QNetworkRequest>
#include <QObject>
#include <QSet>

namespace Mtw::Internal {

class ClientSocket;
struct Connection;
struct Delivery;
class Outbound;
class ServerContext;

// The position of one channel in a stream's event ids (docs/http-api.md#event-ids): the
// request's `channel=` order, each with the last offset the client has of it.
struct SseChannelPosition
{
    QString channel;
    QString epoch;
    quint64 offset = 0;
    bool known = false; // from Last-Event-ID or an event sent: the client has up to `offset`
};

// A Last-Event-ID: "<channel>:<epoch>:<offset>" per channel, separated by spaces, the channel
// name percent-encoded. Empty: none. A 400 naming the value when malformed.
Result<QList<SseChannelPosition>> parseSseEventId(QByteArrayView id);
QByteArray sseEventId(const QList<SseChannelPosition> &positions);

// The last fan-out event one Fanout::deliver() pass built: the streams whose event id is the
// same (every single-channel stream of the channel) queue the same bytes, as WebSocket members
// share one frame, instead of each building its own.
struct SseEventCache
{
    QByteArray event;
    QByteArray id; // of a stream of several channels
    // Of a single-channel stream, whose id is "<channel>:<epoch>:<offset>"; offset 0: none.
    QString epoch;
    quint64 offset = 0;
};

// One Server-Sent Events stream: the output side of a Connection without a WebSocket
// (Connection::sse), whose subscriptions, fan-out, queue limit and slow-consumer rule are the
// WebSocket ones. Until every channel of the request has answered its subscribe, what the
// connection is sent waits here and no response head has gone out, so that a refusal (a bad
// token, a channel that needs auth, a module's veto) is an HTTP error with a JSON body; then
// the 200 head, `retry:` and what waited go out, and every later envelope is written as it
// comes: fan-out as unnamed events (`id:` = the channels' positions when it has an offset),
// everything sent to this connection alone as an event named after its type. Lives in its
// worker's thread and owns the client's socket.
class SseStream : public QObject
{
    Q_OBJECT

public:
    SseStream(ServerContext &context,
              Outbound &out,
              ClientSocket *socket,
              HttpRequestHead head,
              QList<SseChannelPosition> positions,
              QObject *parent);

    ~SseStream() override;

    // The stream holds a place of transport.sse.max_streams_per_ip for `client` until it goes.
    void holdPlace(const QHostAddress &client) { m_place = client; }
    ClientSocket *socket() const { return m_socket; }
    const HttpRequestHead &head() const { return m_head; }
    // What an authenticator sees of the request (its URL and headers), as for an upgrade.
    const QNetworkRequest &request() const { return m_request; }
    QStringList channels() const;
    // The subscribe to send for channel `index` (its recovery from the Last-Event-ID, if any);
    // its reply decides the response.
    Message subscribeMessage(qsizetype index);

    // A reply or notice for this connection alone; false when it was not written.
    bool send(Connection &connection, const QByteArray &json, MessageType type);
    // A fan-out envelope: bytes queued, or -1 when refused (the client is dropped). `cache`
    // lives for one delivery to one worker's members: its event is reused when the id matches.
    qint64 deliver(Connection &connection, const Delivery &delivery, SseEventCache &cache);
    // A `: ping` comment, when the response is streaming.
    void keepAlive(Connection &connection);
    // Graceful: what is queued goes out first. Before the response head, an HTTP error.
    void close(Connection &connection, int closeCode, const QString &text);
    // Shutdown deadline, slow consumer, close grace over.
    void abort() const;

private:
    enum class State { Subscribing, Streaming, Refused };

    bool write(Connection &connection, const QByteArray &event, bool counted);
    void subscribed(Connection &connection, const Message &reply);
    void refuse(Connection &connection, int code, const QString &message);
    void startStreaming(Connection &connection);
    SseChannelPosition *position(const QString &channel);
    QByteArray eventId() const { return sseEventId(m_positions); }

    ServerContext &m_context;
    Outbound &m_out;
    ClientSocket *m_socket;
    HttpRequestHead m_head;
    QNetworkRequest m_request;
    QList<SseChannelPosition> m_positions;
    QSet<QString> m_subscribing; // ids of the subscribes not answered yet
    QByteArray m_held;           // events before the response head
    QHostAddress m_place;        // null: holds none
    State m_state = State::Subscribing;
};

} // namespace Mtw::Internal
