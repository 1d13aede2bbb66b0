// SPDX-License-Identifier: MIT
#pragma once

#include "transport/connection.h"

#include <mtw/disconnectreason.h>
#include <mtw/message.h>
#include <mtw/result.h>
#include <mtw/services.h>

#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QSet>
#include <QWebSocketProtocol>

#include <atomic>
#include <functional>

class QTcpSocket;
class QTimer;
class QWebSocket;
class QWebSocketServer;

namespace Mtw::Internal {

struct Connection;

struct HttpRequestHead;
class ServerContext;

// One fan-out batch for one worker: a message serialised once, for the worker's local members
// of a channel.
struct Delivery
{
    QString channel;
    QByteArray json;          // the encoded envelope
    quint64 excludeKey = 0;   // the sender: it never receives its own publish
    bool forceBinary = false; // the channel delivers MTW binary frames to everyone
};

// An I/O worker. Lives in its own QThread (one of server.workers): owns the sockets accepted
// for it, reads their HTTP request, upgrades them through its own non-listening
// QWebSocketServer, speaks the mtw protocol with them and delivers fan-out batches.
// The post*() functions are thread-safe; everything else runs in the worker's thread.
class Worker : public QObject
{
    Q_OBJECT

public:
    Worker(ServerContext *context, int index);
    ~Worker() override;

    int index() const { return m_index; }
    int connectionCount() const { return m_connectionCount.load(std::memory_order_relaxed); }

    void postInitialize();
    void postDescriptor(qintptr socketDescriptor);
    void postDelivery(const Delivery &delivery);
    void postShutdown();
    void postForceClose();
    void postSend(const QString &connId, const QByteArray &json);
    void postKick(const QString &connId, const QString &reason);
    // Rows for the admin API; `callback` runs in `receiver`'s thread. changedOnly: only
    // connections whose counters or queue changed since the last collect.
    void postCollect(QObject *receiver,
                     bool changedOnly,
                     std::function<void(QList<ConnectionSummary>)> callback);

Q_SIGNALS:
    void connectionOpened(const QString &connId);
    void connectionClosed(const QString &connId, const Mtw::DisconnectReason &reason);
    void drained(); // after shutdown began: the last connection has gone

private:
    // connections and HTTP (worker.cpp)
    void initialize();
    void acceptDescriptor(qintptr socketDescriptor);
    void readRequestHead(QTcpSocket *socket);
    void route(QTcpSocket *socket, const HttpRequestHead &head);
    void routeAdmin(QTcpSocket *socket, const HttpRequestHead &head);
    QList<ConnectionSummary> collect(bool changedOnly);
    void respondAndClose(QTcpSocket *socket,
                         int status,
                         QByteArrayView body,
                         QByteArrayView extraHeaders = {});
    void forgetPending(QTcpSocket *socket);
    void upgrade(QTcpSocket *socket);
    void onNewWebSocket();
    void setUpConnection(QWebSocket *socket, QTcpSocket *tcp);
    void onDisconnected(Connection *connection);
    void cleanUp(quint64 key);
    void housekeeping();
    void pingAll();
    void beginShutdown();
    void forceClose();
    void checkDrained();

    // sending
    void send(Connection &connection, const Message &message);
    void sendEncoded(Connection &connection, const QByteArray &json);
    bool hasRoomInQueue(Connection &connection);
    void closeConnection(Connection &connection,
                         QWebSocketProtocol::CloseCode code,
                         const QString &text,
                         const DisconnectReason &reason);
    void deliver(const Delivery &delivery);
    void fanOut(const Delivery &delivery, quint64 workerMask);

    // calls into modules (hooks.cpp)
    ClientInfo clientInfo(const Connection &connection) const;
    bool hasAuthenticators() const;
    QString upgradeToken(const Connection &connection) const;
    Result<void> authenticate(Connection &connection, const QString &token);
    void refuseAuthentication(Connection &connection, const Error &error, const QString &refId);
    bool runFilters(Connection &connection, Message &message);
    void runAfterFilters(const Connection &connection, const Message &message);
    bool handleModuleRequest(Connection &connection, const QString &action, const Message &message);

    // the mtw protocol (dispatch.cpp)
    void onTextMessage(Connection &connection, const QString &text);
    void onBinaryMessage(Connection &connection, const QByteArray &data);
    void dispatch(Connection &connection, Message message);
    void protocolError(Connection &connection, const QString &refId, const QString &text);
    void handleSubscribe(Connection &connection, const Message &message);
    void handleUnsubscribe(Connection &connection, const Message &message);
    void handlePublish(Connection &connection, const Message &original);
    void handleConnect(Connection &connection, const Message &message);
    void handleFiltered(Connection &connection, const Message &message);
    void handleRequest(Connection &connection, const Message &message);
    void handleAgentTask(Connection &connection, const Message &message);
    void leaveChannel(Connection &connection, const QString &channel);
    void announcePresence(const Connection &connection,
                          const QString &channel,
                          QLatin1String event,
                          quint64 workerMask,
                          bool binary);

    qint64 now() const { return m_clock.elapsed(); }

    struct PendingSocket
    {
        qint64 acceptedAt = 0;
        QHostAddress peer;
    };

    ServerContext *const m_context;
    const int m_index;
    QElapsedTimer m_clock;
    QWebSocketServer *m_webSocketServer = nullptr;
    QTimer *m_housekeeping = nullptr;
    QTimer *m_pingTimer = nullptr;
    QHash<QTcpSocket *, PendingSocket> m_pending; // reading the HTTP request head
    QHash<QByteArray, QTcpSocket *> m_upgrading;  // handed to QWebSocketServer, by peer
    QHash<quint64, Connection *> m_connections;   // owned
    QHash<QString, Connection *> m_byConnId;      // the same connections, by conn_id
    QHash<QString, QSet<Connection *>> m_members; // channel -> local subscribers
    std::atomic<int> m_connectionCount{0};
    bool m_shuttingDown = false;
    bool m_drained = false;
};

} // namespace Mtw::Internal

Q_DECLARE_METATYPE(Mtw::Internal::Delivery)
