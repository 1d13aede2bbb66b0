// SPDX-License-Identifier: MIT
#pragma once

#include "channels/channelsettings.h"
#include "channels/historyring.h"

#include <mtw/broker.h>
#include <mtw/config.h>
#include <mtw/result.h>
#include <mtw/store.h>

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QMutex>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace Mtw::Internal {

// One subscription as the registry keeps it. The strings are implicitly shared with the
// connection that owns them, so storing a Member copies no characters.
struct Member
{
    quint64 connKey = 0; // unique per process; the registry's identity for a connection
    QString connId;      // the conn_id clients see
    QString userId;      // empty when not authenticated
    int worker = 0;      // index of the I/O worker that owns the connection
    friend bool operator==(const Member &, const Member &) = default;
};

// Where a channel's publications are: offsets grow by one per publication within an epoch, and
// the epoch changes whenever the channel's history is lost (a new channel, a restart without a
// store, a channel reclaimed and created again).
struct StreamPosition
{
    quint64 offset = 0; // of the last publication; 0 before the first
    QString epoch;
    friend bool operator==(const StreamPosition &, const StreamPosition &) = default;
};

// What a reconnecting client says it saw last (metadata.recover, or `since` in history).
struct RecoverFrom
{
    quint64 offset = 0;
    QString epoch;
};

// The publications after a RecoverFrom, read under the same lock as the subscribe, so that
// every later publication reaches the subscriber live and none of these does.
struct Recovery
{
    QList<QByteArray> publications; // oldest first
    bool recovered = false;         // same epoch and nothing missing between the offset and them
};

struct SubscribeOutcome
{
    int members = 0;            // after the subscribe
    bool alreadyMember = false; // idempotent re-subscribe: no presence event
    QList<QByteArray> history;  // newest min(historyLimit, stored), oldest first
    ChannelSettings settings;
    quint64 workerMask = 0;  // bit i: worker i holds a member other than the subscriber
    bool presence = false;   // == settings.presence
    StreamPosition position; // at the moment of joining: later publications have higher offsets
    std::optional<Recovery> recovery; // when asked for
};

struct UnsubscribeOutcome
{
    bool wasMember = false;
    int members = 0;        // after the unsubscribe
    quint64 workerMask = 0; // workers holding remaining members
    bool presence = false;  // == settings.presence of the channel (false if it does not exist)
    Member member;          // the removed member when wasMember
};

struct PublishOutcome
{
    int recipients = 0;     // members other than the sender
    quint64 workerMask = 0; // workers holding at least one recipient
    bool binary = false;    // == settings.binary
    ChannelSettings settings;
    StreamPosition position; // of this publication
    QByteArray envelope;     // as PublishSink::encode made it
};

// The part of a publish that needs its offset: the registry calls both under the channel's
// lock, so that offsets, history, the store and every worker's queue see publications in one
// order. Keep them to encoding and queueing.
class PublishSink
{
public:
    // The envelope with metadata.offset and metadata.epoch set to `position`.
    virtual QByteArray encode(const StreamPosition &position) = 0;
    // Queues `outcome.envelope` for the workers in `outcome.workerMask`.
    virtual void route(const PublishOutcome &outcome) = 0;

protected:
    ~PublishSink() = default;
};

// One `history` read: at most `limit` (<= 0: all) publications. Without `since`: the newest.
// With `since`: the oldest ones after it (paging forward), or with `reverse` the newest ones
// before it (paging backward). `reverse` always answers newest first.
struct HistoryQuery
{
    int limit = 0;
    bool reverse = false;
    std::optional<RecoverFrom> since;
};

struct HistoryPage
{
    QList<QByteArray> publications;
    StreamPosition position;
    bool recovered = true; // with `since`: same epoch and nothing missing after it
};

// A publish checked on this node before the cluster's broker numbers it.
struct PublishCheck
{
    ChannelSettings settings;
    bool configured = false; // by exact name: it exists on every node
    bool exists = false;     // known on this node
    bool senderIsMember = false;
    int localRecipients = 0; // members on this node, the sender left out
    quint64 workerMask = 0;  // workers holding at least one of them
};

// What a publication (or notice) that came back from the broker goes to.
struct ClusterRoute
{
    quint64 workerMask = 0;
    bool binary = false;
    bool resetJoins = false; // the cluster's epoch changed: members' join offsets start over
};

struct ChannelInfo
{
    QString name;
    int members = 0;
    int historySize = 0;
    ChannelSettings settings;
    qint64 published = 0; // messages published to it so far
    friend bool operator==(const ChannelInfo &, const ChannelInfo &) = default;
};

// One page of the `channels` listing.
struct ChannelPage
{
    QList<ChannelInfo> channels; // sorted by name
    QString next;                // the name to pass as `after` for the next page; empty at the end
};

// Who is subscribed to what, per channel settings and history, shared by all I/O workers.
// Thread-safe: any method may be called from any thread. State is split into ShardCount shards by
// the hash of the channel name, each behind its own mutex held only for a few hash operations;
// no call holds two shard locks at once, and no user-visible string is built under a lock.
// The registry answers counts, worker masks, history and presence; it never delivers. Each worker
// keeps its own channel -> local connections map and delivers to it (docs/channels.md).
// Channels configured by exact name live as long as the registry. Others are created by a
// subscribe (bounded by server.max_channels) and removed once they have no members and nothing
// left in their history (history_ttl): at the last unsubscribe, or by reclaim().
class ChannelRegistry
{
public:
    static constexpr int ShardCount = 16;
    static constexpr int MaxWorkers = 64; // worker masks are 64 bits

    // Pre-creates every channel configured by exact name. workerCount is clamped to 1..MaxWorkers.
    ChannelRegistry(const Mtw::Config &config, int workerCount);
    ~ChannelRegistry();
    Q_DISABLE_COPY_MOVE(ChannelRegistry)

    int workerCount() const { return m_workerCount; }
    // The settings a channel of this name gets when it is created now (the current resolver).
    ChannelSettings resolve(const QString &name) const;

    // A configuration reload ([[channels]], codec.*, server.max_channels; docs/channels.md#reload):
    // channels created from now on take the new settings, and every existing channel takes its
    // new settings at once: limits apply to what comes next (a lower max_members refuses new
    // members and keeps the current ones), a smaller history is trimmed now, a channel newly
    // named exactly is created and kept, one no longer named is reclaimed like any other once
    // empty. Returns the channels with members that now require authentication: their
    // workers remove the anonymous members (ChannelRegistry does not know who is
    // authenticated). Any thread; each shard is locked on its own, as for every other call.
    QStringList reconfigure(const Mtw::Config &config);

    // Creates the channel if needed. Errors: 400 invalid name, 401 auth channel and
    // !authenticated, 409 full, 503 server.max_channels reached, 500 member.worker out of range.
    // A failed subscribe creates nothing.
    // With `recover`, the outcome's recovery holds what was published after it.
    // In a cluster, `joined` is what the broker answered (it counted the member and checked
    // max_members over the cluster): the position and the publications read come from it, and
    // what this node received after that position is added from its history.
    Result<SubscribeOutcome> subscribe(const QString &channel,
                                       const Member &member,
                                       bool authenticated,
                                       int historyLimit,
                                       const std::optional<RecoverFrom> &recover = std::nullopt,
                                       const BrokerJoined *joined = nullptr);
    // Not an error when the connection is not a member or the channel does not exist.
    UnsubscribeOutcome unsubscribe(const QString &channel, quint64 connKey);
    // Appends `encodedEnvelope` to the history and says where to deliver it. Errors: 400 invalid
    // name, 404 neither configured by exact name nor ever subscribed, 401 auth channel and
    // !authenticated. The sender need not be a member.
    Result<PublishOutcome>
    publish(const QString &channel, quint64 senderConnKey, bool authenticated, PublishSink &sink);

    // In a cluster, before the broker numbers a publish or counts a member: 400 invalid name,
    // 401 auth channel and !authenticated (whether the channel exists is the cluster's to say).
    Result<PublishCheck>
    checkChannel(const QString &channel, quint64 senderConnKey, bool authenticated) const;
    // A publication of the cluster (offset > 0) or a notice (offset 0) the broker brought, in the
    // channel's offset order: recorded in the history and handed to `route` under the channel's
    // lock, so that every worker's queue holds the channel's publications in offset order. A
    // publication at or below the last one recorded in the same epoch is a duplicate and goes
    // nowhere. The channel is created if needed (the broker delivers only channels this node
    // joined). Returns false when nothing was routed.
    bool acceptFromCluster(const QString &channel,
                           const StreamPosition &position,
                           const QByteArray &envelope,
                           const std::function<void(const ClusterRoute &)> &route);

    // 400 / 404 as publish.
    Result<HistoryPage> history(const QString &channel, const HistoryQuery &query) const;
    // Newest `limit` stored envelopes, oldest first (limit <= 0: all). 400 / 404 as publish.
    Result<QList<QByteArray>> history(const QString &channel, int limit) const;

    // Before the workers start: the store's channels, with their epochs, offsets and history
    // (trimmed to today's settings), and the store every later change is written to (may be
    // null). Channels beyond server.max_channels are dropped with a log line.
    void restore(const StoreSnapshot &snapshot, IStore *store);
    // Members sorted by connKey. 400 / 404 as publish.
    Result<QList<Member>> presence(const QString &channel) const;
    // Every channel, sorted by name. Shards are read one after another, not as one snapshot.
    QList<ChannelInfo> channels() const;
    // Up to `limit` channels named after `after` (empty: from the start), sorted by name; auth
    // channels only when `authenticated`.
    ChannelPage channelPage(const QString &after, int limit, bool authenticated) const;
    enum class ReclaimMode {
        Quiet,        // and that have been quiet for their history_ttl
        EvenIfRecent, // at server.max_channels: every empty one
    };
    // Removes unconfigured channels without members whose history has expired. Returns how many.
    int reclaim(ReclaimMode mode = ReclaimMode::Quiet);
    int channelCount() const;
    std::optional<ChannelSettings> settings(const QString &channel) const;
    bool isMember(const QString &channel, quint64 connKey) const;

private:
    struct Channel;
    struct Shard;
    enum class JoinStatus { Joined, Missing, Unauthorized, Full, TooManyChannels };

    Shard &shardFor(const QString &channel) const;
    struct JoinRequest
    {
        bool authenticated = false;
        int historyLimit = 0;
        const std::optional<RecoverFrom> &recover;
        const BrokerJoined *joined = nullptr;
    };
    JoinStatus joinLocked(Channel &channel,
                          const Member &member,
                          const JoinRequest &request,
                          SubscribeOutcome &out) const;
    bool isContinuous(const Channel &channel, const RecoverFrom &from, qint64 t) const;
    QList<QByteArray>
    selectLocked(const Channel &channel, const HistoryQuery &query, bool &recovered) const;
    Channel makeChannel(const ChannelSettings &settings) const;
    void restoreChannel(const StoredChannel &stored, qint64 wallNow, bool complete);
    void forgetStored(const QString &channel);
    void storeThrew() const;
    Recovery recoverLocked(const Channel &channel, const RecoverFrom &from) const;
    void
    joinClusterLocked(Channel &channel, const JoinRequest &request, SubscribeOutcome &out) const;
    void publishLocked(const QString &name,
                       Channel &channel,
                       quint64 senderConnKey,
                       PublishSink &sink,
                       PublishOutcome &out,
                       HistoryRing::Evicted &evicted);
    bool isReclaimable(Channel &channel,
                       qint64 t,
                       HistoryRing::Evicted &evicted,
                       ReclaimMode mode) const;
    qint64 now() const { return m_clock.elapsed(); }

    std::shared_ptr<const ChannelSettingsResolver> resolver() const;
    int maxChannels() const { return m_maxChannels.load(std::memory_order_relaxed); }

    // Replaced by reconfigure(); read only when a channel is created (never on a publish).
    mutable QMutex m_resolverMutex;
    std::shared_ptr<const ChannelSettingsResolver> m_resolver;
    int m_workerCount = 1;
    std::atomic<int> m_maxChannels{0};
    QElapsedTimer m_clock; // history ages; monotonic
    std::atomic<int> m_channelCount{0};
    std::unique_ptr<Shard[]> m_shards;
    IStore *m_store = nullptr; // set by restore() before the workers start
};

} // namespace Mtw::Internal
