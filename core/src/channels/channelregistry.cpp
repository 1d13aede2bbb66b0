// SPDX-License-Identifier: MIT
#include "channels/channelregistry.h"

#include "channels/channelpattern.h"
#include "channels/historyring.h"

#include <QDateTime>
#include <QHash>
#include <QLoggingCategory>
#include <QMutex>
#include <QMutexLocker>
#include <QRandomGenerator>

#include <algorithm>

namespace Mtw::Internal {

namespace {

Q_LOGGING_CATEGORY(lcChannels, "mtw.channels", QtInfoMsg)

// Independent of the seed QHash uses inside a shard, so that one shard's keys still spread over
// all of its buckets (even with QT_HASH_SEED=0).
constexpr size_t kShardSeed = 0x9e3779b97f4a7c15ULL;

quint64 workerBit(int worker)
{
    return quint64(1) << worker;
}

QString quotedForMessage(const QString &name)
{
    // A rejected name may be anything a client sent; keep the message bounded.
    if (name.size() > MaxChannelNameLength)
        return name.left(MaxChannelNameLength) + QStringLiteral("...");
    return name;
}

tl::unexpected<Error> invalidName(const QString &name)
{
    if (name.size() > MaxChannelNameLength) {
        return fail(400,
                    QStringLiteral("invalid channel name \"%1\": %2 characters, at most %3")
                        .arg(quotedForMessage(name))
                        .arg(name.size())
                        .arg(MaxChannelNameLength));
    }
    return fail(400, QStringLiteral("invalid channel name \"%1\"").arg(quotedForMessage(name)));
}

tl::unexpected<Error> notFound(const QString &name)
{
    return fail(404, QStringLiteral("channel '%1' not found").arg(name));
}

tl::unexpected<Error> requiresAuth(const QString &name)
{
    return fail(401, QStringLiteral("channel '%1' requires authentication").arg(name));
}

} // namespace
} // namespace Mtw::Internal

// Eight random Crockford base32 characters: a new one whenever a channel's history starts over.
QString Mtw::newStreamEpoch()
{
    static constexpr char Alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    quint64 bits = QRandomGenerator::global()->generate64();
    QString epoch(8, Qt::Uninitialized);
    for (QChar &c : epoch) {
        c = QLatin1Char(Alphabet[bits & 31]);
        bits >>= 5;
    }
    return epoch;
}

namespace Mtw::Internal {
namespace {

QString newEpoch()
{
    return newStreamEpoch();
}

HistoryBounds boundsOf(const ChannelSettings &settings)
{
    HistoryBounds bounds;
    bounds.setCount(settings.history);
    bounds.setBytes(settings.historyBytes);
    bounds.setTtlMs(qint64(settings.historyTtl) * 1000);
    return bounds;
}

} // namespace

struct ChannelRegistry::Channel
{
    ChannelSettings settings;
    QHash<quint64, Member> members; // by connKey
    QList<int> workerCounts;        // members per worker; sized workerCount
    quint64 workerMask = 0;         // bit i set iff workerCounts[i] > 0
    HistoryRing history;
    StreamPosition position;    // the last offset given out, in the current epoch
    HistoryBounds bounds;       // for the store; == settings
    qint64 published = 0;       // messages published since the channel was created
    bool configured = false;    // configured by exact name: never reclaimed
    bool clusterSynced = false; // `position` is the cluster's (from the broker), not this node's
    qint64 lastActivity = 0;    // registry clock (ms): last publish, or when the last member left
};

// Aligned to a cache line so that workers locking neighbouring shards do not share one.
struct alignas(64) ChannelRegistry::Shard
{
    mutable QMutex mutex;
    QHash<QString, Channel> channels;
};

ChannelRegistry::ChannelRegistry(const Mtw::Config &config, int workerCount)
    : m_resolver(std::make_shared<const ChannelSettingsResolver>(config))
    , m_workerCount(std::clamp(workerCount, 1, MaxWorkers))
    , m_maxChannels(config.server.maxChannels)
    , m_shards(new Shard[ShardCount])
{
    m_clock.start();
    const QStringList names = m_resolver->exactNames();
    for (const QString &name : names) {
        Channel channel = makeChannel(m_resolver->resolve(name));
        channel.configured = true;
        shardFor(name).channels.emplace(name, std::move(channel));
    }
    m_channelCount.store(int(names.size()), std::memory_order_relaxed);
}

ChannelRegistry::~ChannelRegistry() = default;

ChannelRegistry::Shard &ChannelRegistry::shardFor(const QString &channel) const
{
    return m_shards[qHash(channel, kShardSeed) % ShardCount];
}

ChannelRegistry::Channel ChannelRegistry::makeChannel(const ChannelSettings &settings) const
{
    Channel channel;
    channel.settings = settings;
    channel.workerCounts.resize(m_workerCount, 0);
    channel.history =
        HistoryRing(settings.history, settings.historyBytes, qint64(settings.historyTtl) * 1000);
    channel.position.epoch = newEpoch();
    channel.bounds = boundsOf(settings);
    return channel;
}

ChannelRegistry::JoinStatus ChannelRegistry::joinLocked(Channel &channel,
                                                        const Member &member,
                                                        const JoinRequest &request,
                                                        SubscribeOutcome &out) const
{
    out.settings = channel.settings;
    out.presence = channel.settings.presence;
    if (channel.settings.auth && !request.authenticated)
        return JoinStatus::Unauthorized;

    const auto existing = channel.members.constFind(member.connKey);
    if (existing != channel.members.cend()) {
        out.alreadyMember = true;
        const int worker = existing->worker;
        out.workerMask = channel.workerMask;
        if (channel.workerCounts.at(worker) == 1)
            out.workerMask &= ~workerBit(worker);
    } else {
        // In a cluster the broker counted the members of every node.
        if (!request.joined && channel.settings.maxMembers > 0
            && channel.members.size() >= channel.settings.maxMembers)
            return JoinStatus::Full;
        // Others only: the mask before this member is added.
        out.workerMask = channel.workerMask;
        channel.members.insert(member.connKey, member);
        ++channel.workerCounts[member.worker];
        channel.workerMask |= workerBit(member.worker);
    }
    out.members = int(channel.members.size());
    out.position = channel.position;
    if (request.joined) {
        joinClusterLocked(channel, request, out);
        return JoinStatus::Joined;
    }
    if (request.recover)
        out.recovery = recoverLocked(channel, *request.recover);
    else if (request.historyLimit > 0)
        out.history = channel.history.newest(request.historyLimit, now());
    return JoinStatus::Joined;
}

// The broker read the channel's position and history when it counted the member; this node may
// have received later publications since (it listens before the broker reads). The member
// joins after the later of the two, and what it asked to read covers both.
void ChannelRegistry::joinClusterLocked(Channel &channel,
                                        const JoinRequest &request,
                                        SubscribeOutcome &out) const
{
    const BrokerJoined &joined = *request.joined;
    const StreamPosition read{joined.position.offset, joined.position.epoch};
    if (!channel.clusterSynced || channel.position.epoch != read.epoch) {
        // The first word from the cluster, or the cluster started the channel over.
        if (channel.position.epoch != read.epoch)
            channel.history = HistoryRing(channel.settings.history,
                                          channel.settings.historyBytes,
                                          qint64(channel.settings.historyTtl) * 1000);
        channel.position = read;
        channel.clusterSynced = true;
    }
    QList<QByteArray> publications = joined.publications;
    if (channel.position.offset > read.offset) {
        publications +=
            channel.history.select(read.offset, 0, 0, HistoryRing::Window::Oldest, now());
    }
    out.position = channel.position.offset > read.offset ? channel.position : read;
    out.members = joined.members;
    if (request.recover) {
        out.recovery = Recovery{publications, joined.recovered};
    } else if (request.historyLimit > 0) {
        if (publications.size() > request.historyLimit)
            publications = publications.mid(publications.size() - request.historyLimit);
        out.history = publications;
    }
}

// Everything after `from` is there when the epoch is the same and the oldest publication kept
// follows it directly (or nothing was published since).
bool ChannelRegistry::isContinuous(const Channel &channel, const RecoverFrom &from, qint64 t) const
{
    if (from.epoch != channel.position.epoch || from.offset > channel.position.offset)
        return false;
    if (from.offset == channel.position.offset)
        return true;
    const quint64 first = channel.history.firstOffset(t);
    return first != 0 && first <= from.offset + 1;
}

Recovery ChannelRegistry::recoverLocked(const Channel &channel, const RecoverFrom &from) const
{
    const qint64 t = now();
    Recovery recovery;
    recovery.recovered = isContinuous(channel, from, t);
    // Another epoch, or an offset this epoch never reached: everything kept is news.
    const bool sameStream =
        from.epoch == channel.position.epoch && from.offset <= channel.position.offset;
    recovery.publications =
        channel.history.select(sameStream ? from.offset : 0, 0, 0, HistoryRing::Window::Oldest, t);
    return recovery;
}

Result<SubscribeOutcome> ChannelRegistry::subscribe(const QString &channel,
                                                    const Member &member,
                                                    bool authenticated,
                                                    int historyLimit,
                                                    const std::optional<RecoverFrom> &recover,
                                                    const BrokerJoined *joined)
{
    const JoinRequest request{authenticated, historyLimit, recover, joined};
    if (!isValidChannelName(channel))
        return invalidName(channel);
    if (member.worker < 0 || member.worker >= m_workerCount) {
        return fail(500,
                    QStringLiteral("worker index %1 out of range (workers: %2)")
                        .arg(member.worker)
                        .arg(m_workerCount));
    }

    Shard &shard = shardFor(channel);
    SubscribeOutcome out;
    JoinStatus status = JoinStatus::Missing;
    {
        QMutexLocker locker(&shard.mutex);
        const auto it = shard.channels.find(channel);
        if (it != shard.channels.end())
            status = joinLocked(*it, member, request, out);
    }

    if (status == JoinStatus::Missing) {
        // Resolve and allocate the new channel outside the lock, then insert it unless another
        // worker created it meanwhile (then `fresh` is dropped, also outside the lock).
        const ChannelSettings settings = resolve(channel);
        if (settings.auth && !authenticated)
            return requiresAuth(channel);
        // At the bound, channels that only wait out their quiet period go first: empty ones
        // cannot be used to lock newcomers out.
        if (m_channelCount.load(std::memory_order_relaxed) >= maxChannels())
            reclaim(ReclaimMode::EvenIfRecent);
        Channel fresh = makeChannel(settings);
        bool created = false;
        {
            QMutexLocker locker(&shard.mutex);
            auto it = shard.channels.find(channel);
            if (it == shard.channels.end()) {
                // The bound may be passed by at most one channel per shard racing here.
                if (m_channelCount.load(std::memory_order_relaxed) >= maxChannels()) {
                    status = JoinStatus::TooManyChannels;
                } else {
                    it = shard.channels.emplace(channel, std::move(fresh));
                    m_channelCount.fetch_add(1, std::memory_order_relaxed);
                    created = true;
                }
            }
            if (status != JoinStatus::TooManyChannels)
                status = joinLocked(*it, member, request, out);
        }
        if (created)
            qCDebug(lcChannels) << "created channel" << channel;
    }

    switch (status) {
    case JoinStatus::Joined:
        return out;
    case JoinStatus::Unauthorized:
        return requiresAuth(channel);
    case JoinStatus::Full:
        return fail(409,
                    QStringLiteral("channel '%1' is full (max: %2)")
                        .arg(channel)
                        .arg(out.settings.maxMembers));
    case JoinStatus::TooManyChannels:
        qCWarning(lcChannels).noquote() << "refused to create channel" << channel
                                        << "- server.max_channels =" << maxChannels() << "reached";
        return fail(503,
                    QStringLiteral("the server has too many channels (server.max_channels = %1)")
                        .arg(maxChannels()));
    case JoinStatus::Missing:
        break;
    }
    Q_UNREACHABLE();
    return fail(500, QStringLiteral("internal error subscribing to '%1'").arg(channel));
}

UnsubscribeOutcome ChannelRegistry::unsubscribe(const QString &channel, quint64 connKey)
{
    UnsubscribeOutcome out;
    if (!isValidChannelName(channel))
        return out;
    Shard &shard = shardFor(channel);
    HistoryRing::Evicted evicted; // released after the lock
    std::optional<Channel> removed;
    QMutexLocker locker(&shard.mutex);
    const auto it = shard.channels.find(channel);
    if (it == shard.channels.end())
        return out;
    Channel &ch = *it;
    out.presence = ch.settings.presence;
    const auto member = ch.members.find(connKey);
    if (member != ch.members.end()) {
        out.wasMember = true;
        out.member = std::move(*member); // its strings are released by the caller, not here
        ch.members.erase(member);
        if (--ch.workerCounts[out.member.worker] == 0)
            ch.workerMask &= ~workerBit(out.member.worker);
    }
    out.members = int(ch.members.size());
    out.workerMask = ch.workerMask;
    if (out.wasMember && ch.members.isEmpty())
        ch.lastActivity = now();
    // The last member of a channel with nothing to replay and history_ttl = 0: it goes now, not
    // at the next sweep.
    if (out.wasMember && isReclaimable(ch, now(), evicted, ReclaimMode::Quiet)) {
        forgetStored(channel);
        removed.emplace(std::move(ch));
        shard.channels.erase(it);
        m_channelCount.fetch_sub(1, std::memory_order_relaxed);
    }
    locker.unlock();
    return out;
}

// Unconfigured, no members, nothing left to replay, and quiet for history_ttl: a client that
// publishes just after the last member left still finds the channel.
bool ChannelRegistry::isReclaimable(Channel &channel,
                                    qint64 t,
                                    HistoryRing::Evicted &evicted,
                                    ReclaimMode mode) const
{
    if (channel.configured || !channel.members.isEmpty())
        return false;
    channel.history.expire(t, evicted);
    if (channel.history.size() > 0)
        return false;
    const qint64 ttl = qint64(channel.settings.historyTtl) * 1000;
    return mode == ReclaimMode::EvenIfRecent || ttl == 0 || t - channel.lastActivity >= ttl;
}

int ChannelRegistry::reclaim(ReclaimMode mode)
{
    int reclaimed = 0;
    const qint64 t = now();
    for (int i = 0; i < ShardCount; ++i) {
        Shard &shard = m_shards[i];
        HistoryRing::Evicted evicted;
        QList<Channel> removed; // destroyed after the lock
        QMutexLocker locker(&shard.mutex);
        for (auto it = shard.channels.begin(); it != shard.channels.end();) {
            if (isReclaimable(*it, t, evicted, mode)) {
                forgetStored(it.key());
                removed.append(std::move(*it));
                it = shard.channels.erase(it);
                ++reclaimed;
            } else {
                ++it;
            }
        }
        m_channelCount.fetch_sub(int(removed.size()), std::memory_order_relaxed);
        locker.unlock();
    }
    if (reclaimed > 0)
        qCDebug(lcChannels) << "reclaimed" << reclaimed << "unused channels";
    return reclaimed;
}

Result<PublishOutcome> ChannelRegistry::publish(const QString &channel,
                                                quint64 senderConnKey,
                                                bool authenticated,
                                                PublishSink &sink)
{
    if (!isValidChannelName(channel))
        return invalidName(channel);

    enum class Status { Published, Missing, Unauthorized };
    Status status = Status::Published;
    PublishOutcome out;
    HistoryRing::Evicted evicted; // destroyed after the lock is released
    {
        Shard &shard = shardFor(channel);
        QMutexLocker locker(&shard.mutex);
        const auto it = shard.channels.find(channel);
        if (it == shard.channels.end()) {
            status = Status::Missing;
        } else if (it->settings.auth && !authenticated) {
            status = Status::Unauthorized;
        } else {
            publishLocked(it.key(), *it, senderConnKey, sink, out, evicted);
        }
    }
    switch (status) {
    case Status::Missing:
        return notFound(channel);
    case Status::Unauthorized:
        return requiresAuth(channel);
    case Status::Published:
        break;
    }
    return out;
}

// Takes the next offset, encodes, keeps, persists and routes: all under the channel's lock, so
// that every reader sees the channel's publications in offset order.
void ChannelRegistry::publishLocked(const QString &name,
                                    Channel &ch,
                                    quint64 senderConnKey,
                                    PublishSink &sink,
                                    PublishOutcome &out,
                                    HistoryRing::Evicted &evicted)
{
    ch.lastActivity = now();
    ++ch.published;
    ++ch.position.offset;
    out.position = ch.position;
    out.settings = ch.settings;
    out.binary = ch.settings.binary;
    out.workerMask = ch.workerMask;
    qsizetype recipients = ch.members.size();
    const auto sender = ch.members.constFind(senderConnKey);
    if (sender != ch.members.cend()) {
        --recipients;
        if (ch.workerCounts.at(sender->worker) == 1)
            out.workerMask &= ~workerBit(sender->worker);
    }
    out.recipients = int(recipients);
    out.envelope = sink.encode(out.position);
    ch.history.push(out.envelope, out.position.offset, ch.lastActivity, evicted);
    if (m_store && ch.settings.history > 0) {
        StoredPublication stored;
        stored.setOffset(out.position.offset);
        stored.setPublishedAt(QDateTime::currentMSecsSinceEpoch());
        stored.setEnvelope(out.envelope);
        try {
            m_store->appendPublication(name, ch.position.epoch, stored, ch.bounds);
        } catch (...) {
            storeThrew();
        }
    }
    sink.route(out);
}

Result<PublishCheck> ChannelRegistry::checkChannel(const QString &channel,
                                                   quint64 senderConnKey,
                                                   bool authenticated) const
{
    if (!isValidChannelName(channel))
        return invalidName(channel);
    PublishCheck check;
    {
        Shard &shard = shardFor(channel);
        QMutexLocker locker(&shard.mutex);
        const auto it = shard.channels.constFind(channel);
        if (it != shard.channels.cend()) {
            check.exists = true;
            check.configured = it->configured;
            check.settings = it->settings;
            check.workerMask = it->workerMask;
            qsizetype recipients = it->members.size();
            const auto sender = it->members.constFind(senderConnKey);
            if (sender != it->members.cend()) {
                check.senderIsMember = true;
                --recipients;
                if (it->workerCounts.at(sender->worker) == 1)
                    check.workerMask &= ~workerBit(sender->worker);
            }
            check.localRecipients = int(recipients);
        }
    }
    if (!check.exists)
        check.settings = resolve(channel);
    if (check.settings.auth && !authenticated)
        return requiresAuth(channel);
    return check;
}

bool ChannelRegistry::acceptFromCluster(const QString &channel,
                                        const StreamPosition &position,
                                        const QByteArray &envelope,
                                        const std::function<void(const ClusterRoute &)> &route)
{
    if (!isValidChannelName(channel))
        return false;
    Shard &shard = shardFor(channel);
    HistoryRing::Evicted evicted; // destroyed after the lock
    std::optional<Channel> fresh;
    QMutexLocker locker(&shard.mutex);
    auto it = shard.channels.find(channel);
    if (it == shard.channels.end()) {
        if (position.offset == 0)
            return false; // a notice for a channel without members here
        locker.unlock();
        fresh.emplace(makeChannel(resolve(channel)));
        locker.relock();
        it = shard.channels.find(channel);
        if (it == shard.channels.end()) {
            it = shard.channels.emplace(channel, std::move(*fresh));
            m_channelCount.fetch_add(1, std::memory_order_relaxed);
        }
    }
    Channel &ch = *it;
    ClusterRoute out{ch.workerMask, ch.settings.binary, false};
    if (position.offset == 0) {
        if (out.workerMask == 0)
            return false;
        route(out);
        return true;
    }
    if (ch.clusterSynced && ch.position.epoch == position.epoch
        && position.offset <= ch.position.offset)
        return false; // already here
    if (ch.clusterSynced && ch.position.epoch != position.epoch) {
        ch.history = HistoryRing(ch.settings.history,
                                 ch.settings.historyBytes,
                                 qint64(ch.settings.historyTtl) * 1000);
        out.resetJoins = true;
        qCInfo(lcChannels).noquote() << "channel" << channel << "started over in the cluster: epoch"
                                     << position.epoch << "follows" << ch.position.epoch;
    }
    ch.clusterSynced = true;
    ch.position = position;
    ch.lastActivity = now();
    ++ch.published;
    ch.history.push(envelope, position.offset, ch.lastActivity, evicted);
    if (out.workerMask == 0 && !out.resetJoins)
        return false;
    route(out);
    return true;
}

Result<QList<QByteArray>> ChannelRegistry::history(const QString &channel, int limit) const
{
    auto page = history(channel, HistoryQuery{limit, false, std::nullopt});
    if (!page)
        return tl::unexpected(page.error());
    return std::move(page->publications);
}

Result<HistoryPage> ChannelRegistry::history(const QString &channel,
                                             const HistoryQuery &query) const
{
    if (!isValidChannelName(channel))
        return invalidName(channel);
    HistoryPage page;
    {
        Shard &shard = shardFor(channel);
        QMutexLocker locker(&shard.mutex);
        const auto it = shard.channels.constFind(channel);
        if (it == shard.channels.cend()) {
            locker.unlock();
            return notFound(channel);
        }
        page.position = it->position;
        page.publications = selectLocked(*it, query, page.recovered);
    }
    if (query.reverse)
        std::reverse(page.publications.begin(), page.publications.end());
    return page;
}

// A store module must not throw (it is called under the channel's lock); if it does, the
// publication stays in memory and the log says so, once.
void ChannelRegistry::storeThrew() const
{
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true))
        qCCritical(lcChannels) << "the store module threw an exception; history is kept in memory";
}

void ChannelRegistry::forgetStored(const QString &channel)
{
    if (!m_store)
        return;
    try {
        m_store->removeChannel(channel);
    } catch (...) {
        storeThrew();
    }
}

// Forward from `since` (oldest first after it), backward from it with `reverse` (the newest
// before it), or the newest without it. Another epoch, or an offset this epoch never reached,
// reads from the start of what is kept.
QList<QByteArray> ChannelRegistry::selectLocked(const Channel &channel,
                                                const HistoryQuery &query,
                                                bool &recovered) const
{
    using Window = HistoryRing::Window;
    const qint64 t = now();
    if (!query.since)
        return channel.history.select(0, 0, query.limit, Window::Newest, t);
    const RecoverFrom &since = *query.since;
    const bool sameStream =
        since.epoch == channel.position.epoch && since.offset <= channel.position.offset;
    recovered = isContinuous(channel, since, t);
    if (query.reverse)
        return channel.history.select(0,
                                      sameStream ? since.offset : 0,
                                      query.limit,
                                      Window::Newest,
                                      t);
    return channel.history.select(sameStream ? since.offset : 0, 0, query.limit, Window::Oldest, t);
}

void ChannelRegistry::restore(const StoreSnapshot &snapshot, IStore *store)
{
    const qint64 wallNow = QDateTime::currentMSecsSinceEpoch();
    int dropped = 0;
    const QList<StoredChannel> channels = snapshot.channels();
    for (const StoredChannel &stored : channels) {
        if (!isValidChannelName(stored.name())) {
            ++dropped;
            continue;
        }
        Shard &shard = shardFor(stored.name());
        if (!shard.channels.contains(stored.name())) {
            if (m_channelCount.load(std::memory_order_relaxed) >= maxChannels()) {
                ++dropped;
                continue;
            }
            shard.channels.emplace(stored.name(), makeChannel(resolve(stored.name())));
            m_channelCount.fetch_add(1, std::memory_order_relaxed);
        }
        restoreChannel(stored, wallNow, snapshot.isComplete());
    }
    m_store = store;
    if (dropped > 0) {
        qCWarning(lcChannels) << "the store kept" << dropped
                              << "channels that were not restored (invalid name, or beyond"
                              << "server.max_channels =" << maxChannels() << ")";
    }
    qCInfo(lcChannels) << "restored" << channels.size() - dropped << "channels from the store";
    if (!snapshot.isComplete() && !channels.isEmpty()) {
        qCWarning(lcChannels) << "the store may miss the last changes before it stopped: the"
                              << channels.size() - dropped << "restored channels start new epochs"
                              << "(clients recovering get recovered: false)";
    }
}

// The stored epoch and offset, and the publications today's bounds keep, their ages carried
// over from the wall clock to the registry's monotonic one.
void ChannelRegistry::restoreChannel(const StoredChannel &stored, qint64 wallNow, bool complete)
{
    Channel &ch = shardFor(stored.name()).channels[stored.name()];
    // An incomplete snapshot may lack offsets clients saw: those must not name the same stream.
    ch.position.epoch = !complete || stored.epoch().isEmpty() ? newEpoch() : stored.epoch();
    ch.position.offset = stored.offset();
    ch.lastActivity = now();
    HistoryRing::Evicted evicted;
    const QList<StoredPublication> publications = stored.publications();
    for (const StoredPublication &publication : publications) {
        if (publication.offset() <= ch.history.lastOffset() || publication.offset() == 0)
            continue; // out of order: keep the stream strictly increasing
        const qint64 at = now() - std::max<qint64>(0, wallNow - publication.publishedAt());
        ch.history.push(publication.envelope(), publication.offset(), at, evicted);
        ch.position.offset = std::max(ch.position.offset, publication.offset());
    }
    ch.history.expire(now(), evicted);
}

Result<QList<Member>> ChannelRegistry::presence(const QString &channel) const
{
    if (!isValidChannelName(channel))
        return invalidName(channel);
    QList<Member> members;
    {
        Shard &shard = shardFor(channel);
        QMutexLocker locker(&shard.mutex);
        const auto it = shard.channels.constFind(channel);
        if (it == shard.channels.cend()) {
            locker.unlock();
            return notFound(channel);
        }
        members.reserve(it->members.size());
        for (const Member &member : it->members)
            members.append(member);
    }
    std::sort(members.begin(), members.end(), [](const Member &a, const Member &b) {
        return a.connKey < b.connKey;
    });
    return members;
}

QList<ChannelInfo> ChannelRegistry::channels() const
{
    QList<ChannelInfo> out;
    for (int i = 0; i < ShardCount; ++i) {
        const Shard &shard = m_shards[i];
        QMutexLocker locker(&shard.mutex);
        out.reserve(out.size() + shard.channels.size());
        for (auto it = shard.channels.cbegin(); it != shard.channels.cend(); ++it) {
            out.append(ChannelInfo{it.key(),
                                   int(it->members.size()),
                                   int(it->history.size()),
                                   it->settings,
                                   it->published});
        }
    }
    std::sort(out.begin(), out.end(), [](const ChannelInfo &a, const ChannelInfo &b) {
        return a.name < b.name;
    });
    return out;
}

ChannelPage ChannelRegistry::channelPage(const QString &after, int limit, bool authenticated) const
{
    QList<ChannelInfo> matching;
    for (int i = 0; i < ShardCount; ++i) {
        const Shard &shard = m_shards[i];
        QMutexLocker locker(&shard.mutex);
        for (auto it = shard.channels.cbegin(); it != shard.channels.cend(); ++it) {
            if ((it->settings.auth && !authenticated) || (!after.isEmpty() && it.key() <= after))
                continue;
            matching.append(ChannelInfo{it.key(),
                                        int(it->members.size()),
                                        int(it->history.size()),
                                        it->settings,
                                        it->published});
        }
    }
    const auto byName = [](const ChannelInfo &a, const ChannelInfo &b) { return a.name < b.name; };
    ChannelPage page;
    limit = std::max(1, limit);
    const bool more = matching.size() > limit;
    if (more) {
        std::nth_element(matching.begin(), matching.begin() + limit, matching.end(), byName);
        matching.resize(limit);
    }
    std::sort(matching.begin(), matching.end(), byName);
    page.channels = std::move(matching);
    if (more) // the client asks again with after = next
        page.next = page.channels.constLast().name;
    return page;
}

std::shared_ptr<const ChannelSettingsResolver> ChannelRegistry::resolver() const
{
    QMutexLocker locker(&m_resolverMutex);
    return m_resolver;
}

ChannelSettings ChannelRegistry::resolve(const QString &name) const
{
    return resolver()->resolve(name);
}

QStringList ChannelRegistry::reconfigure(const Mtw::Config &config)
{
    auto next = std::make_shared<const ChannelSettingsResolver>(config);
    {
        // From here on, a channel created by a subscribe takes the new settings.
        QMutexLocker locker(&m_resolverMutex);
        m_resolver = next;
    }
    m_maxChannels.store(config.server.maxChannels, std::memory_order_relaxed);
    QStringList nowAuth;
    const qint64 t = now();
    for (int i = 0; i < ShardCount; ++i) {
        Shard &shard = m_shards[i];
        // Resolved outside the lock: a pattern list is walked per channel.
        QStringList names;
        {
            QMutexLocker locker(&shard.mutex);
            names = shard.channels.keys();
        }
        QList<ChannelSettings> settings;
        settings.reserve(names.size());
        for (const QString &name : std::as_const(names))
            settings.append(next->resolve(name));
        HistoryRing::Evicted evicted; // released after the lock
        QMutexLocker locker(&shard.mutex);
        for (qsizetype n = 0; n < names.size(); ++n) {
            const auto it = shard.channels.find(names.at(n));
            if (it == shard.channels.end())
                continue; // reclaimed meanwhile
            Channel &ch = *it;
            ch.configured = next->isConfiguredExact(names.at(n));
            const ChannelSettings &fresh = settings.at(n);
            if (fresh == ch.settings)
                continue;
            if (fresh.auth && !ch.settings.auth && !ch.members.isEmpty())
                nowAuth.append(names.at(n));
            if (fresh.history != ch.settings.history
                || fresh.historyBytes != ch.settings.historyBytes
                || fresh.historyTtl != ch.settings.historyTtl) {
                ch.history.setBounds(fresh.history,
                                     fresh.historyBytes,
                                     qint64(fresh.historyTtl) * 1000,
                                     t,
                                     evicted);
                ch.bounds = boundsOf(fresh);
            }
            ch.settings = fresh;
        }
    }
    // Channels named exactly for the first time exist from now on, like those of the start.
    const QStringList exact = next->exactNames();
    for (const QString &name : exact) {
        Shard &shard = shardFor(name);
        QMutexLocker locker(&shard.mutex);
        if (shard.channels.contains(name))
            continue;
        Channel channel = makeChannel(next->resolve(name));
        channel.configured = true;
        shard.channels.emplace(name, std::move(channel));
        m_channelCount.fetch_add(1, std::memory_order_relaxed);
    }
    return nowAuth;
}

int ChannelRegistry::channelCount() const
{
    return m_channelCount.load(std::memory_order_relaxed);
}

std::optional<ChannelSettings> ChannelRegistry::settings(const QString &channel) const
{
    Shard &shard = shardFor(channel);
    QMutexLocker locker(&shard.mutex);
    const auto it = shard.channels.constFind(channel);
    if (it == shard.channels.cend())
        return std::nullopt;
    return it->settings;
}

bool ChannelRegistry::isMember(const QString &channel, quint64 connKey) const
{
    Shard &shard = shardFor(channel);
    QMutexLocker locker(&shard.mutex);
    const auto it = shard.channels.constFind(channel);
    return it != shard.channels.cend() && it->members.contains(connKey);
}

} // namespace Mtw::Internal
