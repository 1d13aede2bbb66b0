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
#include <memory>

class QTcpSocket;
class QTimer;
class QWebSocket;
class QWebSocketServer;

namespace Mtw::Internal {

struct Connection;

class ClientSocket;
struct HttpRequestHead;
class ServerContext;
struct Services;

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
    // Shutdown, first step: refuse publishes from now on (503), then emit publishingStopped().
    // Deliveries this worker queued on others before that signal are ahead of their shutdown.
    void postStopPublishing();
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
    void publishingStopped();
    void drained(); // after shutdown began: the last connection has gone

private:
    // connections and HTTP (worker.cpp)
    void initialize();
    void acceptDescriptor(qintptr socketDescriptor);
    void readRequestHead(ClientSocket *socket);
    void route(ClientSocket *socket, const HttpRequestHead &head);
    void routeAdmin(ClientSocket *socket, const HttpRequestHead &head);
    bool refuseBadUpgrade(ClientSocket *socket, const HttpRequestHead &head);
    void answerReadiness(ClientSocket *socket);
    QList<ConnectionSummary> collect(bool changedOnly);
    void respondAndClose(ClientSocket *socket,
                         int status,
                         QByteArrayView body,
                         QByteArrayView extraHeaders = {});
    void forgetPending(ClientSocket *socket);
    void upgrade(ClientSocket *socket);
    void onNewWebSocket();
    void setUpConnection(QWebSocket *socket, ClientSocket *tcp);
    void onDisconnected(Connection *connection);
    void cleanUp(quint64 key);
    void housekeeping();
    void expireHandshakes(qint64 t);
    void expireTokens();
    void pingAll();
    void stopPublishing();
    void beginShutdown();
    void forceClose();
    void checkDrained();

    // sending
    void send(Connection &connection, const Message &message);
    void sendEncoded(Connection &connection, const QByteArray &json);
    bool writeFrame(Connection &connection, const QByteArray &frame);
    bool replyFits(const QByteArray &json) const;
    Message replyTooLarge(qsizetype size, const QString &refId) const;
    qint64 queueFrame(Connection &connection, const QByteArray &frame); // -1: not queued
    void dropSlowConsumer(Connection &connection, qint64 queued, qint64 refused);
    void closeConnection(Connection &connection,
                         QWebSocketProtocol::CloseCode code,
                         const QString &text,
                         const DisconnectReason &reason);
    void deliver(const Delivery &delivery);
    void fanOut(const Delivery &delivery, quint64 workerMask);

    // calls into modules (hooks.cpp)
    const Services *services();
    ClientInfo clientInfo(const Connection &connection) const;
    bool hasAuthenticators();
    QString upgradeToken(const Connection &connection) const;
    Result<void> authenticate(Connection &connection, const QString &token);
    void refuseAuthentication(Connection &connection, const Error &error, const QString &refId);
    bool runFilters(Connection &connection, Message &message);
    void runAfterFilters(const Connection &connection, const Message &message);
    bool handleModuleRequest(Connection &connection, const QString &action, const Message &message);
    void handleRawFrame(Connection &connection, const QByteArray &payload);

    // the mtw protocol (dispatch.cpp)
    void onTextMessage(Connection &connection, const QString &text);
    void onBinaryMessage(Connection &connection, const QByteArray &data);
    bool admitMessage(Connection &connection, const QString &refId);
    void dispatch(Connection &connection, Message message);
    void protocolError(Connection &connection, const QString &refId, const QString &text);
    void handleSubscribe(Connection &connection, const Message &message);
    void handleUnsubscribe(Connection &connection, const Message &message);
    void handlePublish(Connection &connection, const Message &original);
    void handleConnect(Connection &connection, const Message &message);
    void handleFiltered(Connection &connection, const Message &message);
    void handleRequest(Connection &connection, const Message &message);
    void handleAgentTask(Connection &connection, const Message &message);
    void listChannels(Connection &connection, const Message &message);
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
        bool counted = true; // holds a pendingHandshakes place (trusted proxies do not)
    };

    ServerContext *const m_context;
    const int m_index;
    QElapsedTimer m_clock;
    QWebSocketServer *m_webSocketServer = nullptr;
    QTimer *m_housekeeping = nullptr;
    QTimer *m_pingTimer = nullptr;
    QHash<ClientSocket *, PendingSocket> m_pending; // reading the HTTP request head
    // Handed to QWebSocketServer, each holding a max_connections slot, with when it was handed.
    QHash<ClientSocket *, qint64> m_upgrading;
    ClientSocket *m_handshakeWriter = nullptr; // the socket whose 101 response was just written
    std::shared_ptr<const Services> m_services;
    quint64 m_servicesGeneration = 0;
    QHash<quint64, Connection *> m_connections;   // owned
    QHash<QString, Connection *> m_byConnId;      // the same connections, by conn_id
    QHash<QString, QSet<Connection *>> m_members; // channel -> local subscribers
    std::atomic<int> m_connectionCount{0};
    bool m_refusingPublishes = false;
    bool m_shuttingDown = false;
    bool m_drained = false;
};

} // namespace Mtw::Internal

Q_DECLARE_METATYPE(Mtw::Internal::Delivery)
