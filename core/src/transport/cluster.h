// SPDX-License-Identifier: MIT
#pragma once

#include "transport/protocol.h"
#include "transport/worker.h"

#include <mtw/broker.h>

#include <QMutex>
#include <QString>

#include <atomic>

namespace Mtw::Internal {

class ServerContext;

// This node, as the cluster's broker sees it (IBrokerNode): publications and notices from the
// broker go through the registry to the workers' delivery queues; commands from other nodes
// reach connections here. Thread-safe.
class ClusterNode final : public IBrokerNode
{
public:
    ClusterNode(ServerContext &context, const QString &address);

    void deliver(const QString &channel,
                 const QByteArray &envelope,
                 const BrokerPosition &position,
                 quint64 senderKey) override;
    void control(const QByteArray &command) override;
    void kvChanged(const QString &bucket,
                   const QString &op,
                   const BrokerKvEntry &entry,
                   const QString &writer) override;
    void brokerStateChanged(bool connected, const QString &detail) override;
    int connectionCount() const override;
    QString address() const override { return m_address; }

    bool isConnected() const { return m_connected.load(std::memory_order_acquire); }
    QString detail() const;

private:
    ServerContext &m_context;
    const QString m_address;
    std::atomic<bool> m_connected{false};
    mutable QMutex m_mutex;
    QString m_detail; // guarded by m_mutex
};

// A command for the node that holds `connId` (ServerHandle::sendTo and disconnect in a cluster).
QByteArray sendCommand(const QString &connId, const QByteArray &json);
QByteArray disconnectCommand(const QString &connId, const QString &reason);

// Closes the connection `connId` (policy violation, DisconnectReason kicked) on the worker that
// holds it, or asks the other nodes through the broker. False when no one can have it. For
// ServerHandle::disconnect and the server API.
bool disconnectAnywhere(ServerContext &context, const QString &connId, const QString &reason);
// The admin API's and the server API's view of this node's cluster: null on a single node,
// else {node_id, connected, detail}.
QJsonValue clusterInfoJson(const ServerContext &context);
// The broker's list of nodes as JSON {cluster: true, nodes: [...]}; `self` is this node's id.
Result<QJsonValue> clusterNodesJson(const Result<QList<BrokerNodeInfo>> &nodes,
                                    const QString &self);

// The broker of this node's cluster, when it is connected; null otherwise (single node, or the
// broker is unreachable: the worker then serves from what this node has).
IBroker *connectedBroker(const ServerContext &context);
// The same for one channel. The server's own channels ('$kv.<bucket>': a bucket's changes) are
// each node's: every node turns the shared buckets' changes into its own watchers' events.
IBroker *clusterBroker(const ServerContext &context, const QString &channel);
IBroker *connectedBroker(const ServerContext &context, const QString &channel);

// A broker callback that brings `then` back to the connection's worker thread. `hold`: the
// connection's later messages wait until then has run, so that they cannot overtake this one.
// When the connection is gone by then, `then` gets a null connection.
template<typename T>
BrokerCallback<T> onWorker(ProtocolContext &parts,
                           Connection &connection,
                           bool hold,
                           std::function<void(ProtocolContext &, Connection *, Result<T>)> then);

} // namespace Mtw::Internal

#include "transport/cluster_impl.h"
