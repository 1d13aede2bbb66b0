// SPDX-License-Identifier: MIT
#include "admin/adminservice.h"
#include "agents/agentrunner.h"
#include "modules/modulehost.h"
#include "server/configwatcher.h"
#include "server/serverextensions.h"
#include "server/signalbridge.h"
#include "transport/acceptor.h"
#include "transport/cluster.h"
#include "transport/descriptors.h"
#include "transport/fanout.h"
#include "transport/logging.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/tlswatcher.h"
#include "transport/tsanannotations.h"
#include "transport/worker.h"

#include <mtw/server.h>
#include <mtw/ulid.h>

#include <QCoreApplication>
#include <QDir>
#include <QHostInfo>
#include <QRandomGenerator>
#include <QThread>
#include <QTimer>

#include <latch>
#include <memory>
#include <optional>
#include <shared_mutex>

#ifdef MTW_EPOLL_DISPATCHER
#  include "transport/epolldispatcher.h"
#endif

#ifndef MTW_PLUGIN_INSTALL_DIR
#  define MTW_PLUGIN_INSTALL_DIR ""
#endif

namespace Mtw {

using namespace Qt::StringLiterals;
using Internal::lcServer;

QString DisconnectReason::toString() const
{
    switch (kind) {
    case Kind::Normal:
        return u"Normal"_s;
    case Kind::Timeout:
        return u"Timeout"_s;
    case Kind::Error:
        return u"Error(%1)"_s.arg(detail);
    case Kind::Kicked:
        return u"Kicked(%1)"_s.arg(detail);
    case Kind::ServerShutdown:
        return u"ServerShutdown"_s;
    }
    return u"Unknown"_s;
}

namespace Internal {

// Also the ServerHandle modules use: each call finds the connection's worker and queues the work
// there, so it is safe from any thread.
class ServerPrivate : public ServerHandle, public AgentHost
{
public:
    enum class State { Stopped, Running, ShuttingDown };

    ServerPrivate(Server *server, const Config &cfg)
        : q(server)
        , config(cfg)
        , events(new ServerEvents(server))
        , modules(new ModuleHost(cfg, events, &shared, this, server))
    { }

    Result<QHostAddress> resolveHost() const;
    Result<void> listen(const QHostAddress &address);
    Result<void> openStore();
    void attachBroker();
    bool isRequiredModule(const QString &id) const;
    void startWorkers(int count);
    void openForBusiness();
    void stopWorkers();
    void onPublishingStopped();
    void onWorkerDrained();
    void updateReadiness();
    // Workers are reachable through the handle only while this holds (see handleLock).
    // handleAccepts first: context is created and reset outside handleLock, but only while
    // handleAccepts is false.
    bool handleOpen() const { return handleAccepts && context; }
    QStringList pluginSearchPaths() const;
    Result<ConfigLoadResult> loadConfigAgain() const;
    void updateConfigWatcher();
    void publishLiveSettings();
    QHash<QString, QVariantMap> changedModuleConfigs(const Config &next) const;
    void reconfigureModules(const Config &next, QList<ConfigChange> &changes);

    bool sendTo(const QString &connId, const Message &message) override;
    Result<int> publish(const QString &channel, const Message &message) override;
    bool disconnect(const QString &connId, const QString &reason) override;
    Result<int>
    publishEnvelope(const QString &channel, const Message &message, PublishOrigin origin);
    // AgentHost (sendTo above is shared with ServerHandle)
    void sendToChannel(const QString &channel, const Message &message) override;
    Result<int> publishRecorded(const QString &channel, const Message &message) override;
    Result<QList<Message>> history(const QString &channel, int limit) override;
    Result<QJsonArray> presence(const QString &channel) override;
    Result<QJsonObject> kvGet(const QString &bucket, const QString &key) override;
    void startAgents();
    void stopAgents();

    Server *const q;
    Config config;
    State state = State::Stopped;
    SharedState shared;
    ServerEvents *events;
    ModuleHost *modules;
    std::unique_ptr<ServerContext> context;
    std::unique_ptr<TlsWatcher> tlsWatcher;       // with context, when [server.tls] is set
    std::unique_ptr<ConfigWatcher> configWatcher; // while running with server.watch_config
    Server::ConfigLoader configLoader;
    std::unique_ptr<ClusterNode> clusterNode; // with context->broker
    std::unique_ptr<AgentRunner> agents;      // with [[agents]]; context->agents
    Acceptor *acceptor = nullptr;
    AdminService *admin = nullptr;
    QList<QThread *> threads;
    QTimer *forceTimer = nullptr;
    QTimer *readinessTimer = nullptr;
    int drainedWorkers = 0;
    int quietWorkers = 0; // workers that stopped accepting publishes
    QString adminToken;   // configured, or generated at start
    bool adminTokenGenerated = false;
    // ServerHandle may be called from any thread (modules' own threads included). Its calls hold
    // this for reading while they use the workers; the server takes it for writing to close the
    // handle (handleAccepts, handlePublishes) before the workers go, never while waiting.
    // A std::shared_mutex (pthread_rwlock) rather than QReadWriteLock, whose locking happens
    // inside libQt6Core where ThreadSanitizer cannot see it.
    mutable std::shared_mutex handleLock;
    bool handleAccepts = false;
    bool handlePublishes = false; // false once shutdown began: nothing more is acknowledged
    ServerExtensions extensions;
};

// At least 128 bits from the system's CSPRNG, printable and URL-safe.
QString generateToken()
{
    QByteArray bytes(32, Qt::Uninitialized);
    QRandomGenerator::system()->generate(reinterpret_cast<quint32 *>(bytes.data()),
                                         reinterpret_cast<quint32 *>(bytes.data() + bytes.size()));
    return QString::fromLatin1(
        bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

Result<QHostAddress> ServerPrivate::resolveHost() const
{
    const QString &host = config.server.host;
    if (host == "localhost"_L1)
        return QHostAddress(QHostAddress::LocalHost);
    QHostAddress address;
    if (address.setAddress(host))
        return address;
    const QHostInfo info = QHostInfo::fromName(host);
    if (info.error() != QHostInfo::NoError || info.addresses().isEmpty())
        return fail(400, u"server.host: cannot resolve \"%1\": %2"_s.arg(host, info.errorString()));
    return info.addresses().constFirst();
}

Result<ConfigLoadResult> ServerPrivate::loadConfigAgain() const
{
    if (configLoader)
        return configLoader();
    if (config.sourcePath.isEmpty())
        return fail(409,
                    u"there is no configuration file to reload: the server runs on built-in "
                    u"defaults"_s);
    auto loaded = loadConfigFile(config.sourcePath);
    if (loaded && !loaded->hasErrors()) {
        if (const auto applied =
                applyEnvironmentOverrides(loaded->config, QProcessEnvironment::systemEnvironment());
            !applied)
            return tl::unexpected(applied.error());
    }
    return loaded;
}

// server.watch_config: a file change reloads as SIGHUP does (while running, with a file).
void ServerPrivate::updateConfigWatcher()
{
    const bool wanted = config.server.watchConfig && context && !config.sourcePath.isEmpty();
    if (!wanted) {
        if (config.server.watchConfig && config.sourcePath.isEmpty())
            qCWarning(lcServer) << "server.watch_config: there is no configuration file to watch";
        configWatcher.reset();
        return;
    }
    if (configWatcher)
        return;
    configWatcher = std::make_unique<ConfigWatcher>(config.sourcePath);
    QObject::connect(configWatcher.get(), &ConfigWatcher::changed, q, [this] {
        qCInfo(lcServer).noquote() << config.sourcePath << "changed: reloading the configuration";
        (void)q->reloadConfig();
    });
    qCInfo(lcServer).noquote() << "watching" << config.sourcePath << "(server.watch_config)";
}

// After a reload changed live keys: the registry and the key-value store take theirs at once,
// each worker one immutable snapshot through its event queue (it swaps it between two events:
// nothing on a worker locks to read it).
void ServerPrivate::publishLiveSettings()
{
    if (!context)
        return;
    const QStringList nowAuth = context->registry.reconfigure(config);
    context->kv.setMaxBuckets(config.server.maxChannels);
    context->maxConnections.store(config.server.maxConnections, std::memory_order_relaxed);
    const auto live = std::make_shared<const LiveSettings>(config);
    for (Worker *worker : std::as_const(context->workers))
        worker->postReconfigure(live, nowAuth);
}

// The modules whose own table a reload changes, by id: an entry at the same position with the
// same name, enabled on both sides (anything else changes the set of modules: a restart). By
// position, as diffConfigs() compares entries.
QHash<QString, QVariantMap> ServerPrivate::changedModuleConfigs(const Config &next) const
{
    QHash<QString, QVariantMap> changed;
    const qsizetype common = std::min(config.modules.size(), next.modules.size());
    for (qsizetype i = 0; i < common; ++i) {
        const ModuleConfig &was = config.modules.at(i);
        const ModuleConfig &now = next.modules.at(i);
        if (was.name == now.name && was.enabled && now.enabled && was.config != now.config
            && !changed.contains(now.name))
            changed.insert(now.name, now.config);
    }
    return changed;
}

// IReconfigurable modules take their new table; their `modules[i].config.*` changes become
// live. The others stay as they were and need a restart.
void ServerPrivate::reconfigureModules(const Config &next, QList<ConfigChange> &changes)
{
    const QHash<QString, QVariantMap> changed = changedModuleConfigs(next);
    if (changed.isEmpty())
        return;
    const QStringList reconfigured = modules->reconfigure(changed);
    for (qsizetype i = 0; i < config.modules.size(); ++i) {
        ModuleConfig &running = config.modules[i];
        if (!reconfigured.contains(running.name)
            || changed.value(running.name) != next.modules.at(i).config)
            continue;
        running.config = next.modules.at(i).config;
        const QString prefix = u"modules[%1].config."_s.arg(i);
        for (ConfigChange &change : changes) {
            if (change.key.startsWith(prefix))
                change.apply = ConfigApply::Live;
        }
    }
}

QStringList ServerPrivate::pluginSearchPaths() const
{
    // Configured first, then next to the binary (build and install trees share the layout),
    // the install location and ./plugins.
    return {config.server.pluginsDir,
            QCoreApplication::instance()
                ? QCoreApplication::applicationDirPath() + u"/../lib/mtw/plugins"_s
                : QString(),
            QString::fromUtf8(MTW_PLUGIN_INSTALL_DIR),
            QDir::current().filePath(u"plugins"_s)};
}

Result<void> ServerPrivate::listen(const QHostAddress &address)
{
    acceptor = new Acceptor(context.get(), q);
    const quint16 port = quint16(config.server.port);
    if (acceptor->listen(address, port))
        return {};
    const auto error = acceptor->serverError();
    const QString reason = acceptor->errorString();
    const QString where = u"%1:%2"_s.arg(config.server.host).arg(port);
    delete acceptor;
    acceptor = nullptr;
    switch (error) {
    case QAbstractSocket::AddressInUseError:
        return fail(409, u"cannot listen on %1: the address is already in use"_s.arg(where));
    case QAbstractSocket::SocketAccessError:
        return fail(403, u"cannot listen on %1: permission denied"_s.arg(where));
    case QAbstractSocket::SocketAddressNotAvailableError:
        return fail(
            400,
            u"cannot listen on %1: the address is not available on this machine"_s.arg(where));
    default:
        return fail(500, u"cannot listen on %1: %2"_s.arg(where, reason));
    }
}

// The workers run: the handle takes calls, /readyz follows module health from now on.
// The store module with the highest priority, if any: what it kept goes into the registry
// before the first client, and every later change goes to it. Without one (or when it cannot
// open) history lives in memory only, unless the store's module is required.
Result<void> ServerPrivate::openStore()
{
    const auto services = modules->services().snapshot();
    if (services->stores.isEmpty()) {
        context->registry.restore(StoreSnapshot(), nullptr);
        return {};
    }
    const auto &chosen = services->stores.constFirst();
    for (qsizetype i = 1; i < services->stores.size(); ++i) {
        qCWarning(lcServer).noquote()
            << "module" << services->stores.at(i).owner << "also registered a store; using"
            << chosen.owner << "(higher priority)";
    }
    Result<StoreSnapshot> snapshot = fail(500, u"open() threw an exception"_s);
    try {
        snapshot = chosen.service->open();
    } catch (...) {
        // The module broke the rule; its error below says so.
    }
    if (!snapshot) {
        if (isRequiredModule(chosen.owner)) {
            return fail(500,
                        u"the store of required module %1 could not be opened: %2"_s.arg(
                            chosen.owner,
                            snapshot.error().message));
        }
        qCCritical(lcServer).noquote()
            << "the store of module" << chosen.owner
            << "could not be opened:" << snapshot.error().message
            << "- history is kept in memory only and starts over with new epochs";
        context->registry.restore(StoreSnapshot(), nullptr);
        return {};
    }
    context->registry.restore(*snapshot, chosen.service);
    context->kv.restore(*snapshot);
    context->kv.setStore(chosen.service);
    return {};
}

// The broker of the highest priority (a test's, then a module's) joins this node to the
// cluster; without one the node is on its own.
void ServerPrivate::attachBroker()
{
    IBroker *broker = extensions.broker;
    if (!broker) {
        const auto services = modules->services().snapshot();
        if (services->brokers.isEmpty())
            return;
        const auto &chosen = services->brokers.constFirst();
        for (qsizetype i = 1; i < services->brokers.size(); ++i) {
            qCWarning(lcServer).noquote()
                << "module" << services->brokers.at(i).owner << "also registered a broker; using"
                << chosen.owner << "(higher priority)";
        }
        broker = chosen.service;
    }
    clusterNode = std::make_unique<ClusterNode>(*context,
                                                acceptor->serverAddress().toString() + u':'
                                                    + QString::number(acceptor->serverPort()));
    context->cluster = clusterNode.get();
    context->nodeId = QHostInfo::localHostName() + u'-' + generateUlid().right(10);
    context->broker = broker;
    broker->attach(clusterNode.get(), context->nodeId);
    qCInfo(lcServer).noquote() << "cluster: this node is" << context->nodeId;
}

bool ServerPrivate::isRequiredModule(const QString &id) const
{
    const QList<ModuleStatus> statuses = modules->statuses();
    return std::any_of(statuses.cbegin(), statuses.cend(), [&](const ModuleStatus &status) {
        return status.metadata().id() == id && status.isRequired();
    });
}

void ServerPrivate::openForBusiness()
{
    state = State::Running;
    {
        std::unique_lock locker(handleLock);
        handleAccepts = true;
        handlePublishes = true;
    }
    updateReadiness();
    readinessTimer = new QTimer(q);
    readinessTimer->setInterval(1000);
    QObject::connect(readinessTimer, &QTimer::timeout, q, [this] { updateReadiness(); });
    readinessTimer->start();
}

void ServerPrivate::startWorkers(int count)
{
    // A worker still handling its last event when the threads stop may post to another one (a
    // presence leave fans out), so none is deleted before every worker's loop has stopped.
    auto loopsStopped = std::make_shared<std::latch>(count);
    for (int i = 0; i < count; ++i) {
        auto *worker = new Worker(context.get(), i);
        auto *thread = new QThread;
        thread->setObjectName(u"mtw-io-%1"_s.arg(i));
        worker->moveToThread(thread);
        // Deferred deletes still run after the loop stops, in the worker's own thread, once
        // finished() has been emitted there.
        QObject::connect(
            thread,
            &QThread::finished,
            worker,
            [loopsStopped] { loopsStopped->arrive_and_wait(); },
            Qt::DirectConnection);
        QObject::connect(thread, &QThread::finished, worker, &QObject::deleteLater);
        QObject::connect(worker, &Worker::connectionOpened, q, &Server::connectionOpened);
        QObject::connect(worker, &Worker::connectionClosed, q, &Server::connectionClosed);
        QObject::connect(worker, &Worker::drained, q, [this] { onWorkerDrained(); });
        QObject::connect(worker, &Worker::publishingStopped, q, [this] { onPublishingStopped(); });
        context->workers.append(worker);
        threads.append(thread);
#ifdef MTW_EPOLL_DISPATCHER
        // Qt's own dispatcher polls every socket on each wake-up; MTW_EVENT_DISPATCHER=qt keeps it.
        if (qEnvironmentVariable("MTW_EVENT_DISPATCHER") != "qt"_L1)
            thread->setEventDispatcher(new Internal::EpollEventDispatcher);
#endif
        thread->start();
        worker->postInitialize();
    }
}

// Shutdown, second step: every worker refuses publishes now, and every delivery they queued on
// one another before saying so is ahead of the close in each worker's queue. Only now do the
// connections close, so an acknowledged publish reaches every member it was accepted for.
void ServerPrivate::onPublishingStopped()
{
    if (state != State::ShuttingDown || ++quietWorkers != int(threads.size()))
        return;
    qCInfo(lcServer) << "publishing stopped on every worker; closing connections";
    for (Worker *worker : std::as_const(context->workers))
        worker->postShutdown();
}

// /readyz: listening, not shutting down, and every required module started and not unhealthy.
void ServerPrivate::updateReadiness()
{
    if (!context)
        return;
    if (state != State::Running) {
        context->setReadiness(false,
                              state == State::ShuttingDown ? u"shutting down"_s : u"stopped"_s);
        return;
    }
    for (const ModuleStatus &status : modules->statuses()) {
        if (!status.isRequired())
            continue;
        const QString id = status.metadata().id();
        if (status.state() != ModuleState::Started) {
            context->setReadiness(false, u"required module '%1' is not started"_s.arg(id));
            return;
        }
        if (const ModuleHealth health = status.health();
            health.status() == HealthStatus::Unhealthy) {
            context->setReadiness(
                false,
                u"required module '%1' is unhealthy: %2"_s.arg(id, health.reason()));
            return;
        }
    }
    context->setReadiness(true, QString());
}

void ServerPrivate::onWorkerDrained()
{
    if (state != State::ShuttingDown || ++drainedWorkers != int(threads.size()))
        return;
    if (forceTimer)
        forceTimer->stop();
    qCInfo(lcServer) << "all connections closed; stopping modules";
    modules->stop(); // emits stopped() when the last one is done
}

void ServerPrivate::stopWorkers()
{
    stopAgents();
    if (context && context->broker)
        context->broker->detach(); // nothing more comes in from the cluster
    {
        std::unique_lock locker(handleLock); // from here no handle call reaches a worker
        handleAccepts = false;
        handlePublishes = false;
    }
    if (readinessTimer) {
        readinessTimer->stop();
        readinessTimer->deleteLater();
        readinessTimer = nullptr;
    }
    if (admin) {
        admin->serverFinished(); // closes admin sockets last, after every client
        admin->deleteLater();
        admin = nullptr;
    }
    if (forceTimer)
        forceTimer->stop();
    // Every loop is told to stop before any is waited for: the threads meet at the latch of
    // startWorkers() before their workers are deleted.
    for (QThread *thread : std::as_const(threads))
        thread->quit();
    for (QThread *thread : std::as_const(threads)) {
        thread->wait();
        Internal::Tsan::acquire(thread); // see ~EpollEventDispatcher
    }
    context->workers.clear(); // each deleted itself in its thread as the thread finished
    qDeleteAll(threads);
    threads.clear();
    tlsWatcher.reset(); // it refers to context->tls
    configWatcher.reset();
    context.reset();
    clusterNode.reset();
    state = State::Stopped;
}

bool ServerPrivate::sendTo(const QString &connId, const Message &message)
{
    std::shared_lock locker(handleLock);
    if (!handleOpen())
        return false;
    const int worker = context->workerOf(connId);
    if (worker >= 0) {
        context->workers.at(worker)->postSend(connId,
                                              encodeMessage(message),
                                              message.type,
                                              errorCodeOf(message));
        return true;
    }
    // Maybe on another node: the one that has it sends it.
    if (IBroker *broker = connectedBroker(*context)) {
        broker->control(sendCommand(connId, encodeMessage(message)));
        return true;
    }
    return false;
}

Result<int> ServerPrivate::publish(const QString &channel, const Message &message)
{
    Message copy = message;
    copy.channel = channel;
    if (!copy.metadata.contains(u"from"_s))
        copy.metadata.insert(u"from"_s, u"server"_s);
    return publishEnvelope(channel, copy, PublishOrigin::ThisNode);
}

// A module's or the admin's publish, while the handle is open.
Result<int>
ServerPrivate::publishEnvelope(const QString &channel, const Message &message, PublishOrigin origin)
{
    std::shared_lock locker(handleLock);
    if (!handleOpen())
        return fail(503, u"the server is not running"_s);
    if (!handlePublishes)
        return fail(503, u"server is shutting down"_s);
    return publishFromOutside(*context, channel, message, origin);
}

// The agent runner (docs/agents.md): made once the modules started (their providers are
// registered), before the first client.
void ServerPrivate::startAgents()
{
    if (config.agents.isEmpty())
        return;
    agents = std::make_unique<AgentRunner>(config.agents,
                                           config.orchestrator,
                                           modules->services(),
                                           *this);
    context->agents = agents.get();
    QObject::connect(
        q,
        &Server::connectionClosed,
        agents.get(),
        [runner = agents.get()](const QString &connId) { runner->connectionClosed(connId); });
}

// Every task ends (its client hears 503) before the connections close and the providers stop.
void ServerPrivate::stopAgents()
{
    if (!agents)
        return;
    agents->shutdown();
    agents.reset();
    if (context)
        context->agents = nullptr;
}

void ServerPrivate::sendToChannel(const QString &channel, const Message &message)
{
    std::shared_lock locker(handleLock);
    if (!handleOpen())
        return;
    const auto members = context->registry.presence(channel);
    if (!members || members->isEmpty())
        return;
    const auto settings = context->registry.settings(channel);
    const Delivery delivery{channel, encodeMessage(message), 0, settings && settings->binary, 0};
    quint64 mask = 0;
    for (const Member &member : *members)
        mask |= quint64(1) << member.worker;
    for (int i = 0; i < int(context->workers.size()); ++i) {
        if (mask & (quint64(1) << i))
            context->workers.at(i)->enqueueDelivery(delivery);
    }
}

Result<int> ServerPrivate::publishRecorded(const QString &channel, const Message &message)
{
    return publishEnvelope(channel, message, PublishOrigin::ThisNode);
}

Result<QList<Message>> ServerPrivate::history(const QString &channel, int limit)
{
    std::shared_lock locker(handleLock);
    if (!handleOpen())
        return fail(503, u"the server is not running"_s);
    const auto stored = context->registry.history(channel, limit);
    if (!stored)
        return tl::unexpected(stored.error());
    QList<Message> messages;
    for (const QByteArray &envelope : *stored) {
        if (auto message = decodeMessage(envelope))
            messages.append(*message);
    }
    return messages;
}

Result<QJsonArray> ServerPrivate::presence(const QString &channel)
{
    std::shared_lock locker(handleLock);
    if (!handleOpen())
        return fail(503, u"the server is not running"_s);
    const auto members = context->registry.presence(channel);
    if (!members)
        return tl::unexpected(members.error());
    QJsonArray list;
    for (const Member &member : *members) {
        QJsonObject row{{u"conn_id"_s, member.connId}};
        if (!member.userId.isEmpty())
            row.insert(u"user_id"_s, member.userId);
        list.append(row);
    }
    return list;
}

Result<QJsonObject> ServerPrivate::kvGet(const QString &bucket, const QString &key)
{
    std::shared_lock locker(handleLock);
    if (!handleOpen())
        return fail(503, u"the server is not running"_s);
    const auto entry = context->kv.get(bucket, key);
    if (!entry)
        return tl::unexpected(entry.error());
    const Payload value = entry->value();
    QJsonValue json;
    if (value.kind == Payload::Kind::Json)
        json = value.json;
    else if (value.kind == Payload::Kind::Text)
        json = value.text;
    else
        json = QString::fromLatin1(value.binary.toBase64());
    return QJsonObject{{u"key"_s, key},
                       {u"value"_s, json},
                       {u"version"_s, qint64(entry->version())}};
}

bool ServerPrivate::disconnect(const QString &connId, const QString &reason)
{
    std::shared_lock locker(handleLock);
    if (!handleOpen())
        return false;
    return disconnectAnywhere(*context, connId, reason);
}

} // namespace Internal

Server::Server(const Config &config, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Internal::ServerPrivate>(this, config))
{
    qRegisterMetaType<Mtw::DisconnectReason>();
    qRegisterMetaType<Mtw::ClientInfo>();
    qRegisterMetaType<Mtw::Message>();
    connect(d->modules, &Internal::ModuleHost::stopped, this, [this] {
        if (d->state != Internal::ServerPrivate::State::ShuttingDown)
            return;
        d->stopWorkers();
        qCInfo(lcServer) << "shutdown complete";
        Q_EMIT finished();
    });
}

Server::~Server()
{
    if (d->state != Internal::ServerPrivate::State::Stopped) {
        delete d->acceptor;
        d->acceptor = nullptr;
        d->stopWorkers();
        // Modules get their stop() even when the server is destroyed without a shutdown
        // (asynchronous stops are not awaited here).
        d->modules->stop();
    }
}

void Server::addModule(std::shared_ptr<IModule> module, const ModuleMetadata &metadata)
{
    d->modules->addBuiltin(std::move(module), metadata);
}

Result<void> Server::start()
{
    if (d->state != Internal::ServerPrivate::State::Stopped)
        return fail(409, u"the server is already running"_s);

    const auto address = d->resolveHost();
    if (!address)
        return tl::unexpected(address.error());
    std::optional<QSslConfiguration> tls;
    if (d->config.server.tls.enabled()) {
        auto loaded = Internal::TlsContext::load(d->config.server.tls);
        if (!loaded) // a file that cannot be read stays 403; every other problem is the config's
            return fail(loaded.error().code == 403 ? 403 : 422, loaded.error().message);
        tls = *loaded;
    }

    int workers = d->config.server.workers;
    if (workers <= 0)
        workers = std::max(1, QThread::idealThreadCount());
    workers = std::min(workers, 64);
    // Before the modules start: they may open files too. One descriptor per connection.
    Internal::raiseDescriptorLimit(d->config.server.maxConnections, workers);

    d->adminTokenGenerated = d->config.admin.enabled && d->config.admin.token.isEmpty();
    d->adminToken = d->adminTokenGenerated ? Internal::generateToken() : d->config.admin.token;
    d->context = std::make_unique<Internal::ServerContext>(d->config, workers, d->adminToken);
    d->context->events = d->events;
    d->context->connectionOpenedListened = [this] {
        return isSignalConnected(QMetaMethod::fromSignal(&Server::connectionOpened));
    };
    d->context->services = &d->modules->services();
    d->context->routes = d->extensions.routes;
    if (tls) {
        d->context->tls.replace(*tls);
        d->tlsWatcher =
            std::make_unique<Internal::TlsWatcher>(d->context->tls, d->config.server.tls);
    }

    // Modules start before the first client can arrive and may register services until then;
    // the store they registered is read before the first client too.
    d->modules->setSearchPaths(d->pluginSearchPaths());
    const auto ready =
        d->modules->start().and_then([this] { return d->openStore(); }).and_then([&] {
            return d->listen(*address);
        });
    if (!ready) {
        d->modules->stop();
        d->tlsWatcher.reset();
        d->context.reset();
        return ready;
    }
    if (d->config.admin.enabled) {
        d->admin = new Internal::AdminService(this, d->context.get(), this);
        d->context->adminService = d->admin;
        d->context->adoptAdminSocket = [admin = d->admin](QTcpSocket *socket) {
            admin->adoptSocket(socket);
        };
    }
    d->startAgents();
    d->startWorkers(workers);
    d->attachBroker();
    d->openForBusiness();
    d->updateConfigWatcher();
    if (d->adminTokenGenerated)
        qCInfo(lcServer) << "admin API: no admin.token configured, a random token was generated";
    else if (d->config.admin.enabled && d->adminToken.size() < 16)
        qCWarning(lcServer) << "admin.token is shorter than 16 characters: use a long random token";
    if (const HttpConfig &http = d->config.transport.http; http.enabled) {
        if (!http.apiKey.isEmpty())
            qCInfo(lcServer).noquote() << "server API on" << http.prefix + u"/<command>"_s;
        else if (http.insecure)
            qCWarning(lcServer).noquote()
                << "SERVER API IS OPEN TO EVERYONE: transport.http.insecure = true and no api_key;"
                << "anyone who reaches" << http.prefix << "may publish and disconnect clients";
        else
            qCWarning(lcServer).noquote()
                << "server API on" << http.prefix
                << "refuses every call (401): transport.http.api_key is empty";
    }
    qCInfo(lcServer).noquote() << "listening on"
                               << d->acceptor->serverAddress().toString() + u':'
            + QString::number(d->acceptor->serverPort())
                               << "path" << d->config.transport.websocket.path << "with" << workers
                               << "I/O workers";
    if (tls)
        qCInfo(lcServer).noquote() << "TLS only on this port (https, wss), certificate"
                                   << Internal::TlsContext::describe(*tls);
    return {};
}

void Server::shutdown()
{
    if (d->state != Internal::ServerPrivate::State::Running)
        return;
    d->state = Internal::ServerPrivate::State::ShuttingDown;
    qCInfo(lcServer) << "graceful shutdown: closing" << connectionCount() << "connections";
    Q_EMIT shutdownStarted();
    d->acceptor->close();
    d->updateReadiness();
    {
        // Modules and the admin API publish through the handle: refused from now on.
        std::unique_lock locker(d->handleLock);
        d->handlePublishes = false;
    }
    Q_EMIT d->events->aboutToShutdown();
    d->stopAgents();
    d->drainedWorkers = 0;
    d->quietWorkers = 0;
    // First every worker stops accepting publishes (onPublishingStopped), then they close.
    for (Internal::Worker *worker : std::as_const(d->context->workers))
        worker->postStopPublishing();

    d->forceTimer = new QTimer(this);
    d->forceTimer->setSingleShot(true);
    connect(d->forceTimer, &QTimer::timeout, this, [this] {
        qCWarning(lcServer) << "shutdown_timeout of" << d->config.server.shutdownTimeout
                            << "s reached: dropping the remaining connections";
        for (Internal::Worker *worker : std::as_const(d->context->workers))
            worker->postForceClose();
    });
    d->forceTimer->start(int(qint64(d->config.server.shutdownTimeout) * 1000));
}

void Server::holdSignals()
{
    Internal::SignalBridge::hold();
}

int Server::run()
{
    holdSignals();
    if (const auto started = start(); !started) {
        qCCritical(lcServer).noquote() << started.error().message;
        return 1;
    }
    return exec();
}

int Server::exec()
{
    Internal::SignalBridge signalBridge;
    signalBridge.install();
    connect(&signalBridge, &Internal::SignalBridge::terminationRequested, this, [this](int signo) {
        qCInfo(lcServer).noquote()
            << "signal" << signo << "received: shutting down (send it again to force)";
        shutdown();
    });
    connect(&signalBridge, &Internal::SignalBridge::reloadRequested, this, [this] {
        qCInfo(lcServer) << "SIGHUP received: reloading the configuration";
        (void)reloadConfig();
    });
    if (d->state == Internal::ServerPrivate::State::Stopped)
        return 0; // nothing to serve (never started, or finished already)
    QEventLoop loop;
    connect(this, &Server::finished, &loop, &QEventLoop::quit);
    loop.exec();
    return 0;
}

bool Server::isRunning() const
{
    return d->state == Internal::ServerPrivate::State::Running;
}

const Config &Server::config() const
{
    return d->config;
}

QList<ConfigChange> Server::applyConfig(const Config &next)
{
    // Turning TLS on or off changes what the port speaks: that waits for a restart.
    Config effective = next;
    const bool tlsSwitched = next.server.tls.enabled() != d->config.server.tls.enabled();
    if (tlsSwitched)
        effective.server.tls = d->config.server.tls;
    QList<ConfigChange> changes = applyLiveChanges(d->config, effective);
    d->reconfigureModules(next, changes);
    if (tlsSwitched) {
        for (ConfigChange change : diffConfigs(d->config, next)) {
            if (change.key.startsWith("server.tls."_L1)) {
                change.apply = ConfigApply::Restart;
                changes.append(change);
            }
        }
    }
    if (d->tlsWatcher && d->tlsWatcher->files() != d->config.server.tls) {
        d->tlsWatcher->setFiles(d->config.server.tls);
        (void)d->tlsWatcher->reload();
    }
    d->updateConfigWatcher();
    const bool anyLive = std::any_of(changes.cbegin(), changes.cend(), [](const ConfigChange &c) {
        return c.apply == ConfigApply::Live;
    });
    if (anyLive)
        d->publishLiveSettings();
    return changes;
}

void Server::setConfigLoader(ConfigLoader loader)
{
    d->configLoader = std::move(loader);
}

Result<QList<ConfigChange>> Server::reloadConfig()
{
    Q_EMIT configReloadStarted();
    const auto refuse = [this](const QStringList &errors) -> Result<QList<ConfigChange>> {
        qCWarning(lcServer).noquote()
            << "configuration reload refused, the running configuration stays:" << errors.size()
            << "error(s)";
        for (const QString &error : errors)
            qCWarning(lcServer).noquote() << u"  "_s + error;
        Q_EMIT configReloadFailed(errors);
        return fail(400, errors.join(u'\n'));
    };
    const auto loaded = d->loadConfigAgain();
    if (!loaded)
        return refuse({loaded.error().message});
    QStringList errors;
    for (const ConfigDiagnostic &diagnostic : loaded->diagnostics) {
        if (diagnostic.severity == ConfigDiagnostic::Severity::Error)
            errors.append(diagnostic.toString());
        else
            qCWarning(lcServer).noquote() << diagnostic.toString();
    }
    if (!errors.isEmpty())
        return refuse(errors);
    const Config &next = loaded->config;
    // The TLS files are read again on every reload (SIGHUP after a renewal): a pair that does
    // not check out refuses the whole reload.
    if (d->tlsWatcher && next.server.tls.enabled()) {
        if (const auto tls = Internal::TlsContext::load(next.server.tls); !tls)
            return refuse({tls.error().message});
    }
    // All or nothing: every module that would take a new table checks it first.
    if (const QStringList refused = d->modules->validateConfigs(d->changedModuleConfigs(next));
        !refused.isEmpty())
        return refuse(refused);
    const QList<ConfigChange> changes = applyConfig(next);
    if (d->tlsWatcher)
        (void)d->tlsWatcher->reload();
    QStringList applied;
    for (const ConfigChange &change : changes) {
        if (change.apply == ConfigApply::Live)
            applied.append(change.key);
    }
    const QStringList restart = restartRequiredKeys(changes);
    const QString source =
        d->config.sourcePath.isEmpty() ? u"the environment"_s : d->config.sourcePath;
    if (changes.isEmpty()) {
        qCInfo(lcServer).noquote() << "configuration reloaded from" << source << "- no change";
    } else {
        qCInfo(lcServer).noquote()
            << "configuration reloaded from" << source + u"; applied live:"_s
            << (applied.isEmpty() ? u"nothing"_s : applied.join(u", "_s)) + u"; needs a restart:"_s
            << (restart.isEmpty() ? u"nothing"_s : restart.join(u", "_s));
    }
    Q_EMIT configReloaded(applied, restart);
    return changes;
}

QHostAddress Server::address() const
{
    return d->acceptor ? d->acceptor->serverAddress() : QHostAddress();
}

quint16 Server::port() const
{
    return d->acceptor ? d->acceptor->serverPort() : 0;
}

int Server::workerCount() const
{
    return d->context ? int(d->context->workers.size()) : 0;
}

int Server::connectionCount() const
{
    if (!d->context)
        return 0;
    int count = 0;
    for (const Internal::Worker *worker : std::as_const(d->context->workers))
        count += worker->connectionCount();
    return count;
}

QString Server::adminToken() const
{
    return d->adminToken;
}

bool Server::isAdminTokenGenerated() const
{
    return d->adminTokenGenerated;
}

int Server::reservedConnectionSlots() const
{
    return d->context ? d->context->connections.load(std::memory_order_relaxed) : 0;
}

ServerEvents *Server::events() const
{
    return d->events;
}

SharedState &Server::shared() const
{
    return d->shared;
}

ServerHandle &Server::handle() const
{
    return *d;
}

QList<ModuleStatus> Server::modules() const
{
    return d->modules->statuses();
}

Internal::ServerExtensions &Internal::serverExtensions(Server &server)
{
    return server.d->extensions;
}

QStringList Server::pluginSearchPaths() const
{
    return d->modules->searchPaths().isEmpty() ? d->pluginSearchPaths() : d->modules->searchPaths();
}

} // namespace Mtw
