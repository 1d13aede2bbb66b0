// SPDX-License-Identifier: MIT
// The broker service: how several mtwserver nodes sharing one broker (Redis) behave as one
// server. A module registers an IBroker with ModuleContext::registerBroker(); the server then
// numbers publications, counts members and keeps presence through it, and delivers what any
// node published to its own members. See docs/cluster.md.
#pragma once

#include <mtw/global.h>
#include <mtw/result.h>

#include <QByteArray>
#include <QList>
#include <QString>

#include <functional>

namespace Mtw {

// Where a publication is in its channel's stream (PROTOCOL: metadata.offset and .epoch).
struct BrokerPosition
{
    quint64 offset = 0; // 0: before the first publication
    QString epoch;
};

// A publish for the cluster to number, keep and deliver to every node with members.
struct BrokerPublish
{
    QString channel;
    // The encoded envelope around its position: head + epoch + middle + offset (decimal) + tail.
    QByteArray head;
    QByteArray middle;
    QByteArray tail;
    QString newEpoch;      // the channel's epoch if the cluster has none for it yet
    quint64 senderKey = 0; // the sending connection on this node (0: none): never gets it
    bool senderIsMember = false;
    bool mustExist = false;     // 404 unless the channel exists somewhere in the cluster
    bool deliveredHere = false; // this node delivered it already (it had no broker then)
    int historySize = 0;        // publications the channel keeps
    qint64 historyTtlMs = 0;    // 0: until pushed out
};

struct BrokerPublished
{
    BrokerPosition position;
    int recipients = 0; // members in the whole cluster, the sender left out
};

// A member joining a channel, counted and (with presence) listed cluster-wide, and what it
// reads from the channel's history while joining.
struct BrokerJoin
{
    enum class Read {
        Nothing,
        Newest, // the newest `count` publications
        After,  // everything after `after` (a recovery)
    };
    QString channel;
    QString connId;
    QString userId;
    int maxMembers = 0; // over the cluster; 0: no limit
    bool presence = false;
    QString newEpoch;
    Read read = Read::Nothing;
    int count = 0;
    BrokerPosition after;
    qint64 historyTtlMs = 0;
};

struct BrokerJoined
{
    int members = 0;                // in the cluster, the new member included
    BrokerPosition position;        // of the channel's last publication when it joined
    QList<QByteArray> publications; // what it asked to read, oldest first
    bool recovered = false;         // Read::After: same epoch and nothing missing
};

struct BrokerHistoryQuery
{
    QString channel;
    int limit = 0; // <= 0: all
    bool reverse = false;
    bool hasSince = false;
    BrokerPosition since;
    qint64 historyTtlMs = 0;
};

struct BrokerHistory
{
    QList<QByteArray> publications; // oldest first; newest first with `reverse`
    BrokerPosition position;
    bool recovered = true;
};

struct BrokerMember
{
    QString connId;
    QString userId;
};

struct BrokerChannel
{
    QString name;
    int members = 0;
};

struct BrokerNodeInfo
{
    QString id;
    QString name;
    QString address;
    QString version;
    int connections = 0;
    qint64 startedAt = 0; // ms since the Unix epoch
    qint64 lastSeen = 0;  // ms since the Unix epoch: its last heartbeat
};

// One entry of a shared key-value bucket (docs/kv.md). `kind`: 'J' Json (compact JSON text),
// 'T' Text (UTF-8), 'B' Binary.
struct BrokerKvEntry
{
    QString key;
    quint64 version = 0;
    qint64 expiresAt = 0; // ms since the Unix epoch (Redis's clock); 0 = never
    char kind = 'J';
    QByteArray value;
};

// One change of a kv.put, kv.delete or kv.batch.
struct BrokerKvWrite
{
    bool put = true;
    QString key;
    bool hasExpected = false;    // compare-and-set
    quint64 expectedVersion = 0; // 0: only if absent
    qint64 ttlMs = 0;            // put: 0 = no expiry
    char kind = 'J';
    QByteArray value;
};

// All of a write applied (one entry per change, with its version and expiry), or none: then
// `refusedAt` is the change that was refused and why.
struct BrokerKvWritten
{
    QList<BrokerKvEntry> changes;
    int refusedAt = -1;
    int code = 0;               // 404 missing key, 409 version conflict, 507 bucket full
    bool currentExists = false; // 409: the key's state
    quint64 currentVersion = 0;
};

struct BrokerKvPage
{
    QList<BrokerKvEntry> entries; // key, version, expiresAt
    QString next;
    quint64 revision = 0;
};

// A new epoch: eight random Crockford base32 characters (what the server gives a channel whose
// history starts over).
MTW_CORE_EXPORT QString newStreamEpoch();

template<typename T>
using BrokerCallback = std::function<void(Result<T>)>;

// The server, as a broker sees it. Thread-safe; called from the broker's own threads.
class IBrokerNode
{
public:
    // Publications of `channel` from every node (this one included), in offset order, and
    // notices (presence join/leave: position.offset == 0). `senderKey` is the connection that
    // sent it when it came from this node (0 otherwise): it never receives its own message.
    virtual void deliver(const QString &channel,
                         const QByteArray &envelope,
                         const BrokerPosition &position,
                         quint64 senderKey) = 0;
    // A command another node sent to every node (IBroker::control).
    virtual void control(const QByteArray &command) = 0;
    // A change of a shared bucket, from any node, in the bucket's revision order: `op` is put,
    // delete or expire (a removal carries key and version only).
    virtual void kvChanged(const QString &bucket,
                           const QString &op,
                           const BrokerKvEntry &entry,
                           const QString &writer) = 0;
    // Connected to the broker, or lost it (`detail` says why); logged and in /readyz.
    virtual void brokerStateChanged(bool connected, const QString &detail) = 0;
    // For the heartbeat.
    virtual int connectionCount() const = 0;
    virtual QString address() const = 0; // host:port clients connect to

protected:
    ~IBrokerNode() = default;
};

// Implemented by a broker module. Every call is thread-safe and returns at once; callbacks run
// later on a thread of the broker's, exactly once each (with an Error when the broker is
// unreachable, gave up, or stopped), and must not block. Calls for one channel from one thread
// reach the broker in the order they were made, so that a publisher's order is kept.
class IBroker
{
public:
    virtual ~IBroker() = default;

    // Once, from the server's thread, after the modules started and before the first client.
    // `nodeId` names this node in the cluster (unique per process run).
    virtual void attach(IBrokerNode *node, const QString &nodeId) = 0;
    // Before the module stops: no more deliveries or callbacks into `node` after it returns.
    virtual void detach() = 0;
    virtual bool isConnected() const = 0;

    virtual void publish(const BrokerPublish &publish, BrokerCallback<BrokerPublished> done) = 0;
    // To every member on every node, without a position (presence join/leave).
    virtual void notice(const QString &channel, const QByteArray &envelope, quint64 senderKey) = 0;
    // This node delivers `channel` from now on (IBrokerNode::deliver) until the member leaves.
    // The member is remembered even when the broker is unreachable (done then gets a 503), and
    // registered again whenever the broker comes back.
    virtual void join(const BrokerJoin &join, BrokerCallback<BrokerJoined> done) = 0;
    virtual void leave(const QString &channel, const QString &connId) = 0;

    virtual void history(const BrokerHistoryQuery &query, BrokerCallback<BrokerHistory> done) = 0;
    virtual void presence(const QString &channel, BrokerCallback<QList<BrokerMember>> done) = 0;
    // Channels with members anywhere, sorted by name, after `after`; at most `limit`.
    virtual void
    channels(const QString &after, int limit, BrokerCallback<QList<BrokerChannel>> done) = 0;
    virtual void nodes(BrokerCallback<QList<BrokerNodeInfo>> done) = 0;
    // To every other node's IBrokerNode::control (a JSON object).
    virtual void control(const QByteArray &command) = 0;

    // The shared key-value store: limits of size and key syntax are checked by the server first.
    virtual void kvWrite(const QString &bucket,
                         const QList<BrokerKvWrite> &writes,
                         int maxKeys,
                         const QString &writer,
                         BrokerCallback<BrokerKvWritten> done) = 0;
    // An absent (or expired) key: an entry with version 0.
    virtual void
    kvGet(const QString &bucket, const QString &key, BrokerCallback<BrokerKvEntry> done) = 0;
    virtual void kvList(const QString &bucket,
                        const QString &prefix,
                        const QString &after,
                        int limit,
                        BrokerCallback<BrokerKvPage> done) = 0;
};

} // namespace Mtw
