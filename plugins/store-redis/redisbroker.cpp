// SPDX-License-Identifier: MIT
#include "redisbroker.h"

#include "redisconnection.h"
#include "redislog.h"
#include "redisscripts.h"

#include <mtw/buildinfo.h>
#include <mtw/tsan.h>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDateTime>
#include <QHostInfo>
#include <QThread>
#include <QTimer>

#include <hiredis/hiredis.h>

namespace Mtw::StoreRedis {

using namespace Qt::StringLiterals;

namespace {

constexpr int MaxHeldWhileSyncing = 100000; // live messages held while a channel catches up

QByteArray scriptText(const char *body)
{
    return QByteArray(Scripts::Common) + Scripts::KvCommon + body;
}

QByteArray sha1(const QByteArray &text)
{
    return QCryptographicHash::hash(text, QCryptographicHash::Sha1).toHex();
}

// FNV-1a over the UTF-8 name: the same shard on every node, in every process.
quint64 stableHash(const QString &channel)
{
    quint64 hash = 1469598103934665603ULL;
    for (const char c : channel.toUtf8()) {
        hash ^= quint8(c);
        hash *= 1099511628211ULL;
    }
    return hash;
}

// Lamping and Veach's jump consistent hash: adding a shard moves only 1/n of the channels.
int jumpHash(quint64 key, int buckets)
{
    qint64 b = -1;
    qint64 j = 0;
    while (j < buckets) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = qint64(double(b + 1) * (double(1LL << 31) / double((key >> 33) + 1)));
    }
    return int(b);
}

const redisReply *element(const redisReply *reply, size_t i)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || i >= reply->elements)
        return nullptr;
    return reply->element[i];
}

QList<QByteArray> strings(const redisReply *array)
{
    QList<QByteArray> out;
    if (!array || array->type != REDIS_REPLY_ARRAY)
        return out;
    out.reserve(qsizetype(array->elements));
    for (size_t i = 0; i < array->elements; ++i)
        out.append(replyString(array->element[i]));
    return out;
}

// Redis's word for what went wrong, as the client's error.
Error replyError(const redisReply *reply, const QString &what)
{
    if (!reply)
        return Error{503, u"cluster broker unreachable: %1 got no answer from Redis"_s.arg(what)};
    return Error{
        503,
        u"cluster broker: Redis refused %1: %2"_s.arg(what, QString::fromUtf8(replyString(reply)))};
}

QByteArray number(qint64 value)
{
    return QByteArray::number(value);
}

} // namespace

struct RedisBroker::Shard
{
    RedisAddress address;
    RedisConnection *commands = nullptr;
    RedisConnection *subscriber = nullptr;
    bool ready() const { return commands->isReady() && subscriber->isReady(); }
};

struct RedisBroker::Incoming
{
    QString node;
    quint64 senderKey = 0;
    quint64 offset = 0;
    QString epoch;
    bool deliveredHere = false;
    QByteArray envelope;
};

// What this node has of one channel: its members here (registered again after a reconnect),
// whether Redis sends us its publications, and the last one delivered.
struct RedisBroker::ChannelState
{
    QHash<QString, QByteArray> members; // connId -> presence value ("" without presence)
    bool requested = false;             // SUBSCRIBE sent on the current connection
    bool subscribed = false;            // and confirmed
    QList<std::function<void()>> afterSubscribe;
    quint64 offset = 0; // last publication delivered
    QString epoch;
    bool syncing = false; // catching up after a reconnect: live messages wait in `held`
    QList<Incoming> held;
};

struct RedisBroker::Queued
{
    BrokerPublish publish;
    BrokerCallback<BrokerPublished> done;
};

RedisBroker::RedisBroker(const RedisSettings &settings)
    : m_settings(settings)
    , m_startedAt(QDateTime::currentMSecsSinceEpoch())
{ }

RedisBroker::~RedisBroker()
{
    stop();
}

void RedisBroker::start()
{
    m_thread = new QThread;
    m_thread->setObjectName(u"mtw-redis"_s);
    moveToThread(m_thread);
    m_thread->start();
    post([this] {
        for (const RedisAddress &address : m_settings.shards) {
            auto *shard = new Shard;
            shard->address = address;
            shard->commands = new RedisConnection(address, m_settings.timeoutMs, this);
            shard->subscriber = new RedisConnection(address, m_settings.timeoutMs, this);
            const int index = int(m_shards.size());
            shard->subscriber->setPush(
                [this, index](const redisReply *reply) { onPush(index, reply); });
            for (RedisConnection *connection : {shard->commands, shard->subscriber}) {
                connect(connection, &RedisConnection::ready, this, &RedisBroker::onReady);
                connect(connection, &RedisConnection::lost, this, &RedisBroker::onLost);
            }
            m_shards.append(shard);
        }
        m_heartbeat = new QTimer(this);
        m_heartbeat->setInterval(m_settings.heartbeatMs);
        connect(m_heartbeat, &QTimer::timeout, this, &RedisBroker::heartbeat);
        m_reconnect = new QTimer(this);
        m_reconnect->setSingleShot(true);
        connect(m_reconnect, &QTimer::timeout, this, &RedisBroker::connectAll);
    });
}

void RedisBroker::stop()
{
    if (!m_thread || m_stopped.exchange(true))
        return;
    m_connected.store(false);
    QMetaObject::invokeMethod(
        this,
        [this] {
            m_heartbeat->stop();
            m_reconnect->stop();
            // Closing runs every pending callback with a null reply: each gets its 503.
            for (Shard *shard : std::as_const(m_shards)) {
                shard->commands->close();
                shard->subscriber->close();
            }
            while (!m_queued.isEmpty()) {
                Queued *queued = m_queued.dequeue();
                queued->done(tl::unexpected(Error{503, u"cluster broker stopped"_s}));
                delete queued;
            }
            for (ChannelState *state : std::as_const(m_channels)) {
                for (const auto &then : std::as_const(state->afterSubscribe))
                    then(); // each sees the broker stopped and answers 503
                delete state;
            }
            m_channels.clear();
            // What belongs to this thread goes with it, deleted here: the connections (their
            // socket notifiers and watchdogs) and the timers. Handed back to the main thread,
            // they were deleted only with the module, when QLibrary unloads it at exit, after
            // QCoreApplication is gone.
            for (Shard *shard : std::as_const(m_shards)) {
                delete shard->commands;
                delete shard->subscriber;
            }
            qDeleteAll(m_shards);
            m_shards.clear();
            delete m_heartbeat;
            m_heartbeat = nullptr;
            delete m_reconnect;
            m_reconnect = nullptr;
            moveToThread(QCoreApplication::instance() ? QCoreApplication::instance()->thread()
                                                      : nullptr);
            QThread::currentThread()->quit();
        },
        Qt::BlockingQueuedConnection);
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
}

QString RedisBroker::state() const
{
    QMutexLocker locker(&m_stateMutex);
    return m_state;
}

// Every posted call checks m_stopped (or m_connected, false once stopped) before it touches
// anything: after stop() they run in the thread the broker was handed back to, and answer 503.
void RedisBroker::post(std::function<void()> work)
{
    Mtw::Tsan::release(this);
    QMetaObject::invokeMethod(
        this,
        [this, work = std::move(work)] {
            Mtw::Tsan::acquire(this);
            work();
        },
        Qt::QueuedConnection);
}

void RedisBroker::attach(IBrokerNode *node, const QString &nodeId)
{
    {
        QMutexLocker locker(&m_nodeMutex);
        m_node = node;
    }
    m_nodeId = nodeId;
    post([this] { connectAll(); });
}

void RedisBroker::detach()
{
    QMutexLocker locker(&m_nodeMutex);
    m_node = nullptr;
}

Error RedisBroker::unreachable() const
{
    if (m_stopped.load())
        return Error{503, u"cluster broker stopped"_s};
    return Error{503,
                 u"cluster broker unreachable: %1"_s.arg(m_lostBecause.isEmpty() ? u"connecting"_s
                                                                                 : m_lostBecause)};
}

void RedisBroker::reportState(bool connected, const QString &detail)
{
    {
        QMutexLocker locker(&m_stateMutex);
        m_state = detail;
    }
    QMutexLocker locker(&m_nodeMutex);
    if (m_node)
        m_node->brokerStateChanged(connected, detail);
}

// ---- connection life ----

void RedisBroker::connectAll()
{
    if (m_stopped.load())
        return;
    for (Shard *shard : std::as_const(m_shards)) {
        shard->commands->open();
        shard->subscriber->open();
    }
}

void RedisBroker::onReady()
{
    if (m_stopped.load())
        return;
    for (Shard *shard : std::as_const(m_shards)) {
        if (!shard->ready())
            return;
    }
    becomeConnected();
}

void RedisBroker::onLost(const QString &why)
{
    if (m_stopped.load())
        return;
    const bool wasUp = m_connected.exchange(false);
    m_lostBecause = why;
    m_heartbeat->stop();
    for (Shard *shard : std::as_const(m_shards)) {
        shard->commands->close();
        shard->subscriber->close();
    }
    for (ChannelState *state : std::as_const(m_channels)) {
        state->requested = false;
        state->subscribed = false;
        state->syncing = false;
        state->held.clear();
        const auto waiting = std::exchange(state->afterSubscribe, {});
        for (const auto &then : waiting)
            then(); // sees the broker unreachable: 503, the member stays for later
    }
    if (wasUp || !m_reported) {
        m_reported = true;
        reportState(false, why);
    } else {
        qCDebug(lcRedis).noquote() << "mtw-store-redis: still unreachable:" << why;
    }
    scheduleReconnect();
}

void RedisBroker::scheduleReconnect()
{
    if (m_reconnect->isActive())
        return;
    m_backoffMs = m_backoffMs == 0 ? 100 : std::min(m_backoffMs * 2, m_settings.reconnectMaxMs);
    m_reconnect->start(m_backoffMs);
}

// Every connection is up: say we are alive, listen again to what this node's members need,
// register them again, catch up on what was missed, then send what waited.
void RedisBroker::becomeConnected()
{
    // Every script is loaded first, ahead of any EVALSHA on the same connection: a NOSCRIPT
    // retry would let the commands behind it overtake it (a publisher's order broken).
    for (Shard *shard : std::as_const(m_shards)) {
        for (const char *script : {Scripts::Publish,
                                   Scripts::Join,
                                   Scripts::Leave,
                                   Scripts::Register,
                                   Scripts::ReadAfter,
                                   Scripts::History,
                                   Scripts::Presence,
                                   Scripts::Channels,
                                   Scripts::Heartbeat,
                                   Scripts::Nodes,
                                   Scripts::KvWrite,
                                   Scripts::KvGet,
                                   Scripts::KvList,
                                   Scripts::KvSweep}) {
            shard->commands->command(
                {QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), scriptFor(script).text},
                [](const redisReply *) {});
        }
    }
    heartbeat();
    m_heartbeat->start();
    m_shards.constFirst()->subscriber->subscription(
        {QByteArrayLiteral("SUBSCRIBE"), m_settings.prefix.toUtf8() + ":ctl"});
    for (Shard *shard : std::as_const(m_shards)) // every bucket's changes, wherever it lives
        shard->subscriber->subscription(
            {QByteArrayLiteral("PSUBSCRIBE"), m_settings.prefix.toUtf8() + ":kvev:*"});
    const QStringList names = m_channels.keys();
    for (const QString &channel : names) {
        registerMembers(channel);
        ChannelState *state = m_channels.value(channel);
        if (!state->epoch.isEmpty())
            state->syncing = true; // live messages wait until the gap is read
        subscribeChannel(channel);
        whenSubscribed(channel, [this, channel] { resync(channel); });
    }
    // Nothing is answered before the heartbeat, the registrations and the subscriptions that
    // were sent ahead of it on the same connections.
    m_shards.constFirst()->commands->command(
        {QByteArrayLiteral("PING")},
        [this](const redisReply *reply) {
            if (!reply || m_stopped.load())
                return;
            m_backoffMs = 0;
            m_connected.store(true, std::memory_order_release);
            QStringList addresses;
            for (const Shard *shard : std::as_const(m_shards))
                addresses.append(shard->address.display());
            const QString detail = u"node %1 on %2"_s.arg(m_nodeId, addresses.join(u", "_s));
            if (m_wasConnected)
                qCInfo(lcRedis).noquote() << "mtw-store-redis: Redis is back:" << detail;
            m_wasConnected = true;
            m_reported = true;
            m_lostBecause.clear();
            reportState(true, detail);
            flushQueued();
        });
}

void RedisBroker::heartbeat()
{
    int connections = 0;
    QString address;
    {
        QMutexLocker locker(&m_nodeMutex);
        if (m_node) {
            connections = m_node->connectionCount();
            address = m_node->address();
        }
    }
    const QList<QByteArray> args{m_nodeId.toUtf8(),
                                 number(m_settings.nodeTtlMs),
                                 QByteArrayLiteral("name"),
                                 QHostInfo::localHostName().toUtf8(),
                                 QByteArrayLiteral("address"),
                                 address.toUtf8(),
                                 QByteArrayLiteral("version"),
                                 versionString().toUtf8(),
                                 QByteArrayLiteral("connections"),
                                 number(connections),
                                 QByteArrayLiteral("started_at"),
                                 number(m_startedAt)};
    const bool sweep = ++m_heartbeats % 5 == 0;
    for (int i = 0; i < m_shards.size(); ++i) {
        runScript(i,
                  Scripts::Heartbeat,
                  {m_settings.prefix.toUtf8() + ":nodes", key("node", m_nodeId)},
                  args,
                  [](const redisReply *) {});
        // Expired entries go (each an "expire" change); every node sweeps, Redis runs one at a time.
        runScript(i, Scripts::KvSweep, {}, {m_settings.prefix.toUtf8()}, [](const redisReply *) {});
        if (sweep) // forgets nodes gone for three TTLs, with their counts and presence
            runScript(i,
                      Scripts::Nodes,
                      {m_settings.prefix.toUtf8() + ":nodes"},
                      {number(m_settings.nodeTtlMs), m_settings.prefix.toUtf8()},
                      [](const redisReply *) {});
    }
}

// ---- helpers ----

int RedisBroker::shardOf(const QString &channel) const
{
    if (m_settings.shards.size() == 1)
        return 0;
    return jumpHash(stableHash(channel), int(m_settings.shards.size()));
}

QByteArray RedisBroker::key(const char *kind, const QString &channel) const
{
    return m_settings.prefix.toUtf8() + ':' + kind + ':' + channel.toUtf8();
}

QByteArray RedisBroker::pubsubName(const QString &channel) const
{
    return key("pub", channel);
}

// EVALSHA, and EVAL when Redis does not have the script (restarted, or SCRIPT FLUSH). The text
// and its digest are made once per script (broker thread only), not per call.
const RedisBroker::ScriptText &RedisBroker::scriptFor(const char *script)
{
    auto it = m_scripts.find(script);
    if (it == m_scripts.end()) {
        const QByteArray text = scriptText(script);
        it = m_scripts.insert(script, ScriptText{text, sha1(text)});
    }
    return *it;
}

void RedisBroker::runScript(int shard,
                            const char *script,
                            const QList<QByteArray> &keys,
                            const QList<QByteArray> &args,
                            ScriptReply done)
{
    if (shard >= m_shards.size()) {
        done(nullptr);
        return;
    }
    RedisConnection *connection = m_shards.at(shard)->commands;
    const ScriptText &loaded = scriptFor(script);
    QList<QByteArray> command{QByteArrayLiteral("EVALSHA"), loaded.digest, number(keys.size())};
    command += keys;
    command += args;
    connection->command(command,
                        [connection, text = loaded.text, command, done](const redisReply *reply) {
                            if (isError(reply) && replyString(reply).startsWith("NOSCRIPT")) {
                                QList<QByteArray> eval = command;
                                eval[0] = QByteArrayLiteral("EVAL");
                                eval[1] = text;
                                connection->command(eval, done);
                                return;
                            }
                            done(reply);
                        });
}

// ---- publish ----

void RedisBroker::publish(const BrokerPublish &publish, BrokerCallback<BrokerPublished> done)
{
    post([this, publish, done = std::move(done)]() mutable {
        if (m_stopped.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        if (publish.deliveredHere && (!m_connected.load() || !m_queued.isEmpty())) {
            enqueueWhileAway(publish, std::move(done)); // behind what waits already
            return;
        }
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        sendPublish(publish, std::move(done));
    });
}

void RedisBroker::sendPublish(const BrokerPublish &publish, BrokerCallback<BrokerPublished> done)
{
    const int shard = shardOf(publish.channel);
    const qint64 historyTtlS = (publish.historyTtlMs + 999) / 1000;
    const qint64 metaTtlS =
        m_settings.metaTtlSeconds == 0 ? 0 : std::max(m_settings.metaTtlSeconds, historyTtlS);
    runScript(shard,
              Scripts::Publish,
              {key("meta", publish.channel),
               key("hist", publish.channel),
               key("cnt", publish.channel),
               m_settings.prefix.toUtf8() + ":nodes"},
              {publish.head,
               publish.middle,
               publish.tail,
               publish.newEpoch.toUtf8(),
               number(publish.historySize),
               number(historyTtlS),
               number(metaTtlS),
               m_nodeId.toUtf8(),
               number(qint64(publish.senderKey)),
               publish.senderIsMember ? "1" : "0",
               publish.mustExist ? "1" : "0",
               number(m_settings.nodeTtlMs),
               pubsubName(publish.channel),
               publish.deliveredHere ? "1" : "0"},
              [channel = publish.channel, done = std::move(done)](const redisReply *reply) {
                  if (isError(reply) && replyString(reply) == "404") {
                      done(tl::unexpected(Error{404, u"channel '%1' not found"_s.arg(channel)}));
                      return;
                  }
                  const redisReply *epoch = element(reply, 1);
                  if (!epoch) {
                      done(tl::unexpected(replyError(reply, u"the publish"_s)));
                      return;
                  }
                  BrokerPublished published;
                  published.position.offset = quint64(replyInteger(element(reply, 0)));
                  published.position.epoch = QString::fromLatin1(replyString(epoch));
                  published.recipients = int(replyInteger(element(reply, 2)));
                  done(published);
              });
}

// Kept, in order, for when Redis is back; the oldest goes first when the queue is full.
void RedisBroker::enqueueWhileAway(const BrokerPublish &publish,
                                   BrokerCallback<BrokerPublished> done)
{
    if (m_settings.maxQueued == 0 || m_queued.size() >= m_settings.maxQueued) {
        Queued *oldest = m_queued.isEmpty() ? nullptr : m_queued.dequeue();
        if (m_settings.maxQueued == 0) {
            oldest = new Queued{publish, std::move(done)};
        } else {
            m_queued.enqueue(new Queued{publish, std::move(done)});
        }
        m_dropped.fetch_add(1);
        if (++m_droppedThisOutage == 1)
            qCWarning(lcRedis).noquote()
                << "mtw-store-redis: Redis is unreachable and" << m_settings.maxQueued
                << "publishes wait for it (max_queued): dropping the oldest; the other nodes "
                   "will not get them";
        oldest->done(tl::unexpected(Error{503, u"dropped: max_queued reached"_s}));
        delete oldest;
        return;
    }
    m_queued.enqueue(new Queued{publish, std::move(done)});
}

void RedisBroker::flushQueued()
{
    if (m_droppedThisOutage > 0) {
        qCWarning(lcRedis).noquote()
            << "mtw-store-redis:" << m_droppedThisOutage
            << "publishes made while Redis was unreachable were dropped (max_queued ="
            << m_settings.maxQueued << "); the other nodes did not get them";
        m_droppedThisOutage = 0;
    }
    if (!m_queued.isEmpty())
        qCInfo(lcRedis).noquote() << "mtw-store-redis: sending" << m_queued.size()
                                  << "publishes made while Redis was unreachable";
    while (!m_queued.isEmpty() && m_connected.load()) {
        Queued *queued = m_queued.dequeue();
        sendPublish(queued->publish,
                    [channel = queued->publish.channel,
                     done = std::move(queued->done)](Result<BrokerPublished> published) {
                        if (!published)
                            qCWarning(lcRedis).noquote()
                                << "mtw-store-redis: a publish to" << channel
                                << "made while Redis was unreachable did not reach the cluster:"
                                << published.error().message;
                        done(std::move(published));
                    });
        delete queued;
    }
}

void RedisBroker::notice(const QString &channel, const QByteArray &envelope, quint64 senderKey)
{
    post([this, channel, envelope, senderKey] {
        if (!m_connected.load())
            return;
        const QByteArray payload =
            m_nodeId.toUtf8() + ' ' + number(qint64(senderKey)) + " 0 - 0\n" + envelope;
        m_shards.at(shardOf(channel))
            ->commands->command({QByteArrayLiteral("PUBLISH"), pubsubName(channel), payload},
                                [](const redisReply *) {});
    });
}

// ---- members ----

void RedisBroker::subscribeChannel(const QString &channel)
{
    ChannelState *state = m_channels.value(channel);
    if (!state || state->requested || !m_shards.at(shardOf(channel))->ready())
        return;
    state->requested = true;
    m_shards.at(shardOf(channel))
        ->subscriber->subscription({QByteArrayLiteral("SUBSCRIBE"), pubsubName(channel)});
}

void RedisBroker::whenSubscribed(const QString &channel, std::function<void()> then)
{
    ChannelState *state = m_channels.value(channel);
    if (state && state->subscribed) {
        then();
        return;
    }
    if (state)
        state->afterSubscribe.append(std::move(then));
}

void RedisBroker::join(const BrokerJoin &join, BrokerCallback<BrokerJoined> done)
{
    post([this, join, done = std::move(done)]() mutable {
        if (m_stopped.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        ChannelState *&state = m_channels[join.channel];
        if (!state)
            state = new ChannelState;
        const QByteArray presence =
            join.presence ? m_nodeId.toUtf8() + '\t' + join.userId.toUtf8() : QByteArray();
        state->members.insert(join.connId, presence);
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable())); // registered when Redis is back
            return;
        }
        // Listening first: every publication after the position the script reads reaches us.
        subscribeChannel(join.channel);
        whenSubscribed(join.channel, [this, join, done]() mutable { runJoin(join, done); });
    });
}

void RedisBroker::runJoin(const BrokerJoin &join, BrokerCallback<BrokerJoined> done)
{
    if (!m_connected.load()) {
        done(tl::unexpected(unreachable()));
        return;
    }
    ChannelState *state = m_channels.value(join.channel);
    if (!state || !state->members.contains(join.connId)) {
        done(tl::unexpected(Error{410, u"left before the subscribe finished"_s}));
        return;
    }
    const char *mode = join.read == BrokerJoin::Read::After ? "A"
        : join.read == BrokerJoin::Read::Newest             ? "N"
                                                            : "-";
    const qint64 historyTtlS = (join.historyTtlMs + 999) / 1000;
    const qint64 metaTtlS =
        m_settings.metaTtlSeconds == 0 ? 0 : std::max(m_settings.metaTtlSeconds, historyTtlS);
    runScript(
        shardOf(join.channel),
        Scripts::Join,
        {key("meta", join.channel),
         key("hist", join.channel),
         key("cnt", join.channel),
         m_settings.prefix.toUtf8() + ":nodes",
         key("pres", join.channel),
         m_settings.prefix.toUtf8() + ":chans",
         key("nc", m_nodeId)},
        {m_nodeId.toUtf8(),
         join.newEpoch.toUtf8(),
         number(join.maxMembers),
         number(m_settings.nodeTtlMs),
         join.connId.toUtf8(),
         state->members.value(join.connId),
         mode,
         number(join.count),
         number(qint64(join.after.offset)),
         join.after.epoch.toUtf8(),
         number(join.historyTtlMs),
         join.channel.toUtf8(),
         number(metaTtlS)},
        [this, join, done](const redisReply *reply) {
            if (isError(reply) && replyString(reply).startsWith("409")) {
                if (ChannelState *full = m_channels.value(join.channel)) {
                    full->members.remove(join.connId);
                    forgetIfUnused(join.channel);
                }
                done(tl::unexpected(Error{
                    409,
                    u"channel '%1' is full (max: %2)"_s.arg(join.channel).arg(join.maxMembers)}));
                return;
            }
            const redisReply *epoch = element(reply, 2);
            if (!epoch) {
                done(tl::unexpected(replyError(reply, u"the subscribe"_s)));
                return;
            }
            BrokerJoined joined;
            joined.members = int(replyInteger(element(reply, 0)));
            joined.position.offset = quint64(replyInteger(element(reply, 1)));
            joined.position.epoch = QString::fromLatin1(replyString(epoch));
            joined.recovered = replyInteger(element(reply, 3)) == 1;
            joined.publications = strings(element(reply, 4));
            if (ChannelState *joinedState = m_channels.value(join.channel);
                joinedState && joinedState->epoch.isEmpty()) {
                joinedState->epoch = joined.position.epoch;
                joinedState->offset = joined.position.offset;
            }
            done(joined);
        });
}

void RedisBroker::leave(const QString &channel, const QString &connId)
{
    post([this, channel, connId] {
        if (m_stopped.load())
            return;
        ChannelState *state = m_channels.value(channel);
        if (!state || !state->members.remove(connId))
            return;
        if (m_connected.load()) {
            runScript(shardOf(channel),
                      Scripts::Leave,
                      {key("cnt", channel), key("pres", channel), key("nc", m_nodeId)},
                      {m_nodeId.toUtf8(), connId.toUtf8(), channel.toUtf8()},
                      [](const redisReply *) {});
        }
        forgetIfUnused(channel);
    });
}

void RedisBroker::forgetIfUnused(const QString &channel)
{
    ChannelState *state = m_channels.value(channel);
    if (!state || !state->members.isEmpty() || !state->afterSubscribe.isEmpty())
        return;
    if (state->requested && m_connected.load())
        m_shards.at(shardOf(channel))
            ->subscriber->subscription({QByteArrayLiteral("UNSUBSCRIBE"), pubsubName(channel)});
    m_channels.remove(channel);
    delete state;
}

// After a reconnect, Redis may have lost our counts (restarted) or dropped them (we were gone
// longer than node_ttl_ms): they are set again as this node has them.
void RedisBroker::registerMembers(const QString &channel)
{
    ChannelState *state = m_channels.value(channel);
    if (!state)
        return;
    QList<QByteArray> args{m_nodeId.toUtf8(),
                           number(state->members.size()),
                           channel.toUtf8(),
                           newStreamEpoch().toUtf8()};
    for (auto it = state->members.cbegin(); it != state->members.cend(); ++it) {
        if (!it.value().isEmpty()) {
            args.append(it.key().toUtf8());
            args.append(it.value());
        }
    }
    runScript(shardOf(channel),
              Scripts::Register,
              {key("cnt", channel),
               key("pres", channel),
               m_settings.prefix.toUtf8() + ":chans",
               key("nc", m_nodeId),
               key("meta", channel),
               key("hist", channel)},
              args,
              [](const redisReply *) {});
}

// What this node missed of a channel while it was not listening: read from the stream and
// delivered in order before the live messages held meanwhile.
void RedisBroker::resync(const QString &channel)
{
    ChannelState *state = m_channels.value(channel);
    if (!state || state->epoch.isEmpty()) {
        if (state)
            state->syncing = false;
        return;
    }
    state->syncing = true;
    runScript(shardOf(channel),
              Scripts::ReadAfter,
              {key("meta", channel), key("hist", channel)},
              {number(qint64(state->offset)), state->epoch.toUtf8()},
              [this, channel](const redisReply *reply) {
                  ChannelState *caught = m_channels.value(channel);
                  if (!caught || !reply || isError(reply))
                      return; // lost again: the next reconnect starts over
                  const QString epoch = QString::fromLatin1(replyString(element(reply, 1)));
                  const QList<QByteArray> entries = strings(element(reply, 2));
                  qint64 caughtUp = 0;
                  for (qsizetype i = 0; i + 3 < entries.size(); i += 4) {
                      Incoming incoming;
                      incoming.offset = entries.at(i).toULongLong();
                      incoming.node = QString::fromUtf8(entries.at(i + 1));
                      incoming.deliveredHere = entries.at(i + 2) == "1";
                      incoming.epoch = epoch;
                      incoming.envelope = entries.at(i + 3);
                      deliverIncoming(channel, incoming);
                      ++caughtUp;
                  }
                  if (caughtUp > 0)
                      qCInfo(lcRedis).noquote()
                          << "mtw-store-redis: channel" << channel << "caught up on" << caughtUp
                          << "publications missed while Redis was unreachable";
                  caught->syncing = false;
                  const QList<Incoming> held = std::exchange(caught->held, {});
                  for (const Incoming &incoming : held) {
                      if (incoming.envelope.isNull()) {
                          resync(channel); // the hold overflowed: read the rest from the stream
                          return;
                      }
                      deliverIncoming(channel, incoming);
                  }
              });
}

// ---- what Redis sends ----

void RedisBroker::onPush(int shard, const redisReply *reply)
{
    Q_UNUSED(shard);
    const QByteArray kind = replyString(element(reply, 0));
    const QByteArray name = replyString(element(reply, 1));
    const QByteArray controlName = m_settings.prefix.toUtf8() + ":ctl";
    const QByteArray pubPrefix = m_settings.prefix.toUtf8() + ":pub:";
    if (kind == "pmessage") {
        const QByteArray channel = replyString(element(reply, 2));
        const QByteArray kvPrefix = m_settings.prefix.toUtf8() + ":kvev:";
        if (channel.startsWith(kvPrefix))
            onKvEvent(QString::fromUtf8(channel.mid(kvPrefix.size())),
                      replyString(element(reply, 3)));
        return;
    }
    if (kind == "message") {
        const QByteArray payload = replyString(element(reply, 2));
        if (name == controlName)
            onControl(payload);
        else if (name.startsWith(pubPrefix))
            onMessage(QString::fromUtf8(name.mid(pubPrefix.size())), payload);
        return;
    }
    if (kind == "subscribe" && name.startsWith(pubPrefix)) {
        const QString channel = QString::fromUtf8(name.mid(pubPrefix.size()));
        ChannelState *state = m_channels.value(channel);
        if (!state)
            return;
        state->subscribed = true;
        const auto waiting = std::exchange(state->afterSubscribe, {});
        for (const auto &then : waiting)
            then();
        forgetIfUnused(channel);
    }
}

void RedisBroker::onMessage(const QString &channel, const QByteArray &payload)
{
    ChannelState *state = m_channels.value(channel);
    if (!state)
        return;
    const qsizetype newline = payload.indexOf('\n');
    const QList<QByteArray> header = payload.left(newline).split(' ');
    if (newline < 0 || header.size() != 5) {
        qCWarning(lcRedis).noquote()
            << "mtw-store-redis: ignored a malformed message on" << channel;
        return;
    }
    Incoming incoming;
    incoming.node = QString::fromUtf8(header.at(0));
    incoming.senderKey = header.at(1).toULongLong();
    incoming.offset = header.at(2).toULongLong();
    incoming.epoch = QString::fromLatin1(header.at(3));
    incoming.deliveredHere = header.at(4) == "1";
    incoming.envelope = payload.mid(newline + 1);
    if (state->syncing) {
        if (state->held.size() < MaxHeldWhileSyncing) {
            state->held.append(incoming);
        } else if (state->held.size() == MaxHeldWhileSyncing) {
            // Bounded: what does not fit is read from the stream by the next catch-up.
            qCWarning(lcRedis).noquote()
                << "mtw-store-redis: channel" << channel << "holds" << MaxHeldWhileSyncing
                << "live messages while it catches up; later ones wait for the next catch-up";
            state->held.append(Incoming{});
        }
        return;
    }
    deliverIncoming(channel, incoming);
}

void RedisBroker::deliverIncoming(const QString &channel, const Incoming &incoming)
{
    ChannelState *state = m_channels.value(channel);
    if (!state)
        return;
    const bool mine = incoming.node == m_nodeId;
    if (incoming.offset > 0) {
        if (incoming.epoch == state->epoch && incoming.offset <= state->offset)
            return; // had it already (read while catching up)
        state->epoch = incoming.epoch;
        state->offset = incoming.offset;
        if (mine && incoming.deliveredHere)
            return; // delivered here when it was published, Redis being away
    }
    QMutexLocker locker(&m_nodeMutex);
    if (m_node)
        m_node->deliver(
            channel,
            incoming.envelope,
            BrokerPosition{incoming.offset, incoming.offset > 0 ? incoming.epoch : QString()},
            mine ? incoming.senderKey : 0);
}

void RedisBroker::onControl(const QByteArray &payload)
{
    const qsizetype newline = payload.indexOf('\n');
    if (newline < 0 || payload.left(newline) == m_nodeId.toUtf8())
        return;
    QMutexLocker locker(&m_nodeMutex);
    if (m_node)
        m_node->control(payload.mid(newline + 1));
}

void RedisBroker::control(const QByteArray &command)
{
    post([this, command] {
        if (!m_connected.load())
            return;
        m_shards.constFirst()->commands->command({QByteArrayLiteral("PUBLISH"),
                                                  m_settings.prefix.toUtf8() + ":ctl",
                                                  m_nodeId.toUtf8() + '\n' + command},
                                                 [](const redisReply *) {});
    });
}

// ---- the shared key-value store ----

void RedisBroker::onKvEvent(const QString &bucket, const QByteArray &payload)
{
    const qsizetype newline = payload.indexOf('\n');
    const QList<QByteArray> header = payload.left(newline).split('\t');
    if (newline < 0 || header.size() != 6) {
        qCWarning(lcRedis).noquote()
            << "mtw-store-redis: ignored a malformed change of bucket" << bucket;
        return;
    }
    BrokerKvEntry entry;
    entry.key = QString::fromUtf8(header.at(1));
    entry.version = header.at(2).toULongLong();
    entry.expiresAt = header.at(3).toLongLong();
    entry.kind = header.at(4).isEmpty() ? '-' : header.at(4).at(0);
    entry.value = payload.mid(newline + 1);
    QMutexLocker locker(&m_nodeMutex);
    if (m_node)
        m_node->kvChanged(bucket,
                          QString::fromLatin1(header.at(0)),
                          entry,
                          QString::fromUtf8(header.at(5)));
}

void RedisBroker::kvWrite(const QString &bucket,
                          const QList<BrokerKvWrite> &writes,
                          int maxKeys,
                          const QString &writer,
                          BrokerCallback<BrokerKvWritten> done)
{
    post([this, bucket, writes, maxKeys, writer, done = std::move(done)] {
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        QList<QByteArray> args{m_settings.prefix.toUtf8(),
                               bucket.toUtf8(),
                               number(maxKeys),
                               writer.toUtf8()};
        for (const BrokerKvWrite &write : writes) {
            args.append(write.put ? "P" : "D");
            args.append(write.key.toUtf8());
            args.append(write.hasExpected ? number(qint64(write.expectedVersion)) : QByteArray(""));
            args.append(number(write.ttlMs));
            args.append(QByteArray(1, write.kind));
            args.append(write.value);
        }
        runScript(kvShard(bucket),
                  Scripts::KvWrite,
                  {},
                  args,
                  [writes, done](const redisReply *reply) {
                      if (!reply || reply->type != REDIS_REPLY_ARRAY) {
                          done(tl::unexpected(replyError(reply, u"the key-value write"_s)));
                          return;
                      }
                      const QList<QByteArray> flat = strings(reply);
                      BrokerKvWritten written;
                      if (!flat.isEmpty() && flat.at(0) == "ERR" && flat.size() >= 5) {
                          written.refusedAt = flat.at(1).toInt();
                          written.code = flat.at(2).toInt();
                          written.currentExists = !flat.at(4).isEmpty();
                          written.currentVersion = flat.at(4).toULongLong();
                          done(written);
                          return;
                      }
                      for (qsizetype i = 0; i + 1 < flat.size() && i / 2 < writes.size(); i += 2) {
                          const BrokerKvWrite &write = writes.at(i / 2);
                          written.changes.append(BrokerKvEntry{write.key,
                                                               flat.at(i).toULongLong(),
                                                               flat.at(i + 1).toLongLong(),
                                                               write.kind,
                                                               write.value});
                      }
                      done(written);
                  });
    });
}

void RedisBroker::kvGet(const QString &bucket,
                        const QString &key,
                        BrokerCallback<BrokerKvEntry> done)
{
    post([this, bucket, key, done = std::move(done)] {
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        runScript(kvShard(bucket),
                  Scripts::KvGet,
                  {},
                  {m_settings.prefix.toUtf8(), bucket.toUtf8(), key.toUtf8()},
                  [key, done](const redisReply *reply) {
                      if (!reply || reply->type != REDIS_REPLY_ARRAY) {
                          done(tl::unexpected(replyError(reply, u"the key-value read"_s)));
                          return;
                      }
                      const QList<QByteArray> flat = strings(reply);
                      BrokerKvEntry entry;
                      entry.key = key;
                      if (flat.size() == 4) {
                          entry.version = flat.at(0).toULongLong();
                          entry.expiresAt = flat.at(1).toLongLong();
                          entry.kind = flat.at(2).isEmpty() ? 'J' : flat.at(2).at(0);
                          entry.value = flat.at(3);
                      }
                      done(entry);
                  });
    });
}

void RedisBroker::kvList(const QString &bucket,
                         const QString &prefix,
                         const QString &after,
                         int limit,
                         BrokerCallback<BrokerKvPage> done)
{
    post([this, bucket, prefix, after, limit, done = std::move(done)] {
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        runScript(kvShard(bucket),
                  Scripts::KvList,
                  {},
                  {m_settings.prefix.toUtf8(),
                   bucket.toUtf8(),
                   prefix.toUtf8(),
                   after.toUtf8(),
                   number(limit)},
                  [done](const redisReply *reply) {
                      if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
                          done(tl::unexpected(replyError(reply, u"the key-value listing"_s)));
                          return;
                      }
                      const QList<QByteArray> flat = strings(reply);
                      BrokerKvPage page;
                      page.revision = flat.at(0).toULongLong();
                      page.next = QString::fromUtf8(flat.at(1));
                      for (qsizetype i = 2; i + 2 < flat.size(); i += 3)
                          page.entries.append(BrokerKvEntry{QString::fromUtf8(flat.at(i)),
                                                            flat.at(i + 1).toULongLong(),
                                                            flat.at(i + 2).toLongLong(),
                                                            'J',
                                                            {}});
                      done(page);
                  });
    });
}

// ---- reads ----

void RedisBroker::history(const BrokerHistoryQuery &query, BrokerCallback<BrokerHistory> done)
{
    post([this, query, done = std::move(done)] {
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        runScript(shardOf(query.channel),
                  Scripts::History,
                  {key("meta", query.channel), key("hist", query.channel)},
                  {number(query.limit),
                   query.reverse ? "1" : "0",
                   query.hasSince ? "1" : "0",
                   number(qint64(query.since.offset)),
                   query.since.epoch.toUtf8(),
                   number(query.historyTtlMs)},
                  [done](const redisReply *reply) {
                      const redisReply *epoch = element(reply, 1);
                      if (!epoch) {
                          done(tl::unexpected(replyError(reply, u"the history read"_s)));
                          return;
                      }
                      BrokerHistory page;
                      page.position.offset = quint64(replyInteger(element(reply, 0)));
                      page.position.epoch = QString::fromLatin1(replyString(epoch));
                      page.recovered = replyInteger(element(reply, 2)) == 1;
                      page.publications = strings(element(reply, 3));
                      done(page);
                  });
    });
}

void RedisBroker::presence(const QString &channel, BrokerCallback<QList<BrokerMember>> done)
{
    post([this, channel, done = std::move(done)] {
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        runScript(shardOf(channel),
                  Scripts::Presence,
                  {key("pres", channel), m_settings.prefix.toUtf8() + ":nodes"},
                  {number(m_settings.nodeTtlMs)},
                  [done](const redisReply *reply) {
                      if (!reply || reply->type != REDIS_REPLY_ARRAY) {
                          done(tl::unexpected(replyError(reply, u"the presence read"_s)));
                          return;
                      }
                      const QList<QByteArray> flat = strings(reply);
                      QList<BrokerMember> members;
                      for (qsizetype i = 0; i + 1 < flat.size(); i += 2)
                          members.append(
                              {QString::fromUtf8(flat.at(i)), QString::fromUtf8(flat.at(i + 1))});
                      std::sort(members.begin(), members.end(), [](const auto &a, const auto &b) {
                          return a.connId < b.connId;
                      });
                      done(members);
                  });
    });
}

void RedisBroker::channels(const QString &after,
                           int limit,
                           BrokerCallback<QList<BrokerChannel>> done)
{
    post([this, after, limit, done = std::move(done)] {
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        // Every shard answers its channels; the merged list is cut to `limit`.
        auto merged = std::make_shared<QList<BrokerChannel>>();
        auto waiting = std::make_shared<int>(int(m_shards.size()));
        auto failed = std::make_shared<std::optional<Error>>();
        for (int i = 0; i < m_shards.size(); ++i) {
            runScript(
                i,
                Scripts::Channels,
                {m_settings.prefix.toUtf8() + ":chans", m_settings.prefix.toUtf8() + ":nodes"},
                {after.toUtf8(),
                 number(limit),
                 number(m_settings.nodeTtlMs),
                 m_settings.prefix.toUtf8()},
                [merged, waiting, failed, limit, done](const redisReply *reply) {
                    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
                        *failed = replyError(reply, u"the channels read"_s);
                    } else {
                        for (size_t j = 0; j + 1 < reply->elements; j += 2)
                            merged->append({QString::fromUtf8(replyString(reply->element[j])),
                                            int(replyInteger(reply->element[j + 1]))});
                    }
                    if (--*waiting > 0)
                        return;
                    if (*failed) {
                        done(tl::unexpected(**failed));
                        return;
                    }
                    std::sort(merged->begin(), merged->end(), [](const auto &a, const auto &b) {
                        return a.name < b.name;
                    });
                    if (merged->size() > limit)
                        merged->resize(limit);
                    done(*merged);
                });
        }
    });
}

void RedisBroker::nodes(BrokerCallback<QList<BrokerNodeInfo>> done)
{
    post([this, done = std::move(done)] {
        if (!m_connected.load()) {
            done(tl::unexpected(unreachable()));
            return;
        }
        runScript(0,
                  Scripts::Nodes,
                  {m_settings.prefix.toUtf8() + ":nodes"},
                  {number(m_settings.nodeTtlMs), m_settings.prefix.toUtf8()},
                  [done](const redisReply *reply) {
                      if (!reply || reply->type != REDIS_REPLY_ARRAY) {
                          done(tl::unexpected(replyError(reply, u"the node list"_s)));
                          return;
                      }
                      QList<BrokerNodeInfo> nodes;
                      for (size_t i = 0; i + 2 < reply->elements; i += 3) {
                          BrokerNodeInfo node;
                          node.id = QString::fromUtf8(replyString(reply->element[i]));
                          node.lastSeen = replyString(reply->element[i + 1]).toLongLong();
                          const QList<QByteArray> fields = strings(reply->element[i + 2]);
                          for (qsizetype f = 0; f + 1 < fields.size(); f += 2) {
                              const QByteArray &name = fields.at(f);
                              const QByteArray &value = fields.at(f + 1);
                              if (name == "name")
                                  node.name = QString::fromUtf8(value);
                              else if (name == "address")
                                  node.address = QString::fromUtf8(value);
                              else if (name == "version")
                                  node.version = QString::fromUtf8(value);
                              else if (name == "connections")
                                  node.connections = value.toInt();
                              else if (name == "started_at")
                                  node.startedAt = value.toLongLong();
                          }
                          nodes.append(node);
                      }
                      done(nodes);
                  });
    });
}

} // namespace Mtw::StoreRedis
