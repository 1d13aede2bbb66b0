// SPDX-License-Identifier: MIT
#include "transport/worker.h"

#include "transport/adminroute.h"
#include "transport/clientsocket.h"
#include "transport/cluster.h"
#include "transport/connectiontable.h"
#include "transport/frontdoor.h"
#include "transport/handlers/handlers.h"
#include "transport/httpapi.h"
#include "transport/logging.h"
#include "transport/metrics.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/protocol.h"
#include "transport/servercontext.h"
#include "transport/sseendpoint.h"
#include "transport/tsanannotations.h"
#include "transport/upgrader.h"

#include <QAbstractEventDispatcher>
#include <QTimer>
#include <QWebSocketProtocol>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

// The order of the members is the order of destruction, reversed: connections go first (with
// their sockets), then sockets still in the front door; the plain parts they call into go last.
struct Worker::Parts
{
    Parts(ServerContext &context, WorkerState &state, std::atomic<int> &count, Worker *worker)
        : out(context, state)
        , fanout(context, state, out)
        , modules(context, out, nullptr)
        , protocolContext{context, state, out, fanout, modules}
        , protocol(protocolContext)
        , frontDoor(std::make_unique<FrontDoor>(context, state, worker))
        , upgrader(std::make_unique<Upgrader>(context, state, worker))
        , connections(std::make_unique<ConnectionTable>(protocolContext, protocol, count, worker))
    { }

    Outbound out;
    Fanout fanout;
    ModuleCalls modules;
    ProtocolContext protocolContext;
    Protocol protocol;
    std::unique_ptr<FrontDoor> frontDoor;
    std::unique_ptr<Upgrader> upgrader;
    std::unique_ptr<ConnectionTable> connections;
    std::unique_ptr<HttpApi> httpApi;     // transport.http.enabled
    std::unique_ptr<SseEndpoint> streams; // transport.sse.enabled
};

class Worker::Mailbox
{
public:
    QMutex mutex;
    Worker *target = nullptr; // cleared as the worker goes
};

Worker::Worker(ServerContext *context, int index)
    : m_context(context)
    , m_state(index, std::make_shared<const LiveSettings>(context->config))
    , m_mailbox(std::make_shared<Mailbox>())
{
    m_mailbox->target = this;
}

// Runs in the worker thread as it finishes (deferred delete): the sockets are still ours.
Worker::~Worker()
{
    {
        QMutexLocker locker(&m_mailbox->mutex);
        m_mailbox->target = nullptr;
    }
    // The worker goes with its thread's last deferred deletes, after every clean-up its
    // connections queued: all of it is done before QThread::wait() returns, through Qt's own
    // QThread mutex, which TSan cannot see. ServerPrivate::stopWorkers() acquires this (as it
    // does ~EpollEventDispatcher's, which Qt's own dispatcher, in some tests, does not have).
    m_parts.reset();
    Tsan::release(thread());
}

void Worker::postForConnection(const std::shared_ptr<Mailbox> &mailbox,
                               quint64 key,
                               bool released,
                               ConnectionTask task)
{
    QMutexLocker locker(&mailbox->mutex);
    Worker *worker = mailbox->target;
    if (!worker)
        return;
    QMetaObject::invokeMethod(
        worker,
        [worker, key, released, task = std::move(task)] {
            if (!worker->m_parts)
                return;
            Parts &parts = *worker->m_parts;
            Connection *connection = parts.connections->find(key);
            if (connection && released)
                connection->deciding = false;
            task(parts.protocolContext, connection);
            if (connection && released && !connection->deciding)
                parts.protocol.resume(*connection);
        },
        Qt::QueuedConnection);
}

void Worker::postInitialize()
{
    QMetaObject::invokeMethod(this, &Worker::initialize, Qt::QueuedConnection);
}

void Worker::postDescriptor(qintptr socketDescriptor)
{
    // The descriptor was accepted in the acceptor's thread. EpollEventDispatcher tells TSan about
    // every posted event, Qt's own dispatcher (the portable build, some tests) does not: said here.
    Tsan::release(this);
    QMetaObject::invokeMethod(
        this,
        [this, socketDescriptor] {
            Tsan::acquire(this);
            m_parts->frontDoor->accept(socketDescriptor);
        },
        Qt::QueuedConnection);
}

void Worker::enqueueDelivery(const Delivery &delivery)
{
    bool wake = false;
    {
        QMutexLocker locker(&m_queueMutex);
        m_queue.append(delivery);
        wake = !std::exchange(m_wakeScheduled, true);
    }
    if (wake)
        QMetaObject::invokeMethod(this, &Worker::deliverQueued, Qt::QueuedConnection);
}

void Worker::deliverQueued()
{
    QList<Delivery> batch;
    {
        QMutexLocker locker(&m_queueMutex);
        batch.swap(m_queue);
        m_wakeScheduled = false;
    }
    for (const Delivery &delivery : std::as_const(batch))
        m_parts->fanout.deliver(delivery);
}

void Worker::postStopPublishing()
{
    QMetaObject::invokeMethod(this, &Worker::stopPublishing, Qt::QueuedConnection);
}

void Worker::postShutdown()
{
    QMetaObject::invokeMethod(this, &Worker::beginShutdown, Qt::QueuedConnection);
}

void Worker::postForceClose()
{
    QMetaObject::invokeMethod(this, &Worker::forceClose, Qt::QueuedConnection);
}

void Worker::postSend(const QString &connId,
                      const QByteArray &json,
                      MessageType type,
                      int errorCode)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, json, type, errorCode] {
            if (Connection *connection = m_parts->connections->find(connId))
                m_parts->out.sendForeign(*connection, json, type, errorCode);
        },
        Qt::QueuedConnection);
}

void Worker::postKick(const QString &connId, const QString &reason)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, reason] {
            Connection *connection = m_parts->connections->find(connId);
            if (!connection)
                return;
            qCInfo(lcTransport).noquote() << "connection" << connId << "kicked:" << reason;
            m_parts->out.close(*connection,
                               QWebSocketProtocol::CloseCodePolicyViolated,
                               reason,
                               DisconnectReason::kicked(reason));
        },
        Qt::QueuedConnection);
}

void Worker::postUnsubscribe(const QString &connId, const QString &channel)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, channel] {
            Connection *connection = m_parts->connections->find(connId);
            if (!connection || !connection->channels.contains(channel))
                return;
            qCInfo(lcTransport).noquote()
                << "connection" << connId << "unsubscribed from" << channel << "by the server API";
            leaveChannel(m_parts->protocolContext, *connection, channel);
            Message notice = Message::create(MessageType::Unsubscribe);
            notice.channel = channel;
            notice.metadata.insert(u"reason"_s, u"server"_s);
            m_parts->out.send(*connection, notice);
        },
        Qt::QueuedConnection);
}

void Worker::postFind(const QString &connId, std::function<void(const Connection *)> task)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, task = std::move(task)] {
            task(m_parts ? m_parts->connections->find(connId) : nullptr);
        },
        Qt::QueuedConnection);
}

void Worker::postCollect(QObject *receiver,
                         bool changedOnly,
                         std::function<void(QList<ConnectionSummary>)> callback)
{
    QMetaObject::invokeMethod(
        this,
        [this, receiver, changedOnly, callback = std::move(callback)] {
            QList<ConnectionSummary> rows = m_parts->connections->collect(changedOnly);
            QMetaObject::invokeMethod(
                receiver,
                [callback, rows] { callback(rows); },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

void Worker::initialize()
{
    m_parts = std::make_unique<Parts>(*m_context, m_state, m_connectionCount, this);
    // Where a module's later answer finds its connection again, and what then runs what
    // waited behind the decision.
    m_parts->modules.setConnectionLookup(
        [connections = m_parts->connections.get()](quint64 key) { return connections->find(key); });
    m_parts->modules.setResume(
        [protocol = &m_parts->protocol](Connection &connection) { protocol->resume(connection); });
    connect(m_parts->upgrader.get(),
            &Upgrader::upgraded,
            m_parts->connections.get(),
            &ConnectionTable::open);
    connect(m_parts->connections.get(),
            &ConnectionTable::opened,
            this,
            [this](const QString &connId) {
                // One queued call (an event, a wake-up of the server's thread) per connection:
                // only when somebody listens.
                if (m_context->connectionOpenedListened())
                    Q_EMIT connectionOpened(connId);
            });
    connect(m_parts->connections.get(),
            &ConnectionTable::closed,
            this,
            [this](const QString &connId, const DisconnectReason &reason) {
                Q_EMIT connectionClosed(connId, reason);
                checkDrained();
            });
    addRoutes();
    // Both dispatchers (ours and Qt's, MTW_PORTABLE) say when the loop is about to wait.
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    connect(
        dispatcher,
        &QAbstractEventDispatcher::aboutToBlock,
        this,
        [this, dispatcher] {
            if (m_parts->out.flushWritten())
                dispatcher->wakeUp();
        },
        Qt::DirectConnection);

    m_housekeeping = new QTimer(this);
    connect(m_housekeeping, &QTimer::timeout, this, &Worker::housekeeping);
    m_pingTimer = new QTimer(this);
    connect(m_pingTimer, &QTimer::timeout, m_parts->connections.get(), [this] {
        m_parts->connections->pingAll();
    });
    startTimers();
}

// The sweeps follow the handshake timeout, the pings ping_interval (0: none): at start and
// after a reload.
void Worker::startTimers()
{
    const WebSocketConfig &ws = m_state.config().transport.websocket;
    m_housekeeping->start(int(std::min<qint64>(1000, qint64(ws.handshakeTimeout) * 250)));
    if (ws.pingInterval > 0) {
        const int interval = int(qint64(ws.pingInterval) * 1000);
        if (!m_pingTimer->isActive() || m_pingTimer->interval() != interval)
            m_pingTimer->start(interval);
    } else {
        m_pingTimer->stop();
    }
}

void Worker::postReconfigure(std::shared_ptr<const LiveSettings> settings,
                             const QStringList &nowAuth)
{
    QMetaObject::invokeMethod(
        this,
        [this, settings = std::move(settings), nowAuth]() mutable {
            reconfigure(std::move(settings), nowAuth);
        },
        Qt::QueuedConnection);
}

void Worker::reconfigure(std::shared_ptr<const LiveSettings> settings, const QStringList &nowAuth)
{
    m_state.live = std::move(settings);
    if (!m_parts)
        return; // not initialised yet: initialize() reads the new settings
    startTimers();
    m_parts->connections->reconfigure(nowAuth);
}

// The built-in endpoints, then the server's extra routes (ServerContext::routes). A built-in
// path cannot be taken over.
void Worker::addRoutes()
{
    HttpRoutes &routes = m_parts->frontDoor->routes();
    // Alive: this worker answers. /status keeps its historical body.
    routes.add("/status", [](HttpExchange &exchange) { exchange.respond(200, "ok"); });
    routes.add("/healthz", [](HttpExchange &exchange) { exchange.respond(200, "ok\n"); });
    routes.add("/readyz", [this](HttpExchange &exchange) { answerReadiness(exchange); });
    const AdminConfig &admin = m_context->config.admin;
    if (admin.enabled && m_context->adminService) {
        routes.add(admin.path.toUtf8(), [this](HttpExchange &exchange) {
            routeAdmin(*m_context, m_state.trustedProxies(), exchange);
        });
    }
    const auto upgrade = [upgrader = m_parts->upgrader.get()](HttpExchange &exchange) {
        upgrader->handle(exchange);
    };
    routes.add(m_context->config.transport.websocket.path.toUtf8(), upgrade);
    routes.add("/", upgrade);
    if (const MetricsConfig &metrics = m_context->config.metrics; metrics.enabled) {
        routes.add(metrics.path.toUtf8(), [context = m_context](HttpExchange &exchange) {
            // text/plain: Prometheus reads it as the text format 0.0.4.
            exchange.respond(200, renderMetrics(*context));
        });
    }
    const HttpConfig &http = m_context->config.transport.http;
    if (http.enabled) {
        m_parts->httpApi =
            std::make_unique<HttpApi>(m_parts->protocolContext, *m_parts->connections, nullptr);
        // Every method reaches the API, which answers the wrong ones as JSON (405).
        routes.addPrefix(
            http.prefix.toUtf8(),
            [api = m_parts->httpApi.get()](HttpExchange &exchange) { api->route(exchange); },
            {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"});
    }
    if (const SseConfig &sse = m_context->config.transport.sse; sse.enabled) {
        m_parts->streams = std::make_unique<SseEndpoint>(m_parts->protocolContext,
                                                         m_parts->protocol,
                                                         *m_parts->connections,
                                                         nullptr);
        QByteArray prefix = http.prefix.toUtf8();
        if (prefix.endsWith('/'))
            prefix.chop(1);
        // Exact paths: they go before the server API's prefix route.
        routes.add(prefix + "/events",
                   [streams = m_parts->streams.get()](HttpExchange &exchange) {
                       streams->openStream(exchange);
                   },
                   {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"});
        routes.add(prefix + "/events/publish",
                   [streams = m_parts->streams.get()](HttpExchange &exchange) {
                       streams->publishRoute(exchange);
                   },
                   {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"});
    }
    const QByteArrayList extra = m_context->routes.paths();
    for (const QByteArray &path : extra) {
        const HttpRoutes::Entry *entry = m_context->routes.find(path);
        if (!routes.add(path, entry->route, entry->methods) && m_state.index == 0)
            qCWarning(lcTransport).noquote()
                << "HTTP route" << QString::fromUtf8(path) << "is a built-in endpoint: not added";
    }
}

void Worker::answerReadiness(HttpExchange &exchange)
{
    const auto [ready, reason] = m_context->readiness();
    if (m_state.shuttingDown || !ready) {
        const QByteArray why = m_state.shuttingDown ? QByteArray("shutting down") : reason.toUtf8();
        exchange.respond(503, "not ready: " + why + '\n', "Retry-After: 5\r\n");
        return;
    }
    if (m_context->cluster && !m_context->cluster->isConnected()) {
        // It serves its own clients; the other nodes do not see them until the broker is back.
        exchange.respond(200,
                         "ready, alone: cluster broker unreachable: "
                             + m_context->cluster->detail().toUtf8() + '\n');
        return;
    }
    exchange.respond(200, "ready\n");
}

void Worker::housekeeping()
{
    m_parts->frontDoor->expireHandshakes();
    m_parts->connections->housekeeping();
    if (m_state.index == 0) { // one sweep for the whole registry, off the other workers' paths
        m_context->registry.reclaim();
        m_context->kv.sweep();
    }
}

void Worker::stopPublishing()
{
    m_state.refusingPublishes = true;
    Q_EMIT publishingStopped();
}

void Worker::beginShutdown()
{
    m_state.refusingPublishes = true;
    m_state.shuttingDown = true;
    m_parts->frontDoor->refuseAll();
    m_parts->connections->closeAll();
    checkDrained();
}

void Worker::forceClose()
{
    m_parts->connections->abortAll();
    checkDrained();
}

void Worker::checkDrained()
{
    if (m_state.shuttingDown && !m_drained && m_parts->connections->isEmpty()) {
        m_drained = true; // the server counts workers: say it once
        Q_EMIT drained();
    }
}

} // namespace Mtw::Internal
