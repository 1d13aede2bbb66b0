// SPDX-License-Identifier: MIT
#pragma once

#include "transport/websocketreader.h"

#include <mtw/disconnectreason.h>
#include <mtw/message.h>

#include <QHostAddress>
#include <QString>
#include <QStringList>

#include <optional>

class QNetworkRequest;

namespace Mtw::Internal {

class ClientSocket;
class SseStream;

// Where the replies of a connection without a socket go: the server API (httpapi.cpp) runs the
// protocol's handlers for a backend's command on such a connection.
class ReplySink
{
public:
    virtual void reply(const Message &message) = 0;

protected:
    ~ReplySink() = default;
};

// One upgraded WebSocket client (`tcp` set, `sse` null), or a Server-Sent Events stream (`tcp`
// and `sse` set), or a server API command (`sink` set). Owned by the Worker whose thread it
// lives in; never touched from another thread. Kept small: there may be tens of thousands.
//
// What a fan-out delivery reads and writes comes first, in one cache line (the struct is aligned
// to one): with 10,000 subscribers each line is a cache miss per delivery.
struct alignas(64) Connection
{
    ClientSocket *tcp = nullptr; // the client's socket: fan-out writes prebuilt frames here
    SseStream *sse = nullptr;    // set for an SSE stream: writes its events
    quint64 key = 0;             // process-unique, used by the channel registry
    qint64 closingSince = -1;    // worker clock (ms) when we sent our close frame
    qint64 messagesOut = 0;
    // Its socket's place in Outbound's list of sockets to flush, and the round of that list
    // (see Outbound::queueFrame): a flush does not have to write here.
    quint64 flushRound = 0;
    quint32 flushSlot = 0;
    bool disconnected = false;
    bool binaryMode = false; // set by the first MTW 0x01 frame the client sends
    // The rest is for the protocol's handlers, not for a delivery.
    WebSocketReader reader;    // the frames the client sends (a WebSocket)
    bool closeSent = false;    // our Close frame has been written: nothing more is read
    QByteArray upgradeHead;    // a WebSocket's upgrade request as sent, for the authenticators
    ReplySink *sink = nullptr; // set (and tcp null) for a server API command
    // The HTTP request of a connection without a WebSocket that authenticates (an SSE stream, a
    // client's publish over HTTP): what an authenticator sees as the upgrade request.
    const QNetworkRequest *httpRequest = nullptr;
    // A client's publish over HTTP that names its SSE stream: that stream's key, which the
    // fan-out excludes as it excludes a sender (0: the connection's own key).
    quint64 publishAs = 0;
    QString connId;       // the ULID clients see as conn_id
    QString userId;       // set by an authenticator; empty when anonymous
    QStringList channels; // subscribed channels (usually few)
    QStringList roles;    // from the authenticator
    QHostAddress peerAddress;
    quint16 peerPort = 0; // 0 when peerAddress came from a trusted proxy's X-Forwarded-For
    QString userAgent;
    qint64 connectedAt = 0;    // ms since the Unix epoch
    qint64 lastSeen = 0;       // worker clock (ms): last pong or message
    qint64 tokenExpiresAt = 0; // ms since the Unix epoch; 0 = the identity does not expire
    qint64 rateTokens = 0;     // inbound token bucket, in thousandths of a message
    qint64 rateRefilledAt = 0; // worker clock (ms) of the last refill
    int protocolErrors = 0;
    int rateRefusals = 0; // messages refused with 429 since the last accepted one
    qint64 messagesIn = 0;
    qint64 reportedIn = -1; // values last reported to the admin API (changed-only updates)
    qint64 reportedOut = -1;
    qint64 reportedQueue = -1;
    bool authenticated = false;
    bool slowConsumer = false;              // dropped for a full queue (said once)
    bool announced = false;                 // ServerEvents::clientConnected was emitted for it
    std::optional<DisconnectReason> reason; // set when the server decides to close
    // A module decision (authenticate, a filter) is pending: what the client sends meanwhile
    // waits here, in order, and its bytes count against max_queue_size.
    bool deciding = false;
    QList<std::pair<Message, qint64>>
        waiting; // message, its size on the wire (no allocation while empty)
    qint64 waitingBytes = 0;
};

// Who a publish comes from, for the fan-out's "never to the sender".
inline quint64 senderKey(const Connection &connection)
{
    return connection.publishAs ? connection.publishAs : connection.key;
}

// One row of the admin API's connections view.
struct ConnectionSummary
{
    QString connId;
    QString remoteAddress;
    quint16 remotePort = 0; // 0: not known (behind a trusted proxy)
    QString userId;
    QStringList roles;
    QString userAgent;
    QStringList channels;
    bool binaryMode = false;
    qint64 queueBytes = 0;
    qint64 messagesIn = 0;
    qint64 messagesOut = 0;
    qint64 connectedAt = 0;
};

} // namespace Mtw::Internal
