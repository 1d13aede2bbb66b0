// SPDX-License-Identifier: MIT
#pragma once

#include "channels/channelregistry.h"

#include <mtw/config.h>

#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QMutex>

#include <atomic>

namespace Mtw::Internal {

class Worker;

// Counts pending (not yet upgraded) connections per peer address, so that one address cannot
// hold the server with half-sent handshakes (slowloris). Thread-safe.
class PendingHandshakeLimiter
{
public:
    explicit PendingHandshakeLimiter(int maxPerAddress)
        : m_maxPerAddress(maxPerAddress)
    { }

    bool tryAcquire(const QHostAddress &address);
    void release(const QHostAddress &address);
    int pending(const QHostAddress &address) const;

private:
    const int m_maxPerAddress;
    mutable QMutex m_mutex;
    QHash<QHostAddress, int> m_pending;
};

// Running totals, updated with relaxed atomics on the hot path.
struct ServerCounters
{
    std::atomic<qint64> messagesIn{0};
    std::atomic<qint64> messagesOut{0};
    std::atomic<qint64> bytesIn{0};
    std::atomic<qint64> bytesOut{0};
    std::atomic<qint64> protocolErrors{0};
    std::atomic<qint64> connectionsTotal{0};
};

// What every worker shares. Created by the server before the workers start and destroyed after
// they have stopped; everything here is either immutable after start or thread-safe.
class ServerContext
{
public:
    ServerContext(const Config &cfg, int workerThreads)
        : config(cfg)
        , workerCount(workerThreads)
        , registry(cfg, workerThreads)
        , pendingHandshakes(cfg.transport.websocket.maxPendingHandshakesPerIp)
    { }

    const Config config;
    const int workerCount;
    ChannelRegistry registry;
    PendingHandshakeLimiter pendingHandshakes;
    ServerCounters counters;
    std::atomic<int> connections{0}; // upgraded plus reserved for an upgrade in progress
    std::atomic<quint64> nextConnKey{1};
    QList<Worker *> workers; // filled before the first connection, read-only afterwards

    // Reserves room for one more connection; false when server.max_connections is reached.
    bool reserveConnection()
    {
        if (connections.fetch_add(1, std::memory_order_relaxed) >= config.server.maxConnections) {
            connections.fetch_sub(1, std::memory_order_relaxed);
            return false;
        }
        return true;
    }
    void releaseConnection() { connections.fetch_sub(1, std::memory_order_relaxed); }
};

} // namespace Mtw::Internal
