// SPDX-License-Identifier: MIT
#pragma once

#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>

#include <functional>

namespace Mtw {

class ChannelModel;
class ConnectionModel;
class LogModel;
class ModuleModel;
class AgentModel;

// The answer to one admin action (docs/admin-api.md, "result").
struct ActionResult
{
    bool ok = false;
    QJsonValue data;
    int errorCode = 0;
    QString errorMessage;
};

// Speaks the admin API over one QWebSocket: reads the snapshot and the deltas into the models it
// owns and sends actions, each answered through a callback. The same client serves a server run
// in-process and a remote one. Lives in the GUI thread.
class AdminClient : public QObject
{
    Q_OBJECT

public:
    enum class State { Disconnected, Connecting, Connected };
    Q_ENUM(State)

    using Callback = std::function<void(const ActionResult &)>;

    explicit AdminClient(QObject *parent = nullptr);
    ~AdminClient() override;

    // Opens ws://host:port/admin (or wss://); `token` (if any) goes in an Authorization: Bearer
    // header. The models are cleared and refilled from the snapshot.
    void open(const QUrl &url, const QString &token = QString());
    // wss://: the PEM file of the CA that signed the server's certificate, trusted next to the
    // system store; empty = the system store only. Applies from the next open().
    void setCaFile(const QString &path) { m_caFile = path; }
    QString caFile() const { return m_caFile; }
    void close();
    // "Configuration reloaded; applied: logging.level; needs a restart: server.port".
    static QString describeReload(const QStringList &applied, const QStringList &restartRequired);
    // How long open() waits for the snapshot before it gives up and says so.
    void setConnectTimeout(int msecs) { m_connectTimeout = msecs; }

    State state() const { return m_state; }
    QUrl url() const { return m_url; }
    QJsonObject serverInfo() const { return m_server; }
    QJsonObject counters() const { return m_counters; }
    bool isShuttingDown() const { return m_shuttingDown; }
    // The last open() was answered with an HTTP refusal (401, 403, 404, ...): trying again
    // with the same URL and token will not help.
    bool wasRefused() const { return m_refused; }

    ConnectionModel *connections() const { return m_connections; }
    ChannelModel *channels() const { return m_channels; }
    ModuleModel *modules() const { return m_modules; }
    AgentModel *agents() const { return m_agents; }
    LogModel *log() const { return m_log; }

    // Sends {"id","action",...fields}. `callback` runs once with the result, or with an error
    // when the connection is lost first; it is dropped when `context` is destroyed.
    void call(const QString &action, QJsonObject fields, QObject *context, Callback callback);

Q_SIGNALS:
    void stateChanged(Mtw::AdminClient::State state);
    void snapshotReceived(const QJsonObject &server);
    void countersChanged(const QJsonObject &counters);
    void connectionClosed(const QString &connId, const QString &reason);
    void shutdownStarted(int connections);
    // The server reloaded its configuration (SIGHUP, a watched file, a save): `message` says
    // so in words, e.g. "Configuration reloaded; needs a restart: server.port".
    void configReloaded(const QString &message, const QStringList &restartRequired);
    void configReloadFailed(const QString &message);
    // The connection failed or was lost; `message` says why in words for the status bar.
    // Every failed open() ends in exactly one of these.
    void errorOccurred(const QString &message);
    // An established connection ended without close() (the server stopped, restarted, was
    // killed or the network went away); errorOccurred() carries the same words.
    void connectionLost(const QString &message);

private:
    struct Pending
    {
        QPointer<QObject> context;
        Callback callback;
    };

    void setState(State state);
    void onText(const QString &text);
    void apply(const QJsonObject &message);
    void onDisconnected();
    void applySnapshot(const QJsonObject &message);
    void applyResult(const QJsonObject &message);
    void failPending(const QString &why);
    void appendLog(const QJsonArray &entries);
    static QString logKey(const QJsonObject &entry);
    void reportError(const QString &message);
    void onConnectTimeout();
    // Words for a failed open(); notes whether it was an HTTP refusal (wasRefused()).
    QString describeError(QAbstractSocket::SocketError error, const QString &socketError);
    QString lossReason(const QWebSocket *socket) const;

    QWebSocket *m_socket = nullptr;
    State m_state = State::Disconnected;
    QUrl m_url;
    QJsonObject m_server;
    QJsonObject m_counters;
    bool m_shuttingDown = false;
    bool m_closing = false;
    bool m_errorReported = false;
    bool m_refused = false; // set where the refusal is recognised, in describeError()
    QString m_caFile;
    int m_connectTimeout = 10000;
    QTimer m_connectTimer;
    quint64 m_nextId = 1;
    QHash<QString, Pending> m_pending;
    QList<QJsonObject> m_early;  // deltas that arrived before the snapshot
    QSet<QString> m_snapshotLog; // the snapshot's log lines, until the first log batch

    ConnectionModel *m_connections;
    ChannelModel *m_channels;
    ModuleModel *m_modules;
    AgentModel *m_agents;
    LogModel *m_log;
};

} // namespace Mtw
