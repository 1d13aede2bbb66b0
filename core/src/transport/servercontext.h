// SPDX-License-Identifier: MIT
#pragma once

#include "channels/channelregistry.h"
#include "kv/kvstore.h"
#include "transport/admingate.h"
#include "transport/fanout.h"
#include "transport/httproutes.h"
#include "transport/tlscontext.h"
#include "transport/trustedproxies.h"

#include <mtw/broker.h>
#include <mtw/config.h>
#include <mtw/serverevents.h>

#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QMutex>

#include <atomic>
#include <functional>
#include <limits>

class QTcpSocket;

namespace Mtw::Internal {

class AgentRunner;
class ClusterNode;
class Worker;
class ServiceDirectory;

// A decision service (authenticator, filter, request handler) that takes longer than this is
// treated as a reject and logged: it runs on an I/O thread that serves thousands of clients.
inline constexpr qint64 DecisionBudgetMs = 100;

// Counts pending (not yet upgraded) connections per peer address, so that one address cannot
// hold the server with half-sent handshakes (slowloris). Thread-safe. The bound is the
// caller's (its worker's live max_pending_handshakes_per_ip): a lower one refuses new places
// and takes none back.
class PendingHandshakeLimiter
{
public:
    // maxPerAddress <= 0: no bound (transport.sse.max_streams_per_ip = 0).
    bool tryAcquire(const QHostAddress &address, int maxPerAddress);
    void release(const QHostAddress &address);
    int pending(const QHostAddress &address) const;

private:
    mutable QMutex m_mutex;
    QHash<QHostAddress, int> m_pending;
};

// Running totals of rare events, relaxed atomics. Per-message traffic is counted per worker
// without atomics (WorkerMetrics, transport/metrics.h).
struct ServerCounters
{
    std::atomic<qint64> protocolErrors{0};
    std::atomic<qint64> connectionsTotal{0};
    std::atomic<qint64> rawFramesDropped{0}; // MTW 0x02 frames no module took
    std::atomic<qint64> rateLimited{0};      // messages refused with 429
    std::atomic<qint64> slowConsumers{0};    // connections dropped for a full queue
};

// What every worker shares. Created by the server before the workers start and destroyed after
// they have stopped; everything here is either immutable after start or thread-safe. `config`
// is the configuration of the start: what a reload changes live reaches each worker as its
// WorkerState::config() (workerstate.h), the registry through ChannelRegistry::reconfigure.
class ServerContext
{
public:
    ServerContext(const Config &cfg, int workerThreads, const QString &adminToken)
        : config(cfg)
        , workerCount(workerThreads)
        , registry(cfg, workerThreads)
        // A change event goes out like any publish from the server; no watcher, no channel:
        // nothing to deliver, so the registry's 404 is not an error here.
        , kv(cfg,
             [this](const QString &channel, const Message &event) {
                 // A watch channel is each node's own. (In a cluster the buckets are Redis's and their
                 // events come from the broker: ClusterNode::kvChanged.)
                 (void)publishFromOutside(*this, channel, event, PublishOrigin::ThisNodeOnly);
             })
        , adminGate(cfg.admin, adminToken)
        , tls(cfg.server.tls.enabled())
        , maxConnections(cfg.server.maxConnections)
    { }

    const Config config;
    const int workerCount;
    ChannelRegistry registry;
    KvStore kv; // after the registry: its change events go through it
    PendingHandshakeLimiter pendingHandshakes;
    PendingHandshakeLimiter sseStreams; // open SSE streams per client (transport.sse)
    AdminGate adminGate;
    TlsContext tls; // [server.tls]: the credentials of new connections, replaced on renewal
    // The admin API: sockets that passed the AdminGate move to adminService's thread and are
    // handed to adoptAdminSocket there.
    QObject *adminService = nullptr;
    std::function<void(QTcpSocket *)> adoptAdminSocket;
    ServerCounters counters;
    std::atomic<int> connections{0}; // upgraded plus reserved for an upgrade in progress
    std::atomic<int> maxConnections; // server.max_connections, live: set by a reload
    std::atomic<quint64> nextConnKey{1};
    QList<Worker *> workers; // filled before the first connection, read-only afterwards
    const ServiceDirectory *services = nullptr; // module services, as snapshots
    ServerEvents *events = nullptr; // lives in the server's thread; emitted from workers
    // Whether Mtw::Server::connectionOpened() has a listener: a worker asks before it queues one
    // call per connection into the server's thread. Callable from any thread.
    std::function<bool()> connectionOpenedListened = [] { return true; };
    // Set before the workers start, read-only afterwards (Server's internal extensions).
    HttpRoutes routes;              // extra HTTP endpoints, next to the built-in ones
    IBroker *broker = nullptr;      // the other nodes (docs/cluster.md); null on a single node
    ClusterNode *cluster = nullptr; // this node as the broker sees it; with `broker`
    QString nodeId;                 // this node's name in the cluster
    AgentRunner *agents = nullptr;  // the [[agents]] (docs/agents.md); null without any

    // Which worker holds a conn_id, so that modules and the admin can reach a connection.
    void addToDirectory(const QString &connId, int worker)
    {
        QMutexLocker lock(&m_directoryMutex);
        m_directory.insert(connId, worker);
    }
    void removeFromDirectory(const QString &connId)
    {
        QMutexLocker lock(&m_directoryMutex);
        m_directory.remove(connId);
    }
    int workerOf(const QString &connId) const
    {
        QMutexLocker lock(&m_directoryMutex);
        return m_directory.value(connId, -1);
    }

    // Reserves room for one more connection; false when server.max_connections is reached.
    bool reserveConnection()
    {
        if (connections.fetch_add(1, std::memory_order_relaxed)
            >= maxConnections.load(std::memory_order_relaxed)) {
            connections.fetch_sub(1, std::memory_order_relaxed);
            return false;
        }
        return true;
    }
    void releaseConnection() { connections.fetch_sub(1, std::memory_order_relaxed); }

    // /readyz: serving (listening, modules started and healthy, not shutting down). Written by
    // the server's thread, read by workers answering HTTP.
    void setReadiness(bool ready, const QString &reason)
    {
        QMutexLocker lock(&m_readinessMutex);
        m_ready = ready;
        m_notReadyReason = reason;
    }
    std::pair<bool, QString> readiness() const
    {
        QMutexLocker lock(&m_readinessMutex);
        return {m_ready, m_notReadyReason};
    }

private:
    mutable QMutex m_readinessMutex;
    bool m_ready = false;
    QString m_notReadyReason = QStringLiteral("starting");
    mutable QMutex m_directoryMutex;
    QHash<QString, int> m_directory;
};

} // namespace Mtw::Internal
