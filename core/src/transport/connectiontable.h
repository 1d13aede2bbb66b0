// SPDX-License-Identifier: MIT
#pragma once

#include "transport/connection.h"

#include <mtw/disconnectreason.h>

#include <QHash>
#include <QObject>
#include <QWebSocketProtocol>

#include <atomic>

class QWebSocket;

namespace Mtw::Internal {

class ClientSocket;
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
    Connection *find(quint64 key) const { return m_connections.value(key); }

    void open(QWebSocket *socket, ClientSocket *tcp);
    // Close frames that got no answer, identities that expired.
    void housekeeping();
    void pingAll();
    void closeAll(); // shutdown: 1001 after the queued output
    void abortAll(); // shutdown_timeout reached
    // changedOnly: only connections whose counters or queue changed since the last collect.
    QList<ConnectionSummary> collect(bool changedOnly);

Q_SIGNALS:
    void opened(const QString &connId);
    void closed(const QString &connId, const Mtw::DisconnectReason &reason);

private:
    Connection *create(QWebSocket *socket, ClientSocket *tcp);
    void wire(Connection *connection);
    void onDisconnected(Connection *connection);
    void cleanUp(quint64 key);
    DisconnectReason reasonFor(const Connection &connection) const;
    void expireTokens();

    ProtocolContext &m_parts;
    Protocol &m_protocol;
    std::atomic<int> &m_count;
    QHash<quint64, Connection *> m_connections; // owned
    QHash<QString, Connection *> m_byConnId;    // the same connections, by conn_id
};

} // namespace Mtw::Internal
