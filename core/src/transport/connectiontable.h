// SPDX-License-Identifier: MIT
#pragma once

#include "transport/connection.h"

#include <mtw/disconnectreason.h>

#include <QHash>
#include <QObject>

#include <atomic>

namespace Mtw::Internal {

class ClientSocket;
struct HttpRequestHead;
class SseStream;
class Protocol;
struct ProtocolContext;

// The upgraded connections of one worker, from the upgrade to the last clean-up: set-up and
// the greeting, wiring to the protocol, keep-alive pings, the close grace, token expiry,
// clean-up on every path (channels left, slot released) and the admin view's rows. Worker
// thread only; `count` is readable from any thread.
class ConnectionTable : public QObject
{
    Q_OBJECT

public:
    ConnectionTable(ProtocolContext &parts,
                    Protocol &protocol,
                    std::atomic<int> &count,
                    QObject *parent);
    ~ConnectionTable() override;

    bool isEmpty() const { return m_connections.isEmpty(); }
    Connection *find(const QString &connId) const { return m_byConnId.value(connId); }
    Connection *find(quint64 key) const
    {
        if (Connection *connection = m_connections.value(key))
            return connection;
        return m_detached.value(key);
    }
    // A connection without a socket (a server API command): found by key, so that answers from
    // the broker reach it, and untouched by everything else here. Not owned.
    void addDetached(Connection *connection) { m_detached.insert(connection->key, connection); }
    void removeDetached(quint64 key) { m_detached.remove(key); }

    // A socket the Upgrader has just upgraded (its 101 queued): greeted, then read.
    void open(ClientSocket *tcp, const HttpRequestHead &head, const QByteArray &rawHead);
    // An SSE stream whose request was accepted (SseEndpoint): a connection like an upgraded one,
    // greeted (its token checked) before its subscribes run. Takes the stream.
    Connection *openSse(SseStream *stream);
    // The open SSE streams' keep-alive comments (transport.sse.keepalive_interval).
    void keepAliveStreams();
    // Close frames that got no answer, identities that expired.
    void housekeeping();
    void pingAll();
    // After a reload (WorkerState::config() is new): every connection's incoming message size
    // and outbound queue limit; the anonymous members of `nowAuth` leave those channels.
    void reconfigure(const QStringList &nowAuth);
    void closeAll(); // shutdown: 1001 after the queued output
    void abortAll(); // shutdown_timeout reached
    // changedOnly: only connections whose counters or queue changed since the last collect.
    QList<ConnectionSummary> collect(bool changedOnly);

Q_SIGNALS:
    void opened(const QString &connId);
    void closed(const QString &connId, const Mtw::DisconnectReason &reason);

private:
    Connection *
    create(ClientSocket *tcp, const QByteArray &forwardedFor, const QByteArray &userAgent);
    void wire(Connection *connection);
    void readFrames(Connection *connection);
    void failWebSocket(Connection &connection, CloseCode code, const QByteArray &problem);
    void wireSse(Connection *connection);
    void onDisconnected(Connection *connection);
    void cleanUp(quint64 key);
    DisconnectReason reasonFor(const Connection &connection) const;
    void expireTokens();

    ProtocolContext &m_parts;
    Protocol &m_protocol;
    std::atomic<int> &m_count;
    QHash<quint64, Connection *> m_connections; // owned
    QHash<QString, Connection *> m_byConnId;    // the same connections, by conn_id
    QHash<quint64, Connection *> m_detached;    // server API commands in progress
};

} // namespace Mtw::Internal
