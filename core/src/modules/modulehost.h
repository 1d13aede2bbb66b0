// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/agent.h>
#include <mtw/broker.h>
#include <mtw/config.h>
#include <mtw/module.h>
#include <mtw/modulestatus.h>
#include <mtw/serversettings.h>
#include <mtw/store.h>

#include <QHash>
#include <QMutex>
#include <QObject>
#include <QStringList>

#include <atomic>
#include <memory>
#include <vector>

class QPluginLoader;
class QTimer;

namespace Mtw::Internal {

class ModuleEvents;
class ModuleHost;

// The decision services modules registered, sorted by descending priority. Filled while modules
// load and start, then read-only while the server serves: I/O workers read it without locks.
struct Services
{
    template<typename T>
    struct Ranked
    {
        int priority = 0;
        T *service = nullptr;
        QString owner; // module id, for logs
    };
    QList<Ranked<IAuthenticator>> authenticators;
    QList<Ranked<IMessageFilter>> filters;
    QHash<QString, Ranked<IRequestHandler>> requestHandlers; // by action
    QList<Ranked<IRawFrameHandler>> rawFrameHandlers;
    QList<Ranked<IStore>> stores;   // the server uses the first (see Server::start)
    QList<Ranked<IBroker>> brokers; // likewise
    QHash<QString, Ranked<IAgentProvider>> agentProviders; // by provider name (docs/agents.md)
    QHash<QString, Ranked<IAgentTool>> agentTools;         // by tool name

    void removeOwner(const QString &owner);
    void sort();
};

// The services the workers use, published as immutable snapshots. ModuleHost publishes a new one
// whenever a module registers a service or fails; a worker compares generation() (one atomic load
// per message) and takes a fresh snapshot() when it changed, so that no worker ever reads a list
// while it is being written. Thread-safe.
class ServiceDirectory
{
public:
    ServiceDirectory();
    void publish(const Services &services);
    quint64 generation() const { return m_generation.load(std::memory_order_acquire); }
    std::shared_ptr<const Services> snapshot() const;

private:
    mutable QMutex m_mutex;
    std::shared_ptr<const Services> m_snapshot;
    std::atomic<quint64> m_generation{0};
};

class ModuleContextPrivate
{
public:
    ModuleHost *host = nullptr;
    ModuleEvents *events = nullptr; // the module's own, see ModuleEvents
    int entry = -1;
    QString id;
    QVariantMap config;
};

// Finds, orders, loads, starts and stops modules. Lives in the server's thread. Plugin libraries
// are never unloaded while the process runs: code of a stopped module may still be referenced by
// queued events or services.
class ModuleHost : public QObject
{
    Q_OBJECT

public:
    ModuleHost(const Config &config,
               ServerEvents *events,
               SharedState *shared,
               ServerHandle *handle,
               QObject *parent = nullptr);
    ~ModuleHost() override;

    // A module compiled into the program (ServerBuilder::module): always loaded, before the
    // configured ones.
    void addBuiltin(std::shared_ptr<IModule> module, const ModuleMetadata &metadata);
    void setSearchPaths(const QStringList &directories);
    QStringList searchPaths() const { return m_searchPaths; }
    void setStopDeadline(int milliseconds) { m_stopDeadlineMs = milliseconds; }

    // Discover, resolve, load and start. Modules that fail are marked failed and skipped; the
    // result is an error only when a required module failed.
    Result<void> start();
    // Stops started modules in reverse order, each within the stop deadline; emits stopped().
    void stop();

    QList<ModuleStatus> statuses() const;

    // A configuration reload. `changed`: module id -> its new [[modules]] config table, for the
    // modules whose table changed. Asks every started IReconfigurable among them whether it
    // takes its table (validateConfig) and returns their errors, "modules.<id>: ...".
    QStringList validateConfigs(const QHash<QString, QVariantMap> &changed);
    // After validateConfigs() found nothing: validateConfig() then reconfigure() of each
    // started IReconfigurable among `changed`, in its thread. Returns the ids that took their new table; the others
    // (not started, not reconfigurable, or failed) need a restart.
    QStringList reconfigure(const QHash<QString, QVariantMap> &changed);
    // What the workers read; see ServiceDirectory.
    const ServiceDirectory &services() const { return m_directory; }

    // Called through ModuleContext.
    void registerAuthenticator(int entry, IAuthenticator *service, int priority);
    void registerMessageFilter(int entry, IMessageFilter *service, int priority);
    void registerRequestHandler(int entry, const QString &action, IRequestHandler *service);
    void registerRawFrameHandler(int entry, IRawFrameHandler *service, int priority);
    void registerStore(int entry, IStore *service, int priority);
    void registerBroker(int entry, IBroker *service, int priority);
    void registerAgentProvider(int entry, const QString &name, IAgentProvider *service);
    void registerAgentTool(int entry, IAgentTool *service);
    void stopFinished(int entry);

    const Config &config() const { return m_config; }
    ServerSettings settings() const { return m_settings; }
    ServerEvents *events() const { return m_events; }
    SharedState *shared() const { return m_shared; }
    ServerHandle *handle() const { return m_handle; }

Q_SIGNALS:
    void stopped();

private:
    struct Candidate
    {
        QString path;
        ModuleMetadata metadata;
        QString error; // set when the file is not a usable module
    };
    struct Entry
    {
        ModuleMetadata metadata;
        QString path; // the plugin file; empty for a built-in module
        ModuleState state = ModuleState::Discovered;
        QString error;
        bool required = false;
        QVariantMap config;
        std::shared_ptr<IModule> builtin;
        QPluginLoader *loader = nullptr; // deliberately never unloaded or deleted
        IModule *module = nullptr;
        std::unique_ptr<ModuleEvents> events;
        std::unique_ptr<ModuleContext> context;
        QList<int> dependencies; // entry indexes
    };

    QHash<QString, Candidate> discover() const;
    void resolve(const QHash<QString, Candidate> &candidates);
    void addConfigured(const ModuleConfig &configured, const QHash<QString, Candidate> &candidates);
    void linkDependencies();
    void orderTopologically();
    void reorder(const QList<int> &order); // m_entries in `order`, dependencies re-numbered
    bool dependenciesReady(Entry &entry);
    Result<IModule *> instantiate(Entry &entry);
    void loadEntry(Entry &entry, int index);
    void startEntry(Entry &entry);
    // `detail` (Error::detail) goes to the log only, not to the status the admin view shows.
    void markFailed(Entry &entry, const QString &error, const QString &detail = QString());
    void releaseLoaded(Entry &entry);
    void stopNext();
    void finishStopping(Entry &entry, ModuleState state, const QString &error = QString());
    void publishServices(); // with m_servicesMutex held
    // The started module `id` as an IReconfigurable, with the object whose thread runs it.
    std::pair<IReconfigurable *, QObject *> reconfigurable(const QString &id, Entry **entry);

    const Config m_config;
    const ServerSettings m_settings; // what modules see of m_config
    ServerEvents *const m_events;
    SharedState *const m_shared;
    ServerHandle *const m_handle;
    QStringList m_searchPaths;
    int m_stopDeadlineMs = 5000;
    std::vector<std::unique_ptr<Entry>> m_entries; // start order once resolved
    Services m_services; // guarded by m_servicesMutex: modules may register from any thread
    mutable QMutex m_servicesMutex;
    ServiceDirectory m_directory;
    int m_stopping = -1; // index of the entry being stopped
    QTimer *m_stopTimer = nullptr;
    bool m_stopInProgress = false;
};

} // namespace Mtw::Internal
