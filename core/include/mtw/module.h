// SPDX-License-Identifier: MIT
// The module API: what a plugin in plugins/ implements and what the server gives it.
// See docs/plugins.md for a walk-through.
#pragma once

#include <mtw/agent.h>
#include <mtw/broker.h>
#include <mtw/global.h>
#include <mtw/message.h>
#include <mtw/result.h>
#include <mtw/serverevents.h>
#include <mtw/serversettings.h>
#include <mtw/services.h>
#include <mtw/store.h>

#include <QMutex>
#include <QSharedDataPointer>
#include <QVariant>
#include <QtPlugin>

#include <memory>

// The plugin interface id. The trailing number is the module API major version: a plugin built
// against another major version is refused before any of its code runs. What may change within
// one version and what bumps it: docs/plugins.md, "What stays compatible".
#define MTW_MODULE_IID "org.mtwserver.IModule/2"

namespace Mtw {

inline constexpr int ModuleApiVersion = 2;

enum class HealthStatus { Healthy, Degraded, Unhealthy };

namespace Internal {
class ModuleHealthPrivate;
class ModuleContextPrivate;
class ModuleHost;
} // namespace Internal

// What IModule::health() reports. An implicitly shared value; `return {}` is Healthy, and
// `return {Mtw::HealthStatus::Degraded, u"cache cold"_s}` works too.
class MTW_CORE_EXPORT ModuleHealth
{
public:
    MTW_DECLARE_SHARED_VALUE(ModuleHealth) // Healthy, no reason
    ModuleHealth(HealthStatus status, const QString &reason);

    HealthStatus status() const;
    void setStatus(HealthStatus status);
    QString reason() const; // what is wrong, for the admin view
    void setReason(const QString &reason);

private:
    QSharedDataPointer<Internal::ModuleHealthPrivate> d;
};

// Key-value state shared by all modules (and the core). Thread-safe.
class MTW_CORE_EXPORT SharedState
{
public:
    QVariant value(const QString &key, const QVariant &fallback = {}) const;
    void insert(const QString &key, const QVariant &value);
    bool remove(const QString &key);
    bool contains(const QString &key) const;
    QStringList keys() const;

private:
    // A QMutex, not a QReadWriteLock: its lock and unlock are inline and visible to
    // ThreadSanitizer (QReadWriteLock locks inside libQt6Core), and the critical sections are a
    // few map operations. Same size, so the class layout is unchanged.
    mutable QMutex m_lock;
    QVariantMap m_values;
};

// What a module may ask the running server to do. Thread-safe; every call returns at once and
// the work happens on the connection's I/O thread.
class MTW_CORE_EXPORT ServerHandle
{
public:
    virtual ~ServerHandle() = default;
    // Sends `message` to one connection; false when no such connection is open.
    virtual bool sendTo(const QString &connId, const Message &message) = 0;
    // Delivers `message` to every member of `channel` (metadata.from = "server" unless the
    // message sets it). Returns the
    // number of recipients, or an Error (404 when the channel does not exist).
    virtual Result<int> publish(const QString &channel, const Message &message) = 0;
    // Closes a connection (DisconnectReason Kicked with `reason`); false when it is not open.
    virtual bool disconnect(const QString &connId, const QString &reason) = 0;
};

// Handed to IModule::load(): the module's settings and the server's extension points.
// Valid for the life of the module; use it from the server's main thread.
class MTW_CORE_EXPORT ModuleContext
{
public:
    explicit ModuleContext(std::unique_ptr<Internal::ModuleContextPrivate> d);
    ~ModuleContext();
    Q_DISABLE_COPY_MOVE(ModuleContext)

    QString moduleId() const;
    const QVariantMap &config() const; // the [[modules]] config table, ${ENV} expanded
    // The server's settings (mtw.toml without [[modules]]), read-only, by dotted key.
    ServerSettings serverConfig() const;
    ServerEvents *events() const;
    SharedState &shared() const;
    ServerHandle &server() const; // usable once the module has started

    // Decision services. Higher priority runs first. The objects must outlive the module's stop.
    void registerAuthenticator(IAuthenticator *authenticator, int priority = 0);
    void registerMessageFilter(IMessageFilter *filter, int priority = 0);
    void registerRequestHandler(const QString &action, IRequestHandler *handler);
    // Raw MTW frames (type 0x02, what the TypeScript client's publishBinary() sends).
    void registerRawFrameHandler(IRawFrameHandler *handler, int priority = 0);
    // Where history and key-value entries are kept across restarts (<mtw/store.h>). The server
    // uses the store with the highest priority and logs the others as unused.
    void registerStore(IStore *store, int priority = 0);
    // The other nodes of a cluster (<mtw/broker.h>, docs/cluster.md). The server uses the broker
    // with the highest priority and logs the others as unused.
    void registerBroker(IBroker *broker, int priority = 0);
    // A model provider (<mtw/agent.h>, docs/agents.md) under the name `[[agents]] provider`
    // uses (the module id works too). A name already taken is refused (logged).
    void registerAgentProvider(const QString &name, IAgentProvider *provider);
    // A tool agents may call when their `tools` name it (IAgentTool::name()). Must outlive the
    // module's stop.
    void registerAgentTool(IAgentTool *tool);

    // For modules whose stop() returned false: call when the asynchronous stop is complete.
    void stopFinished();

private:
    friend class Internal::ModuleHost; // a reload's new config() (IReconfigurable)
    std::unique_ptr<Internal::ModuleContextPrivate> d;
};

// The interface every module implements. The plugin's root object (the class with
// Q_PLUGIN_METADATA) derives from QObject and IModule and declares Q_INTERFACES(Mtw::IModule).
// Every call comes from the server's main thread. No exception may escape: the host catches
// them (in the constructor too), but a module that throws is marked failed.
class IModule
{
public:
    virtual ~IModule() = default;

    // Read config, register services, connect to events. An Error marks the module failed.
    virtual Result<void> load(ModuleContext &context) = 0;
    // The server is about to accept clients.
    virtual Result<void> start() { return {}; }
    // Connections are closed. Return true when stopped; return false to stop asynchronously and
    // call ModuleContext::stopFinished() later (the host waits up to its stop deadline).
    virtual bool stop() { return true; }
    virtual ModuleHealth health() const { return {}; }
};

// Optional, for a module whose `[[modules]] config` table may change while it runs (a
// configuration reload: SIGHUP, server.watch_config, the admin API's save). The plugin's root
// object derives from it too and lists it: Q_INTERFACES(Mtw::IModule Mtw::IReconfigurable);
// the server finds it with qobject_cast, so IModule (and plugins built without it) is unchanged.
// A started module without it whose table changed is reported as needing a restart.
// A reload is all or nothing: validateConfig() of every changed module runs before anything
// applies, and an Error there refuses the whole reload (the message, with the module's id, is
// logged and answered to the admin API; the running configuration stays). Only then does
// reconfigure() run, in the module's thread (its root object's: the server's main thread for a
// plugin). Both may be called while I/O workers call the module's services.
class IReconfigurable
{
public:
    virtual ~IReconfigurable() = default;

    // Whether `newConfig` (the whole new table, ${ENV} expanded) could be applied. Applies
    // nothing.
    virtual Result<void> validateConfig(const QVariantMap &newConfig) = 0;
    // Takes `newConfig`, which validateConfig() accepted. From its return on, ModuleContext::config()
    // is `newConfig`. An Error here keeps the module running as it was (its old table stays and the
    // key is reported as needing a restart); it should not happen after a successful validation.
    virtual Result<void> reconfigure(const QVariantMap &newConfig) = 0;
};

} // namespace Mtw

#define MTW_RECONFIGURABLE_IID "org.mtwserver.IReconfigurable/1"

Q_DECLARE_INTERFACE(Mtw::IModule, MTW_MODULE_IID)
Q_DECLARE_INTERFACE(Mtw::IReconfigurable, MTW_RECONFIGURABLE_IID)
