// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/result.h>

#include <QMap>
#include <QObject>
#include <QUrl>

#include <memory>

class QThread;

namespace Mtw {

class Server;

// Module id -> provider API key (ProviderKeyStore), applied as that module's `api_key`.
using ProviderKeys = QMap<QString, QString>;

// Creates, starts and shuts down an Mtw::Server. Lives in the server's own thread (moved there
// before its start() is invoked), so the Server and everything it parents are made there too.
class LocalServerHost : public QObject
{
    Q_OBJECT

public:
    // `config` already carries `keys`; reloads (SIGHUP, watch_config, the admin API's save)
    // read the file again and apply the same address, admin endpoint and keys to it.
    LocalServerHost(const Config &config, const ProviderKeys &keys);
    ~LocalServerHost() override; // a still running server is stopped at once

    void start();
    void shutdown();

Q_SIGNALS:
    void started(quint16 port, const QString &adminToken);
    void startFailed(const QString &message);
    void finished();

private:
    Config m_config;
    ProviderKeys m_keys;
    std::unique_ptr<Server> m_server;
};

// "Run a server here": owns the thread of an in-process server and reports its life to the GUI.
// Lives in the GUI thread.
class LocalServer : public QObject
{
    Q_OBJECT

public:
    explicit LocalServer(QObject *parent = nullptr);
    ~LocalServer() override;

    // The configuration to run: `configPath` (empty = built-in defaults) with host and port
    // applied over it, and the admin endpoint enabled (the GUI needs it). Errors list every
    // problem of the file.
    static Result<Config> makeConfig(const QString &configPath, const QString &host, int port);

    // Starts the server in a new thread; started() or startFailed() follows. `keys` become
    // the `api_key` of their modules (ProviderKeyStore::withKeys) at the start and on every
    // reload, in memory only.
    void start(const Config &config, const ProviderKeys &keys = {});
    // Graceful shutdown; finished() follows once the server is gone.
    void shutdown();
    bool isRunning() const { return m_thread != nullptr; }
    // Blocks (with a local event loop) until finished, up to `msecs`; true when it finished.
    bool waitForFinished(int msecs);

    QUrl adminUrl() const { return m_adminUrl; }
    // The token of the running server's admin API: admin.token, or the one the server
    // generated for itself (kept in memory, never written anywhere).
    QString adminToken() const { return m_adminToken; }
    QString configPath() const { return m_config.sourcePath; }

Q_SIGNALS:
    void started(const QUrl &adminUrl);
    void startFailed(const QString &message);
    void finished();

private:
    void stopThread();

    QThread *m_thread = nullptr;
    LocalServerHost *m_host = nullptr;
    Config m_config;
    QUrl m_adminUrl;
    QString m_adminToken;
};

} // namespace Mtw
