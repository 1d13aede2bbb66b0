// SPDX-License-Identifier: MIT
#include "mainwindow.h"

#include "adminclient.h"
#include "agentsview.h"
#include "ask.h"
#include "channelsview.h"
#include "configeditor.h"
#include "configview.h"
#include "connectdialog.h"
#include "connectionsview.h"
#include "dashboardview.h"
#include "jsontablemodel.h"
#include "localserver.h"
#include "logview.h"
#include "modulesview.h"
#include "nodesview.h"
#include "providerkeys.h"
#include "providerkeysdialog.h"
#include "publishdialog.h"
#include "runserverdialog.h"
#include "theme.h"
#include "tokenstore.h"

#include <mtw/buildinfo.h>

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QEventLoop>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressDialog>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QStyle>
#include <QTimer>
#include <QVBoxLayout>

#include <memory>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace {

constexpr int maxRecentServers = 8;
const auto recentKey = "recentServers"_L1;
const auto caFileKey = "remote/caFile"_L1;

} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent)
    , m_client(new AdminClient(this))
    , m_local(new LocalServer(this))
    , m_tokens(new TokenStore(u"mtwadmin"_s, this))
    , m_providerKeys(new ProviderKeyStore(this))
{
    setWindowTitle(tr("mtwadmin"));
    setWindowIcon(QIcon(u":/icons/mtwadmin.svg"_s));
    m_client->setCaFile(QSettings().value(caFileKey).toString());
    createViews();
    createActions();

    m_reconnectTimer = new QTimer(this);
    m_reconnectTimer->setSingleShot(true);
    connect(m_reconnectTimer, &QTimer::timeout, this, &MainWindow::reconnectNow);

    connect(m_client, &AdminClient::stateChanged, this, &MainWindow::onStateChanged);
    connect(m_client, &AdminClient::configReloaded, this, [this](const QString &message) {
        statusBar()->showMessage(message, 15000);
    });
    connect(m_client, &AdminClient::configReloadFailed, this, [this](const QString &message) {
        showBanner(message, true);
    });
    connect(m_client, &AdminClient::errorOccurred, this, [this](const QString &message) {
        if (isReconnecting()) {
            if (m_client->wasRefused()) {
                // Back, but it refuses us (a new generated token, a changed path): waiting
                // will not change that.
                stopReconnecting();
                showBanner(
                    tr("%1 Not reconnecting: connect again with File → Connect.").arg(message));
                onStateChanged();
                return;
            }
            showBanner(tr("The connection to the server was lost. Reconnecting… (File → "
                          "Disconnect stops this.) Last attempt: %1")
                           .arg(message));
            scheduleReconnect(); // the server is not back yet: try again later
            return;
        }
        showBanner(message);
        statusBar()->showMessage(message, 10000);
    });
    connect(m_client, &AdminClient::connectionLost, this, [this](const QString &message) {
        // A remote server that stopped or restarted on its own is attached again when it is
        // back; one we shut down is not.
        if (m_local->isRunning() || m_remoteUrl.isEmpty() || m_shutdownRequested)
            return;
        showBanner(tr("%1 Reconnecting… (File → Disconnect stops this.)").arg(message));
        scheduleReconnect();
    });
    connect(m_client, &AdminClient::shutdownStarted, this, [this](int connections) {
        showBanner(tr("The server is shutting down."));
        if (m_shutdownProgress)
            updateShutdownProgress(connections);
    });
    connect(m_client, &AdminClient::countersChanged, this, [this](const QJsonObject &counters) {
        if (m_shutdownProgress && m_client->isShuttingDown())
            updateShutdownProgress(counters.value(u"connections"_s).toInt());
    });
    connect(m_connections, &ConnectionsView::selectionChanged, this, &MainWindow::updateActions);
    connect(m_connections,
            &ConnectionsView::disconnectRequested,
            this,
            &MainWindow::disconnectSelected);
    connect(m_dashboard, &DashboardView::runRequested, this, &MainWindow::runServerFromDialog);
    connect(m_dashboard, &DashboardView::connectRequested, this, [this] { connectFromDialog(); });
    connect(m_config->editor(),
            &ConfigEditor::modificationChanged,
            this,
            &MainWindow::updateModifiedMark);

    connect(m_local, &LocalServer::started, this, [this](const QUrl &adminUrl) {
        statusBar()->showMessage(tr("Local server listening on port %1").arg(adminUrl.port()),
                                 5000);
        m_client->open(adminUrl, m_local->adminToken());
    });
    connect(m_local, &LocalServer::startFailed, this, [this](const QString &message) {
        showBanner(tr("The local server did not start: %1").arg(message));
        updateActions();
    });
    connect(m_local, &LocalServer::finished, this, [this] {
        finishShutdownProgress(tr("The local server has stopped."));
        onStateChanged();
    });
    connect(m_tokens,
            &TokenStore::saved,
            this,
            [this](const QString &server, bool ok, const QString &error) {
                if (!ok)
                    statusBar()->showMessage(
                        tr("The token for %1 was not stored: %2").arg(server, error),
                        10000);
            });

    QSettings settings;
    if (!restoreGeometry(settings.value(u"window/geometry"_s).toByteArray()))
        resize(1180, 760);
    restoreState(settings.value(u"window/state"_s).toByteArray());
    showView(View(std::clamp(settings.value(u"window/view"_s, 0).toInt(), 0, ViewCount - 1)));
    rebuildRecentMenu();
    onStateChanged();
}

MainWindow::~MainWindow()
{
    // The client first: it must not see the local server's goodbye after the views are gone.
    m_client->close();
}

void MainWindow::createViews()
{
    m_dashboard = new DashboardView(m_client, this);
    m_connections = new ConnectionsView(m_client->connections(), this);
    m_channels = new ChannelsView(m_client, this);
    m_modules = new ModulesView(m_client->modules(), this);
    m_log = new LogView(m_client->log(), this);
    m_config = new ConfigView(m_client, this);
    m_nodes = new NodesView(m_client, this);
    m_agents = new AgentsView(m_client->agents(), this);

    m_stack = new QStackedWidget(this);
    m_sidebar = new QListWidget(this);
    m_sidebar->setAccessibleName(tr("Views"));
    m_sidebar->setIconSize(QSize(20, 20));
    m_sidebar->setSpacing(2);
    const std::pair<QWidget *, QStyle::StandardPixmap> pages[] = {
        {m_dashboard, QStyle::SP_ComputerIcon},
        {m_connections, QStyle::SP_DriveNetIcon},
        {m_channels, QStyle::SP_FileDialogListView},
        {m_modules, QStyle::SP_FileDialogDetailedView},
        {m_log, QStyle::SP_FileDialogInfoView},
        {m_config, QStyle::SP_FileDialogContentsView},
        {m_nodes, QStyle::SP_DirLinkIcon},
        {m_agents, QStyle::SP_MessageBoxInformation},
    };
    const QString names[] = {tr("Dashboard"),
                             tr("Connections"),
                             tr("Channels"),
                             tr("Modules"),
                             tr("Log"),
                             tr("Configuration"),
                             tr("Nodes"),
                             tr("Agents")};
    int widest = 0;
    for (int i = 0; i < ViewCount; ++i) {
        m_stack->addWidget(pages[i].first);
        new QListWidgetItem(style()->standardIcon(pages[i].second), names[i], m_sidebar);
        widest = std::max(widest, m_sidebar->fontMetrics().horizontalAdvance(names[i]));
    }
    m_sidebar->setFixedWidth(widest + 64);
    connect(m_sidebar, &QListWidget::currentRowChanged, this, [this](int row) {
        if (row >= 0)
            showView(View(row));
    });

    m_banner = new QLabel(this);
    m_banner->setWordWrap(true);
    m_banner->setMargin(6);
    m_banner->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_banner->hide();

    auto *right = new QWidget(this);
    auto *rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(m_banner);
    rightLayout->addWidget(m_stack, 1);

    auto *central = new QWidget(this);
    auto *layout = new QHBoxLayout(central);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(m_sidebar);
    layout->addWidget(right, 1);
    setCentralWidget(central);
    setTabOrder(m_sidebar, m_stack);

    m_statusLabel = new QLabel(this);
    statusBar()->addPermanentWidget(m_statusLabel);
}

void MainWindow::createActions()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *run = file->addAction(tr("&Run Server Here…"), this, &MainWindow::runServerFromDialog);
    run->setShortcut(tr("Ctrl+R"));
    QAction *connectAction =
        file->addAction(tr("&Connect to Server…"), this, [this] { connectFromDialog(); });
    connectAction->setShortcut(tr("Ctrl+O"));
    m_recentMenu = file->addMenu(tr("R&ecent Servers"));
    m_detachAction = file->addAction(tr("&Disconnect"), this, &MainWindow::disconnectFromServer);
    m_detachAction->setShortcut(tr("Ctrl+Shift+D"));
    m_detachAction->setToolTip(tr("Detach from the remote server (it keeps running)"));
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    // QKeySequence::Quit is empty under some platforms' key schemes: Ctrl+Q is what people press.
    QList<QKeySequence> quitKeys = QKeySequence::keyBindings(QKeySequence::Quit);
    if (quitKeys.isEmpty())
        quitKeys.append(QKeySequence(tr("Ctrl+Q")));
    quit->setShortcuts(quitKeys);
    quit->setMenuRole(QAction::QuitRole);

    QMenu *server = menuBar()->addMenu(tr("&Server"));
    m_publishAction =
        server->addAction(tr("&Publish Test Message…"), this, &MainWindow::openPublishDialog);
    m_publishAction->setShortcut(tr("Ctrl+P"));
    m_disconnectAction =
        server->addAction(tr("&Disconnect Client…"), this, &MainWindow::disconnectSelected);
    m_disconnectAction->setShortcut(QKeySequence::Delete);
    server->addSeparator();
    m_shutdownAction = server->addAction(tr("&Shut Down…"), this, &MainWindow::shutdownServer);
    server->addSeparator();
    server->addAction(tr("Provider API &Keys…"), this, &MainWindow::openProviderKeysDialog);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    auto *group = new QActionGroup(this);
    for (int i = 0; i < ViewCount; ++i) {
        QAction *action = view->addAction(m_sidebar->item(i)->text());
        action->setCheckable(true);
        action->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
        action->setActionGroup(group);
        connect(action, &QAction::triggered, this, [this, i] { showView(View(i)); });
        m_viewActions.append(action);
    }

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    QAction *about = help->addAction(tr("&About mtwadmin"), this, [this] {
        QMessageBox::about(this,
                           tr("About mtwadmin"),
                           tr("<h3>mtwadmin %1</h3><p>The desktop admin of mtwserver: run a "
                              "server here or attach to one over its admin API.</p><p>%2</p>")
                               .arg(versionString().toHtmlEscaped(), buildInfo().toHtmlEscaped()));
    });
    about->setMenuRole(QAction::AboutRole);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::showView(View view)
{
    if (view < 0 || view >= ViewCount)
        return;
    m_stack->setCurrentIndex(view);
    m_sidebar->setCurrentRow(view);
    if (QAction *action = m_viewActions.value(view))
        action->setChecked(true);
    updateActions();
}

MainWindow::View MainWindow::currentView() const
{
    return View(m_stack->currentIndex());
}

void MainWindow::runLocalServer(const Config &config)
{
    if (m_local->isRunning() || m_localStarting) {
        showBanner(tr("A local server is already running: shut it down first."));
        return;
    }
    m_client->close();
    m_remoteUrl.clear();
    m_pendingToken.clear();
    showBanner(QString());
    const QStringList modules = ProviderKeyStore::modulesTakingKeys(config);
    if (modules.isEmpty()) {
        statusBar()->showMessage(tr("Starting the local server…"));
        m_local->start(config);
        updateActions();
        return;
    }
    m_localStarting = true;
    statusBar()->showMessage(tr("Reading the provider keys from the keychain…"));
    auto once = std::make_shared<QMetaObject::Connection>();
    *once = connect(
        m_providerKeys,
        &ProviderKeyStore::keysLoaded,
        this,
        [this, config, once](const QMap<QString, QString> &keys, const QStringList &errors) {
            disconnect(*once);
            m_localStarting = false;
            // A key the keychain could not give is no reason not to start: the
            // module then says what it misses (the Modules view shows it).
            if (!errors.isEmpty())
                showBanner(tr("Provider keys could not be read from the keychain, "
                              "the server starts without them: %1")
                               .arg(errors.join(u"; "_s)));
            statusBar()->showMessage(
                keys.isEmpty() ? tr("Starting the local server…")
                               : tr("Starting the local server with the stored keys of %1…")
                                     .arg(keys.keys().join(u", "_s)));
            m_local->start(config, keys);
            updateActions();
        });
    m_providerKeys->loadKeys(modules);
}

void MainWindow::openProviderKeysDialog()
{
    QStringList modules;
    const QString path = m_local->isRunning() ? m_local->configPath()
                                              : QSettings().value(u"local/configPath"_s).toString();
    if (const Result<Config> config = LocalServer::makeConfig(path, QString(), -1))
        modules = ProviderKeyStore::modulesTakingKeys(*config);
    ProviderKeysDialog dialog(m_providerKeys, modules, this);
    dialog.exec();
}

bool MainWindow::connectToServer(const QUrl &url, const QString &token, bool rememberToken)
{
    if (m_local->isRunning()) {
        const int clients = m_client->counters().value(u"connections"_s).toInt();
        const Question question{
            tr("Shut Down the Local Server?"),
            tr("A server runs in mtwadmin (%1). Connecting to %2 shuts it down first: %n "
               "client(s) connected to it will be closed with 1001 (ServerShutdown).",
               nullptr,
               clients)
                .arg(m_local->adminUrl().authority(), url.toDisplayString(QUrl::RemoveUserInfo)),
            {tr("Shut Down and Connect"), tr("Cancel")},
            1,
            1,
            QMessageBox::Warning};
        if (ask(this, question) != 0)
            return false;
        stopLocalServer();
    }
    stopReconnecting();
    m_shutdownRequested = false;
    m_remoteUrl = url;
    m_remoteToken = token;
    m_pendingToken = rememberToken ? token : QString();
    showBanner(QString());
    statusBar()->showMessage(tr("Connecting to %1…").arg(url.toDisplayString()));
    m_client->open(url, token);
    return true;
}

void MainWindow::disconnectFromServer()
{
    if (m_local->isRunning())
        return; // the in-process server is stopped with Server > Shut Down
    stopReconnecting();
    m_client->close();
    m_remoteUrl.clear();
    m_remoteToken.clear();
    m_pendingToken.clear();
    showBanner(QString());
    statusBar()->showMessage(tr("Disconnected."), 5000);
    onStateChanged();
}

void MainWindow::scheduleReconnect()
{
    if (m_remoteUrl.isEmpty() || m_reconnectDelays.isEmpty())
        return;
    const int delay =
        m_reconnectDelays.at(std::min<qsizetype>(m_reconnectAttempt, m_reconnectDelays.size() - 1));
    ++m_reconnectAttempt;
    m_reconnectTimer->start(delay);
    onStateChanged();
}

void MainWindow::reconnectNow()
{
    if (m_remoteUrl.isEmpty())
        return;
    m_client->open(m_remoteUrl, m_remoteToken);
}

void MainWindow::stopReconnecting()
{
    m_reconnectTimer->stop();
    m_reconnectAttempt = 0;
}

QString MainWindow::connectionStatusText() const
{
    return m_statusLabel->text();
}

QString MainWindow::bannerText() const
{
    return m_banner->isHidden() ? QString() : m_banner->text();
}

void MainWindow::prepareRunDialog(RunServerDialog &dialog) const
{
    const QSettings settings;
    dialog.setConfigPath(settings.value(u"local/configPath"_s).toString());
    // What the operator ran with last time, as a pair: a host from the file with a port from
    // the settings once bound 0.0.0.0 where 127.0.0.1 had been chosen.
    if (settings.contains(u"local/host"_s) && settings.contains(u"local/port"_s))
        dialog.setAddress(settings.value(u"local/host"_s).toString(),
                          settings.value(u"local/port"_s).toInt());
}

void MainWindow::runServerFromDialog()
{
    if (m_local->isRunning()) {
        showBanner(tr("A local server is already running: shut it down first."));
        return;
    }
    RunServerDialog dialog(this);
    dialog.setProviderKeys(m_providerKeys);
    prepareRunDialog(dialog);
    if (dialog.exec() != QDialog::Accepted)
        return;
    QSettings settings;
    settings.setValue(u"local/configPath"_s, dialog.configPath());
    settings.setValue(u"local/host"_s, dialog.host());
    settings.setValue(u"local/port"_s, dialog.port());
    if (m_client->state() != AdminClient::State::Disconnected || isReconnecting())
        disconnectFromServer();
    runLocalServer(dialog.config());
}

void MainWindow::connectFromDialog(const QString &url)
{
    ConnectDialog dialog(recentServers(), m_tokens, this);
    if (!url.isEmpty())
        dialog.setUrl(url);
    dialog.setCaFile(QSettings().value(caFileKey).toString());
    if (dialog.exec() != QDialog::Accepted)
        return;
    QSettings().setValue(caFileKey, dialog.caFile());
    m_client->setCaFile(dialog.caFile());
    connectToServer(dialog.url(), dialog.token(), dialog.rememberToken());
}

QStringList MainWindow::recentServers() const
{
    return QSettings().value(recentKey).toStringList();
}

void MainWindow::addRecentServer(const QString &url)
{
    QStringList recent = recentServers();
    recent.removeAll(url);
    recent.prepend(url);
    QSettings().setValue(recentKey, recent.mid(0, maxRecentServers));
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = recentServers();
    int number = 1;
    for (const QString &url : recent) {
        QString label = url;
        label.replace(u'&', u"&&"_s); // a literal &, not a mnemonic
        m_recentMenu->addAction(u"&%1 %2"_s.arg(number++).arg(label), this, [this, url] {
            connectFromDialog(url);
        });
    }
    if (recent.isEmpty()) {
        m_recentMenu->addAction(tr("(none)"))->setEnabled(false);
        return;
    }
    m_recentMenu->addSeparator();
    m_recentMenu->addAction(tr("&Clear List"), this, [this] {
        QSettings().remove(recentKey);
        rebuildRecentMenu();
    });
}

bool MainWindow::confirm(const QString &title, const QString &text)
{
    if (m_confirm)
        return m_confirm(title, text);
    return ask(this, Question{title, text, {tr("&Yes"), tr("Cancel")}, 1, 1}) == 0;
}

void MainWindow::disconnectSelected()
{
    const QStringList ids = m_connections->selectedConnIds();
    if (ids.isEmpty() || m_client->state() != AdminClient::State::Connected)
        return;
    QString reason = m_connections->disconnectReason();
    if (reason.isEmpty())
        reason = u"disconnected from mtwadmin"_s;
    const QString text = ids.size() == 1
        ? tr("Disconnect client %1? It is closed with reason Kicked(%2).")
              .arg(ids.constFirst(), reason)
        : tr("Disconnect %n clients? They are closed with reason Kicked(%1).",
             nullptr,
             int(ids.size()))
              .arg(reason);
    if (!confirm(tr("Disconnect Client"), text))
        return;
    for (const QString &connId : ids) {
        m_client->call(
            u"disconnect"_s,
            {{u"conn_id"_s, connId}, {u"reason"_s, reason}},
            this,
            [this, connId](const ActionResult &result) {
                if (!result.ok)
                    statusBar()->showMessage(
                        tr("Could not disconnect %1: %2").arg(connId, result.errorMessage),
                        10000);
                else
                    statusBar()->showMessage(tr("Disconnected %1").arg(connId), 5000);
                Q_EMIT disconnectDone(connId, result.ok, result.errorMessage);
            });
    }
}

void MainWindow::openPublishDialog()
{
    if (m_client->state() != AdminClient::State::Connected)
        return;
    auto *dialog = new PublishDialog(m_client->channels()->keys(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    if (!m_channels->currentChannel().isEmpty())
        dialog->setChannel(m_channels->currentChannel());
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        publish(dialog->channel(), dialog->payload());
    });
    dialog->open();
}

void MainWindow::publish(const QString &channel, const QJsonValue &payload)
{
    m_client->call(u"publish"_s,
                   {{u"channel"_s, channel}, {u"payload"_s, payload}},
                   this,
                   [this, channel](const ActionResult &result) {
                       if (!result.ok) {
                           statusBar()->showMessage(
                               tr("Publish to %1 failed: %2").arg(channel, result.errorMessage),
                               10000);
                           Q_EMIT published(-1, result.errorMessage);
                           return;
                       }
                       const int recipients = result.data.toObject().value(u"recipients"_s).toInt();
                       statusBar()->showMessage(
                           tr("Published to %1: %n recipient(s)", nullptr, recipients).arg(channel),
                           5000);
                       Q_EMIT published(recipients, QString());
                   });
}

void MainWindow::shutdownServer()
{
    const bool connected = m_client->state() == AdminClient::State::Connected;
    if (!connected && !m_local->isRunning())
        return;
    const int open = m_client->counters().value(u"connections"_s).toInt();
    if (!confirm(tr("Shut Down Server"),
                 tr("Shut the server down gracefully? %n client(s) will be closed with 1001 "
                    "(ServerShutdown) once their queued output is written.",
                    nullptr,
                    open))) {
        return;
    }
    m_shutdownRequested = true;
    m_shutdownTotal = std::max(open, 1);
    delete m_shutdownProgress;
    m_shutdownProgress = new QProgressDialog(this);
    m_shutdownProgress->setWindowTitle(tr("Shutting Down"));
    m_shutdownProgress->setCancelButton(nullptr);
    m_shutdownProgress->setMinimumDuration(0);
    m_shutdownProgress->setAutoClose(false);
    m_shutdownProgress->setAutoReset(false);
    m_shutdownProgress->setWindowModality(Qt::WindowModal);
    m_shutdownProgress->setRange(0, m_shutdownTotal);
    updateShutdownProgress(open);
    m_shutdownProgress->show();

    if (connected) {
        m_client->call(u"shutdown"_s, {}, this, [this](const ActionResult &result) {
            // The server closes the admin connection last; a lost connection here is success.
            if (!result.ok && result.errorCode != 503)
                finishShutdownProgress(tr("Shutdown refused: %1").arg(result.errorMessage));
        });
    } else {
        m_local->shutdown();
    }
}

void MainWindow::updateShutdownProgress(int remaining)
{
    if (!m_shutdownProgress)
        return;
    m_shutdownTotal = std::max(m_shutdownTotal, remaining);
    m_shutdownProgress->setMaximum(m_shutdownTotal);
    m_shutdownProgress->setValue(m_shutdownTotal - remaining);
    m_shutdownProgress->setLabelText(tr("Closing connections: %n remaining…", nullptr, remaining));
}

void MainWindow::finishShutdownProgress(const QString &message)
{
    statusBar()->showMessage(message, 10000);
    if (!m_shutdownProgress)
        return;
    m_shutdownProgress->setValue(m_shutdownProgress->maximum());
    m_shutdownProgress->hide();
    m_shutdownProgress->deleteLater();
    m_shutdownProgress = nullptr;
}

void MainWindow::stopLocalServer()
{
    if (!m_local->isRunning())
        return;
    m_client->close();
    m_local->shutdown();
    // shutdown_timeout bounds the drain; a little more for the modules and the workers.
    if (!m_local->waitForFinished(15000))
        statusBar()->showMessage(tr("The local server did not stop in time."), 10000);
}

void MainWindow::onStateChanged()
{
    const AdminClient::State state = m_client->state();
    QString where = m_local->isRunning() ? tr("local server")
                                         : m_remoteUrl.toDisplayString(QUrl::RemoveUserInfo);
    if (state == AdminClient::State::Connected) {
        const QJsonObject server = m_client->serverInfo();
        const QString address =
            u"%1:%2"_s.arg(server.value(u"host"_s).toString()).arg(server.value(u"port"_s).toInt());
        if (m_local->isRunning())
            where = tr("local server on %1").arg(address);
        setWindowTitle(tr("%1 — mtwadmin").arg(where));
        m_statusLabel->setText(tr("Connected to %1").arg(where));
        showBanner(QString());
        m_everConnected = true;
        if (!m_local->isRunning()) {
            const QString canonical = ConnectDialog::canonicalUrl(m_remoteUrl);
            addRecentServer(canonical);
            if (!m_pendingToken.isEmpty())
                m_tokens->save(canonical, std::exchange(m_pendingToken, QString()));
        }
        if (std::exchange(m_reconnectAttempt, 0) > 0)
            statusBar()->showMessage(tr("Reconnected to %1.").arg(where), 5000);
    } else if (isReconnecting()) {
        setWindowTitle(tr("%1 (reconnecting) — mtwadmin").arg(where));
        m_statusLabel->setText(
            state == AdminClient::State::Connecting
                ? tr("Reconnecting to %1 (attempt %2)…").arg(where).arg(m_reconnectAttempt)
                : tr("Connection lost; reconnecting to %1 (attempt %2)…")
                      .arg(where)
                      .arg(m_reconnectAttempt));
    } else if (state == AdminClient::State::Connecting) {
        m_statusLabel->setText(tr("Connecting to %1…").arg(where));
    } else {
        setWindowTitle(tr("mtwadmin"));
        m_statusLabel->setText(tr("Not connected"));
        if (!m_local->isRunning())
            finishShutdownProgress(m_client->isShuttingDown() ? tr("The server has shut down.")
                                                              : QString());
    }
    updateModifiedMark();
    updateActions();
}

void MainWindow::showBanner(const QString &text, bool error)
{
    m_bannerError = error;
    m_banner->setStyleSheet(bannerStyleSheet(palette(), error));
    m_banner->setText(text);
    m_banner->setVisible(!text.isEmpty());
}

void MainWindow::updateModifiedMark()
{
    const bool modified = m_config->editor()->isModified();
    // "[*]" is where Qt shows the mark; the sidebar says which view holds the edits.
    QString title = windowTitle();
    title.remove(u"[*]"_s);
    setWindowTitle(title + u"[*]"_s);
    setWindowModified(modified);
    if (QListWidgetItem *item = m_sidebar->item(Configuration)) {
        item->setText(modified ? tr("Configuration *") : tr("Configuration"));
        item->setToolTip(modified ? tr("The configuration has unsaved changes") : QString());
    }
}

void MainWindow::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::PaletteChange && m_banner)
        m_banner->setStyleSheet(bannerStyleSheet(palette(), m_bannerError));
    QMainWindow::changeEvent(event);
}

void MainWindow::updateActions()
{
    const bool connected =
        m_client->state() == AdminClient::State::Connected && !m_client->isShuttingDown();
    m_publishAction->setEnabled(connected);
    m_disconnectAction->setEnabled(connected && currentView() == Connections
                                   && !m_connections->selectedConnIds().isEmpty());
    m_shutdownAction->setEnabled(connected || m_local->isRunning());
    m_detachAction->setEnabled(
        !m_local->isRunning()
        && (m_client->state() != AdminClient::State::Disconnected || isReconnecting()));
}

bool MainWindow::askToQuit()
{
    if (m_config->editor()->isModified()) {
        const int answer = ask(this,
                               Question{tr("Unsaved Configuration"),
                                        tr("The configuration has changes that are not saved. "
                                           "Save them to the server before quitting?"),
                                        {tr("&Save"), tr("&Discard"), tr("Cancel")},
                                        0,
                                        2,
                                        QMessageBox::Warning});
        if (answer == 2)
            return false;
        if (answer == 0) {
            bool saved = false;
            QEventLoop loop;
            connect(m_config, &ConfigView::savedResult, &loop, [&](bool ok, const QString &) {
                saved = ok;
                loop.quit();
            });
            QTimer::singleShot(15000, &loop, &QEventLoop::quit);
            m_config->save();
            if (m_config->isSaving())
                loop.exec();
            if (!saved) {
                showView(Configuration);
                return false; // the status line under the editor says why
            }
        }
    }
    const int clients = m_client->counters().value(u"connections"_s).toInt();
    if (m_local->isRunning() && clients > 0) {
        const Question question{tr("Stop the Local Server?"),
                                tr("Quitting stops the server running in mtwadmin: %n "
                                   "client(s) will be closed with 1001 (ServerShutdown).",
                                   nullptr,
                                   clients),
                                {tr("&Quit"), tr("Cancel")},
                                1,
                                1,
                                QMessageBox::Warning};
        if (ask(this, question) != 0)
            return false;
    }
    return true;
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (!askToQuit()) {
        event->ignore();
        return;
    }
    stopReconnecting();
    QSettings settings;
    settings.setValue(u"window/geometry"_s, saveGeometry());
    settings.setValue(u"window/state"_s, saveState());
    settings.setValue(u"window/view"_s, int(currentView()));
    stopLocalServer();
    event->accept();
}

} // namespace Mtw
