// SPDX-License-Identifier: MIT
#pragma once

#include "channels/channelsettings.h"
#include "channels/historyring.h"

#include <mtw/config.h>
#include <mtw/result.h>

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QString>

#include <atomic>
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

struct SubscribeOutcome
{
    int members = 0;            // after the subscribe
    bool alreadyMember = false; // idempotent re-subscribe: no presence event
    QList<QByteArray> history;  // newest min(historyLimit, stored), oldest first
    ChannelSettings settings;
    quint64 workerMask = 0; // bit i: worker i holds a member other than the subscriber
    bool presence = false;  // == settings.presence
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
    const ChannelSettingsResolver &resolver() const { return m_resolver; }

    // Creates the channel if needed. Errors: 400 invalid name, 401 auth channel and
    // !authenticated, 409 full, 503 server.max_channels reached, 500 member.worker out of range.
    // A failed subscribe creates nothing.
    Result<SubscribeOutcome>
    subscribe(const QString &channel, const Member &member, bool authenticated, int historyLimit);
    // Not an error when the connection is not a member or the channel does not exist.
    UnsubscribeOutcome unsubscribe(const QString &channel, quint64 connKey);
    // Appends `encodedEnvelope` to the history and says where to deliver it. Errors: 400 invalid
    // name, 404 neither configured by exact name nor ever subscribed, 401 auth channel and
    // !authenticated. The sender need not be a member.
    Result<PublishOutcome> publish(const QString &channel,
                                   quint64 senderConnKey,
                                   bool authenticated,
                                   const QByteArray &encodedEnvelope);

    // Newest `limit` stored envelopes, oldest first (limit <= 0: all). 400 / 404 as publish.
    Result<QList<QByteArray>> history(const QString &channel, int limit) const;
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
    JoinStatus joinLocked(Channel &channel,
                          const Member &member,
                          bool authenticated,
                          int historyLimit,
                          SubscribeOutcome &out) const;
    Channel makeChannel(const ChannelSettings &settings) const;
    bool isReclaimable(Channel &channel,
                       qint64 t,
                       HistoryRing::Evicted &evicted,
                       ReclaimMode mode) const;
    qint64 now() const { return m_clock.elapsed(); }

    ChannelSettingsResolver m_resolver;
    int m_workerCount = 1;
    int m_maxChannels = 0;
    QElapsedTimer m_clock; // history ages; monotonic
    std::atomic<int> m_channelCount{0};
    std::unique_ptr<Shard[]> m_shards;
};

} // namespace Mtw::Internal
