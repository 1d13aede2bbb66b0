// SPDX-License-Identifier: MIT
#pragma once

#include "redissettings.h"

#include <mtw/broker.h>

#include <QHash>
#include <QMutex>
#include <QObject>
#include <QQueue>

#include <atomic>
#include <functional>

class QThread;
class QTimer;
struct redisReply;

namespace Mtw::StoreRedis {

class RedisConnection;

// IBroker on Redis (docs/cluster.md): one command and one subscriber connection per Redis
// shard, in a thread of its own. Every IBroker call is posted to that thread, so calls made
// from one thread run in the order they were made; Redis answers each connection in order.
class RedisBroker final : public QObject, public IBroker
{
    Q_OBJECT

public:
    explicit RedisBroker(const RedisSettings &settings);
    ~RedisBroker() override;

    void start(); // the thread; connecting starts at attach()
    void stop();  // closes the connections; pending callbacks get a 503; joins the thread
    bool isStopped() const { return m_stopped.load(); }
    QString state() const; // for the module's health

    // IBroker
    void attach(IBrokerNode *node, const QString &nodeId) override;
    void detach() override;
    bool isConnected() const override { return m_connected.load(std::memory_order_acquire); }
    void publish(const BrokerPublish &publish, BrokerCallback<BrokerPublished> done) override;
    void notice(const QString &channel, const QByteArray &envelope, quint64 senderKey) override;
    void join(const BrokerJoin &join, BrokerCallback<BrokerJoined> done) override;
    void leave(const QString &channel, const QString &connId) override;
    void history(const BrokerHistoryQuery &query, BrokerCallback<BrokerHistory> done) override;
    void presence(const QString &channel, BrokerCallback<QList<BrokerMember>> done) override;
    void
    channels(const QString &after, int limit, BrokerCallback<QList<BrokerChannel>> done) override;
    void nodes(BrokerCallback<QList<BrokerNodeInfo>> done) override;
    void control(const QByteArray &command) override;
    void kvWrite(const QString &bucket,
                 const QList<BrokerKvWrite> &writes,
                 int maxKeys,
                 const QString &writer,
                 BrokerCallback<BrokerKvWritten> done) override;
    void
    kvGet(const QString &bucket, const QString &key, BrokerCallback<BrokerKvEntry> done) override;
    void kvList(const QString &bucket,
                const QString &prefix,
                const QString &after,
                int limit,
                BrokerCallback<BrokerKvPage> done) override;

    qint64 droppedPublishes() const { return m_dropped.load(); }

private:
    struct Shard;
    struct ChannelState;
    struct Incoming;
    struct Queued;
    using ScriptReply = std::function<void(const redisReply *)>;

    void post(std::function<void()> work);
    void connectAll();
    void onReady();
    void onLost(const QString &why);
    void scheduleReconnect();
    void becomeConnected();
    void heartbeat();
    int shardOf(const QString &channel) const;
    QByteArray key(const char *kind, const QString &channel) const;
    QByteArray pubsubName(const QString &channel) const;
    struct ScriptText
    {
        QByteArray text;   // the shared helpers and the script
        QByteArray digest; // its SHA-1, for EVALSHA
    };
    const ScriptText &scriptFor(const char *script);
    void runScript(int shard,
                   const char *script,
                   const QList<QByteArray> &keys,
                   const QList<QByteArray> &args,
                   ScriptReply done);
    void sendPublish(const BrokerPublish &publish, BrokerCallback<BrokerPublished> done);
    void enqueueWhileAway(const BrokerPublish &publish, BrokerCallback<BrokerPublished> done);
    void flushQueued();
    void subscribeChannel(const QString &channel);
    void whenSubscribed(const QString &channel, std::function<void()> then);
    void runJoin(const BrokerJoin &join, BrokerCallback<BrokerJoined> done);
    void registerMembers(const QString &channel);
    void resync(const QString &channel);
    void onPush(int shard, const redisReply *reply);
    void onMessage(const QString &channel, const QByteArray &payload);
    void onControl(const QByteArray &payload);
    void onKvEvent(const QString &bucket, const QByteArray &payload);
    int kvShard(const QString &bucket) const { return shardOf(u'$' + bucket); }
    void deliverIncoming(const QString &channel, const Incoming &incoming);
    void forgetIfUnused(const QString &channel);
    Error unreachable() const;
    void reportState(bool connected, const QString &detail);

    const RedisSettings m_settings;
    QThread *m_thread = nullptr;
    QList<Shard *> m_shards;       // broker thread
    QTimer *m_heartbeat = nullptr; // broker thread
    QTimer *m_reconnect = nullptr; // broker thread
    int m_backoffMs = 0;
    int m_heartbeats = 0;
    QString m_nodeId;            // set by attach(), before the thread uses it
    QString m_lostBecause;       // broker thread
    bool m_reported = false;     // broker thread: a state was reported to the node
    bool m_wasConnected = false; // broker thread
    qint64 m_startedAt = 0;
    QHash<QString, ChannelState *> m_channels; // broker thread
    QHash<const char *, ScriptText> m_scripts; // broker thread: by script
    QQueue<Queued *> m_queued;                 // broker thread: publishes made while Redis was away
    qint64 m_droppedThisOutage = 0;            // broker thread
    std::atomic<bool> m_connected{false};
    std::atomic<bool> m_stopped{false};
    std::atomic<qint64> m_dropped{0};
    mutable QMutex m_nodeMutex; // held while calling into the node, and by detach()
    IBrokerNode *m_node = nullptr;
    mutable QMutex m_stateMutex;
    QString m_state;
};

} // namespace Mtw::StoreRedis
