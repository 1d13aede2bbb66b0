// SPDX-License-Identifier: MIT
#include "localserver.h"

#include "providerkeys.h"

#include <mtw/server.h>

#include <QEventLoop>
#include <QHostAddress>
#include <QLoggingCategory>
#include <QThread>
#include <QTimer>

namespace Mtw {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcLocalServer, "mtwadmin.localserver", QtInfoMsg)

LocalServerHost::LocalServerHost(const Config &config, const ProviderKeys &keys)
    : m_config(config)
    , m_keys(keys)
{ }

LocalServerHost::~LocalServerHost() = default;

void LocalServerHost::start()
{
    // Level and rules apply process-wide, as they would for mtwserver.
    QLoggingCategory::setFilterRules(loggingFilterRules(m_config.logging));
    m_server = std::make_unique<Server>(m_config);
    if (!m_config.sourcePath.isEmpty()) {
        // What the Run dialog and the keychain added to the file holds across reloads, so a
        // reload neither drops the keys nor reports the chosen address as a change.
        m_server->setConfigLoader([path = m_config.sourcePath,
                                   host = m_config.server.host,
                                   port = m_config.server.port,
                                   keys = m_keys]() -> Result<ConfigLoadResult> {
            Result<ConfigLoadResult> loaded = loadConfigFile(path);
            if (loaded && !loaded->hasErrors()) {
                loaded->config.server.host = host;
                loaded->config.server.port = port;
                loaded->config.admin.enabled = true;
                loaded->config = ProviderKeyStore::withKeys(loaded->config, keys);
            }
            return loaded;
        });
    }
    connect(m_server.get(), &Server::finished, this, &LocalServerHost::finished);
    const Result<void> result = m_server->start();
    if (!result) {
        m_server.reset();
        Q_EMIT startFailed(result.error().message);
        return;
    }
    Q_EMIT started(m_server->port(), m_server->adminToken());
}

void LocalServerHost::shutdown()
{
    if (m_server)
        m_server->shutdown();
    else
        Q_EMIT finished();
}

LocalServer::LocalServer(QObject *parent)
    : QObject(parent)
{ }

LocalServer::~LocalServer()
{
    stopThread();
}

Result<Config> LocalServer::makeConfig(const QString &configPath, const QString &host, int port)
{
    Config config;
    if (!configPath.isEmpty()) {
        const Result<ConfigLoadResult> loaded = loadConfigFile(configPath);
        if (!loaded)
            return fail(loaded.error().code, loaded.error().message);
        if (loaded->hasErrors()) {
            QStringList lines;
            const QList<ConfigDiagnostic> errors = loaded->errors();
            for (const ConfigDiagnostic &diagnostic : errors)
                lines.append(diagnostic.toString());
            return fail(400, lines.join(u'\n'));
        }
        config = loaded->config;
    }
    if (!host.isEmpty())
        config.server.host = host;
    if (port >= 0)
        config.server.port = port;
    config.admin.enabled = true;
    return config;
}

void LocalServer::start(const Config &config, const ProviderKeys &keys)
{
    if (m_thread)
        return;
    m_config = config;
    // No QT_NO_GLIB: the fan-out to many sockets, where GLib's dispatcher cost most of the CPU,
    // runs on the I/O workers, and Mtw::Server installs its epoll dispatcher there whatever the
    // environment says (tst_mtwadmin_dispatchers checks it). Setting the variable here only
    // switched this server thread (a few sockets: the listener, the admin API) and raced with
    // other threads reading the environment; setting it in main() instead would take GLib from
    // the GUI thread, which the keychain needs. With MTW_EVENT_DISPATCHER=qt the workers use the
    // default dispatcher; QT_NO_THREADED_GLIB=1 at launch makes that Qt's Unix one.
    m_thread = new QThread(this);
    m_thread->setObjectName(u"mtw-local-server"_s);
    m_host = new LocalServerHost(ProviderKeyStore::withKeys(config, keys), keys);
    m_host->moveToThread(m_thread);
    // Deferred deletes still run in the thread after its loop stops: the Server dies there.
    connect(m_thread, &QThread::finished, m_host, &QObject::deleteLater);
    connect(m_host, &LocalServerHost::started, this, [this](quint16 port, const QString &token) {
        m_adminToken = token;
        QString host = m_config.server.host;
        const QHostAddress address(host);
        if (address == QHostAddress::AnyIPv4 || address == QHostAddress::AnyIPv6
            || address == QHostAddress::Any || host.isEmpty()) {
            host = u"127.0.0.1"_s;
        }
        QUrl url;
        url.setScheme(u"ws"_s);
        url.setHost(host);
        url.setPort(port);
        url.setPath(m_config.admin.path);
        m_adminUrl = url;
        qCInfo(lcLocalServer).noquote() << "in-process server listening on port" << port;
        Q_EMIT started(url);
    });
    connect(m_host, &LocalServerHost::startFailed, this, [this](const QString &message) {
        stopThread();
        Q_EMIT startFailed(message);
    });
    connect(m_host, &LocalServerHost::finished, this, [this] {
        stopThread();
        Q_EMIT finished();
    });
    m_thread->start();
    QMetaObject::invokeMethod(m_host, &LocalServerHost::start, Qt::QueuedConnection);
}

void LocalServer::shutdown()
{
    if (m_host)
        QMetaObject::invokeMethod(m_host, &LocalServerHost::shutdown, Qt::QueuedConnection);
}

bool LocalServer::waitForFinished(int msecs)
{
    if (!m_thread)
        return true;
    QEventLoop loop;
    connect(this, &LocalServer::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(msecs, &loop, &QEventLoop::quit);
    loop.exec();
    return m_thread == nullptr;
}

void LocalServer::stopThread()
{
    if (!m_thread)
        return;
    m_host->disconnect(this);
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
    m_host = nullptr;
    m_adminUrl.clear();
    m_adminToken.clear();
}

} // namespace Mtw
