// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/disconnectreason.h>
#include <mtw/global.h>
#include <mtw/module.h>
#include <mtw/modulestatus.h>
#include <mtw/result.h>
#include <mtw/serverevents.h>

#include <QHostAddress>
#include <QObject>

#include <memory>

namespace Mtw {

namespace Internal {
class ServerPrivate;
}

// The whole server: modules, acceptor, I/O workers, channels. Lives in the thread that creates
// it (the main thread of mtwserver, a dedicated thread in mtwadmin); its own signals are
// emitted there. Build one directly or with ServerBuilder.
class MTW_CORE_EXPORT Server : public QObject
{
    Q_OBJECT

public:
    explicit Server(const Config &config, QObject *parent = nullptr);
    ~Server() override; // a running server is stopped at once (no graceful wait)

    // A module compiled into the program, loaded before the configured ones. Before start().
    void addModule(std::shared_ptr<IModule> module, const ModuleMetadata &metadata);

    // Loads and starts the modules, binds server.host:server.port and starts the workers.
    // Errors: 400 bad host or address not on this machine, 403 permission denied, 409 address in
    // use, 500 a required module failed or anything else.
    Result<void> start();

    // Graceful shutdown: stop accepting, aboutToShutdown, close every connection with 1001 once
    // its queued output is written (bounded by server.shutdown_timeout), stop modules in reverse
    // order, stop the workers, then emit finished(). Safe to call more than once.
    void shutdown();

    // The seed's run(): start(), then serve until SIGINT/SIGTERM (Unix) or shutdown() has
    // finished. Needs a QCoreApplication. Returns 0, or 1 when start() failed (logged).
    int run();

    bool isRunning() const;
    const Config &config() const;
    QHostAddress address() const;
    quint16 port() const; // the bound port (useful with port 0)
    int workerCount() const;
    int connectionCount() const;

    ServerEvents *events() const;
    SharedState &shared() const;
    ServerHandle &handle() const;
    QList<ModuleStatus> modules() const;
    QStringList pluginSearchPaths() const;

Q_SIGNALS:
    void connectionOpened(const QString &connId);
    void connectionClosed(const QString &connId, const Mtw::DisconnectReason &reason);
    void shutdownStarted();
    void finished();

private:
    std::unique_ptr<Internal::ServerPrivate> d;
};

// Fluent construction, as in the seed: ServerBuilder().configFile("mtw.toml").port(3000)
// .module(std::make_shared<MyModule>(), metadata).build(). Errors (an unreadable or invalid
// config file) are collected and returned by build().
class MTW_CORE_EXPORT ServerBuilder
{
public:
    ServerBuilder();
    ~ServerBuilder();
    ServerBuilder(ServerBuilder &&) noexcept;
    ServerBuilder &operator=(ServerBuilder &&) noexcept;

    ServerBuilder &configFile(const QString &path);
    ServerBuilder &config(const Config &config);
    ServerBuilder &host(const QString &host);
    ServerBuilder &port(int port);
    ServerBuilder &module(std::shared_ptr<IModule> module, const ModuleMetadata &metadata);

    Result<std::unique_ptr<Server>> build();

private:
    struct Data;
    std::unique_ptr<Data> d;
};

} // namespace Mtw
