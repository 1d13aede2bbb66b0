// SPDX-License-Identifier: MIT
#pragma once

#include "transport/connection.h"
#include "transport/fanout.h"
#include "transport/workerstate.h"

#include <mtw/disconnectreason.h>

#include <QList>
#include <QMutex>
#include <QObject>

#include <atomic>
#include <functional>
#include <memory>

class QTimer;

namespace Mtw::Internal {

class HttpExchange;
class ServerContext;
struct ProtocolContext;

// Work for one connection, run in its worker's thread; `connection` is null when it is gone.
using ConnectionTask = std::function<void(ProtocolContext &, Connection *connection)>;

// An I/O worker: one of server.workers threads, each serving the connections accepted for it
// from the HTTP head to the last clean-up. It owns its parts and wires them:
//   FrontDoor (HTTP head, routes) -> Upgrader (client path) -> ConnectionTable (lifecycle)
//   -> Protocol (rate limit, handler per message type, module filters) -> Fanout (local
//   members, other workers, the broker) -> Outbound (every byte to a client).
// The post*() functions are thread-safe; everything else runs in the worker's thread.
class Worker : public QObject
{
    Q_OBJECT

public:
    Worker(ServerContext *context, int index);
    ~Worker() override;

    int index() const { return m_state.index; }
    int connectionCount() const { return m_connectionCount.load(std::memory_order_relaxed); }
    // Thread-safe to read (relaxed counters): what /metrics sums.
    const WorkerMetrics &metrics() const { return m_state.metrics; }

    void postInitialize();
    void postDescriptor(qintptr socketDescriptor);
    // Thread-safe: appends to this worker's delivery queue (one wake-up event per batch, not per
    // delivery). The registry calls it under a channel's lock, which orders the queue.
    void enqueueDelivery(const Delivery &delivery);
    // Worker thread: delivers everything queued, in order.
    void deliverQueued();
    // Shutdown, first step: refuse publishes from now on (503), then emit publishingStopped().
    // Deliveries this worker queued on others before that signal are ahead of their shutdown.
    void postStopPublishing();
    void postShutdown();
    void postForceClose();
    // One encoded envelope for one connection, counted as its `type` (and error code).
    void postSend(const QString &connId, const QByteArray &json, MessageType type, int errorCode);
    void postKick(const QString &connId, const QString &reason);
    // The server API's unsubscribe: the connection leaves `channel` and is told so with an
    // `unsubscribe` message for that channel.
    void postUnsubscribe(const QString &connId, const QString &channel);
    // A configuration reload: the worker takes `settings` before its next event (limits,
    // origins, proxies; open connections as docs/configuration.md#reload says), and its
    // anonymous members of `nowAuth` (channels that became auth = true) leave them with an
    // `unsubscribe` notice, reason "auth_required".
    void postReconfigure(std::shared_ptr<const LiveSettings> settings, const QStringList &nowAuth);
    // Rows for the admin API; `callback` runs in `receiver`'s thread. changedOnly: only
    // connections whose counters or queue changed since the last collect.
    // Where the answers of asynchronous calls (the cluster's broker) go. Thread-safe, and safe
    // to use after the worker is gone: then nothing runs.
    class Mailbox;
    std::shared_ptr<Mailbox> mailbox() const { return m_mailbox; }
    // Thread-safe: runs `task` in the worker of `mailbox` for the connection `key`. `released`:
    // the connection's messages waited for this (Connection::deciding); they run after it.
    static void postForConnection(const std::shared_ptr<Mailbox> &mailbox,
                                  quint64 key,
                                  bool released,
                                  ConnectionTask task);
    // Thread-safe: runs `task` in this worker's thread with its connection `connId` (null when
    // there is none by then).
    void postFind(const QString &connId, std::function<void(const Connection *)> task);
    void postCollect(QObject *receiver,
                     bool changedOnly,
                     std::function<void(QList<ConnectionSummary>)> callback);

Q_SIGNALS:
    void connectionOpened(const QString &connId);
    void connectionClosed(const QString &connId, const Mtw::DisconnectReason &reason);
    void publishingStopped();
    void drained(); // after shutdown began: the last connection has gone

private:
    struct Parts;

    void initialize();
    void reconfigure(std::shared_ptr<const LiveSettings> settings, const QStringList &nowAuth);
    void startTimers();
    void addRoutes();
    void answerReadiness(HttpExchange &exchange);
    void housekeeping();
    void stopPublishing();
    void beginShutdown();
    void forceClose();
    void checkDrained();

    ServerContext *const m_context;
    WorkerState m_state;
    std::unique_ptr<Parts> m_parts; // made in initialize(), in the worker's thread
    QTimer *m_housekeeping = nullptr;
    QTimer *m_pingTimer = nullptr;
    std::atomic<int> m_connectionCount{0};
    std::shared_ptr<Mailbox> m_mailbox;
    bool m_drained = false;
    QMutex m_queueMutex;
    QList<Delivery> m_queue;      // guarded by m_queueMutex
    bool m_wakeScheduled = false; // guarded by m_queueMutex: a deliverQueued() event is posted
};

} // namespace Mtw::Internal
