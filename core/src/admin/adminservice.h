// SPDX-License-Identifier: MIT
#pragma once

#include "transport/connection.h"

#include <mtw/broker.h>
#include <mtw/config.h>
#include <mtw/modulestatus.h>
#include <mtw/services.h>

#include <QElapsedTimer>
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QObject>

class QTcpSocket;
class QTimer;
class QWebSocket;
class QWebSocketServer;

namespace Mtw {
class Server;
}

namespace Mtw::Internal {

class ServerContext;

// The admin API (docs/admin-api.md): a snapshot, then live deltas, and operator actions, over
// WebSockets on admin.path. Lives in the server's thread; workers hand it sockets that passed
// the AdminGate. Reads the workers through queued calls, never their objects directly.
class AdminService : public QObject
{
    Q_OBJECT

public:
    AdminService(Server *server, ServerContext *context, QObject *parent = nullptr);
    ~AdminService() override;

    void adoptSocket(QTcpSocket *socket); // a socket already moved to this thread
    // The server has stopped serving clients: tell admins, close their sockets (1001).
    void serverFinished();

private:
    struct Snapshot
    {
        int waitingFor = 0;
        QList<ConnectionSummary> rows;
    };

    void onNewAdmin();
    void onAdminMessage(QWebSocket *admin, const QString &text);
    void sendSnapshot(QWebSocket *admin);
    void tick();
    void flushLog();
    void broadcast(const QJsonObject &message);
    void send(QWebSocket *admin, const QJsonObject &message);
    void reply(QWebSocket *admin, const QJsonValue &id, const Result<QJsonValue> &outcome);
    Result<QJsonValue> perform(const QString &action, const QJsonObject &request);
    Result<QJsonValue> validateConfig(const QString &text, bool save);

    QJsonObject serverInfo() const;
    void answerNodes(QWebSocket *admin, const QJsonValue &id);
    QJsonObject counters(bool withRates);
    QJsonArray agentRows() const;
    QJsonArray channelRows(bool changedOnly);
    QJsonArray moduleRows() const;

    Server *const m_server;
    ServerContext *m_context; // null once the server has finished
    QWebSocketServer *m_webSocketServer = nullptr;
    QList<QWebSocket *> m_admins;           // snapshot sent: they get deltas
    QList<QWebSocket *> m_attaching;        // waiting for their snapshot
    QHash<QWebSocket *, quint64> m_logSeen; // last log sequence each admin has
    QTimer *m_tick = nullptr;
    QTimer *m_logTimer = nullptr;
    QElapsedTimer m_rateClock;
    qint64 m_startedAt = 0;
    QJsonObject m_lastCounters;
    QHash<QString, QJsonObject> m_lastChannels;
    QHash<QString, qint64> m_lastPublished;
    QJsonArray m_lastModules;
    QJsonArray m_lastAgents;
};

} // namespace Mtw::Internal
