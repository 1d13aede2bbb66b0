// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

#include <QJsonValue>
#include <QMainWindow>
#include <QUrl>

#include <functional>

class QAction;
class QLabel;
class QListWidget;
class QMenu;
class QProgressDialog;
class QStackedWidget;
class QTimer;

namespace Mtw {

class AdminClient;
class ChannelsView;
class ConfigView;
class ConnectionsView;
class DashboardView;
class LocalServer;
class LogView;
class ModulesView;
class NodesView;
class AgentsView;
class ProviderKeyStore;
class RunServerDialog;
class TokenStore;

// The mtwadmin window: a sidebar of views over one AdminClient, attached either to a server run
// in-process (LocalServer) or to a remote one; the operator actions; menus and shortcuts.
// Lives in the GUI thread.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    enum View {
        Dashboard,
        Connections,
        Channels,
        Modules,
        Log,
        Configuration,
        Nodes,
        Agents,
        ViewCount
    };
    Q_ENUM(View)

    // Asks the user to confirm a destructive action; replaceable so tests can answer.
    using ConfirmHandler = std::function<bool(const QString &title, const QString &text)>;

    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    // "Run a server here" with a prepared configuration (see LocalServer::makeConfig). The
    // provider keys stored for its modules (ProviderKeyStore) are read from the keychain
    // first, so the server starts a moment later when there are any to read.
    void runLocalServer(const Config &config);
    // Server > Provider API Keys: the keys of the last configuration run and the shipped
    // provider modules.
    void openProviderKeysDialog();
    // "Connect to a server"; the token is stored in the keychain when `rememberToken`. While
    // the in-process server runs, asks first (it is shut down); false when the operator said no.
    bool connectToServer(const QUrl &url, const QString &token, bool rememberToken);
    // File > Disconnect: detaches from a remote server and stops reconnecting.
    void disconnectFromServer();
    // Fills the Run dialog from the saved settings: the address last run with wins over the
    // file's (both host and port, never one from each).
    void prepareRunDialog(RunServerDialog &dialog) const;

    // Delays between reconnection attempts to a remote server whose connection was lost; the
    // last one repeats. Default 1, 2, 5, 10 s.
    void setReconnectDelays(const QList<int> &msecs) { m_reconnectDelays = msecs; }
    bool isReconnecting() const { return m_reconnectAttempt > 0; }
    QString connectionStatusText() const;
    QString bannerText() const;

    void showView(View view);
    View currentView() const;

    // The operator actions, as the menu runs them.
    void disconnectSelected();
    void openPublishDialog();
    void publish(const QString &channel, const QJsonValue &payload);
    void shutdownServer();

    void setConfirmHandler(ConfirmHandler handler) { m_confirm = std::move(handler); }

    AdminClient *client() const { return m_client; }
    LocalServer *localServer() const { return m_local; }
    ProviderKeyStore *providerKeys() const { return m_providerKeys; }
    DashboardView *dashboardView() const { return m_dashboard; }
    ConnectionsView *connectionsView() const { return m_connections; }
    ChannelsView *channelsView() const { return m_channels; }
    ModulesView *modulesView() const { return m_modules; }
    LogView *logView() const { return m_log; }
    ConfigView *configView() const { return m_config; }
    NodesView *nodesView() const { return m_nodes; }
    AgentsView *agentsView() const { return m_agents; }
    QAction *disconnectAction() const { return m_disconnectAction; }
    QAction *detachAction() const { return m_detachAction; }
    QAction *publishAction() const { return m_publishAction; }
    QAction *shutdownAction() const { return m_shutdownAction; }
    QAction *viewAction(View view) const { return m_viewActions.value(view); }
    QProgressDialog *shutdownProgress() const { return m_shutdownProgress; }
    QStringList recentServers() const;

Q_SIGNALS:
    // The answer to publish(): recipients, or -1 with the error.
    void published(int recipients, const QString &error);
    void disconnectDone(const QString &connId, bool ok, const QString &error);

protected:
    void closeEvent(QCloseEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    void createViews();
    void createActions();
    void runServerFromDialog();
    void connectFromDialog(const QString &url = QString());
    void rebuildRecentMenu();
    void addRecentServer(const QString &url);
    bool confirm(const QString &title, const QString &text);
    void stopLocalServer();
    void onStateChanged();
    void showBanner(const QString &text, bool error = true);
    void scheduleReconnect();
    void reconnectNow();
    void stopReconnecting();
    bool askToQuit();
    void updateModifiedMark();
    void updateActions();
    void updateShutdownProgress(int remaining);
    void finishShutdownProgress(const QString &message);

    AdminClient *m_client;
    LocalServer *m_local;
    TokenStore *m_tokens;
    ProviderKeyStore *m_providerKeys;
    bool m_localStarting = false; // reading provider keys before the local server starts
    QListWidget *m_sidebar = nullptr;
    QStackedWidget *m_stack = nullptr;
    QLabel *m_banner = nullptr;
    QLabel *m_statusLabel = nullptr;
    DashboardView *m_dashboard = nullptr;
    ConnectionsView *m_connections = nullptr;
    ChannelsView *m_channels = nullptr;
    ModulesView *m_modules = nullptr;
    LogView *m_log = nullptr;
    ConfigView *m_config = nullptr;
    NodesView *m_nodes = nullptr;
    AgentsView *m_agents = nullptr;

    QAction *m_disconnectAction = nullptr;
    QAction *m_publishAction = nullptr;
    QAction *m_shutdownAction = nullptr;
    QAction *m_detachAction = nullptr;
    QList<QAction *> m_viewActions;
    QMenu *m_recentMenu = nullptr;
    QProgressDialog *m_shutdownProgress = nullptr;
    int m_shutdownTotal = 0;

    ConfirmHandler m_confirm;
    QString m_pendingToken; // saved to the keychain once the connection is accepted
    QString m_remoteToken;  // in memory only, for reconnecting
    QUrl m_remoteUrl;
    bool m_everConnected = false;
    bool m_bannerError = true;
    bool m_shutdownRequested = false; // by us: a server we stopped is not reconnected to
    QTimer *m_reconnectTimer = nullptr;
    QList<int> m_reconnectDelays{1000, 2000, 5000, 10000};
    int m_reconnectAttempt = 0; // 0 = not reconnecting
};

} // namespace Mtw
