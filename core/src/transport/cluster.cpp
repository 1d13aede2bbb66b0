// SPDX-License-Identifier: MIT
// This node's side of the cluster broker: what the broker brings in goes through the registry
// to the workers, in the order the broker delivers it.
#include "transport/cluster.h"

#include "channels/channelsettings.h"
#include "transport/handlers/kvcluster.h"
#include "transport/logging.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/worker.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

ClusterNode::ClusterNode(ServerContext &context, const QString &address)
    : m_context(context)
    , m_address(address)
{ }

void ClusterNode::deliver(const QString &channel,
                          const QByteArray &envelope,
                          const BrokerPosition &position,
                          quint64 senderKey)
{
    const StreamPosition at{position.offset, position.epoch};
    m_context.registry.acceptFromCluster(channel, at, envelope, [&](const ClusterRoute &route) {
        const Delivery delivery{channel,
                                envelope,
                                senderKey,
                                route.binary,
                                position.offset,
                                route.resetJoins};
        quint64 mask = route.workerMask;
        for (int i = 0; mask != 0 && i < m_context.workerCount; ++i, mask >>= 1) {
            if (mask & 1)
                m_context.workers.at(i)->enqueueDelivery(delivery);
        }
    });
}

void ClusterNode::control(const QByteArray &command)
{
    const QJsonObject object = QJsonDocument::fromJson(command).object();
    const QString op = object.value(u"op"_s).toString();
    const QString connId = object.value(u"conn_id"_s).toString();
    const int worker = m_context.workerOf(connId);
    if (worker < 0)
        return; // on another node, or gone
    if (op == "send"_L1) {
        const QByteArray json = object.value(u"message"_s).toString().toUtf8();
        // Counted by what it is, as on the node that made it.
        const auto message = decodeMessage(json);
        if (!message) {
            qCWarning(lcServer).noquote() << "cluster: ignored a send of an invalid message";
            return;
        }
        m_context.workers.at(worker)->postSend(connId, json, message->type, errorCodeOf(*message));
    } else if (op == "disconnect"_L1) {
        m_context.workers.at(worker)->postKick(connId, object.value(u"reason"_s).toString());
    } else {
        qCWarning(lcServer).noquote() << "cluster: ignored an unknown command" << op;
    }
}

// A shared bucket's change, as this node's watchers of `$kv.<bucket>` get it (a watch channel
// is each node's own; nothing to deliver when nobody here watches).
void ClusterNode::kvChanged(const QString &bucket,
                            const QString &op,
                            const BrokerKvEntry &entry,
                            const QString &writer)
{
    const QByteArray name = op.toLatin1();
    const Message event =
        kvChangeEvent(QLatin1StringView(name), kvEntryFromBroker(bucket, entry), writer);
    (void)
        publishFromOutside(m_context, KvChannelPrefix + bucket, event, PublishOrigin::ThisNodeOnly);
}

void ClusterNode::brokerStateChanged(bool connected, const QString &detail)
{
    {
        QMutexLocker locker(&m_mutex);
        m_detail = detail;
    }
    m_connected.store(connected, std::memory_order_release);
    if (connected)
        qCInfo(lcServer).noquote() << "cluster: joined:" << detail;
    else
        qCWarning(lcServer).noquote() << "cluster: broker unreachable:" << detail
                                      << "- serving this node's clients alone until it is back";
}

int ClusterNode::connectionCount() const
{
    return m_context.connections.load(std::memory_order_relaxed);
}

QString ClusterNode::detail() const
{
    QMutexLocker locker(&m_mutex);
    return m_detail;
}

QByteArray sendCommand(const QString &connId, const QByteArray &json)
{
    return QJsonDocument(QJsonObject{{u"op"_s, u"send"_s},
                                     {u"conn_id"_s, connId},
                                     {u"message"_s, QString::fromUtf8(json)}})
        .toJson(QJsonDocument::Compact);
}

QByteArray disconnectCommand(const QString &connId, const QString &reason)
{
    return QJsonDocument(QJsonObject{{u"op"_s, u"disconnect"_s},
                                     {u"conn_id"_s, connId},
                                     {u"reason"_s, reason}})
        .toJson(QJsonDocument::Compact);
}

bool disconnectAnywhere(ServerContext &context, const QString &connId, const QString &reason)
{
    const int worker = context.workerOf(connId);
    if (worker >= 0) {
        context.workers.at(worker)->postKick(connId, reason);
        return true;
    }
    if (IBroker *broker = connectedBroker(context)) {
        broker->control(disconnectCommand(connId, reason));
        return true;
    }
    return false;
}

QJsonValue clusterInfoJson(const ServerContext &context)
{
    if (!context.cluster)
        return QJsonValue(QJsonValue::Null);
    return QJsonObject{{u"node_id"_s, context.nodeId},
                       {u"connected"_s, context.cluster->isConnected()},
                       {u"detail"_s, context.cluster->detail()}};
}

Result<QJsonValue> clusterNodesJson(const Result<QList<BrokerNodeInfo>> &nodes, const QString &self)
{
    if (!nodes)
        return tl::unexpected(nodes.error());
    QJsonArray list;
    for (const BrokerNodeInfo &node : *nodes) {
        list.append(QJsonObject{{u"id"_s, node.id},
                                {u"name"_s, node.name},
                                {u"address"_s, node.address},
                                {u"version"_s, node.version},
                                {u"connections"_s, node.connections},
                                {u"started_at"_s, node.startedAt},
                                {u"last_seen"_s, node.lastSeen},
                                {u"self"_s, node.id == self}});
    }
    return QJsonValue(QJsonObject{{u"cluster"_s, true}, {u"nodes"_s, list}});
}

IBroker *connectedBroker(const ServerContext &context)
{
    return context.broker && context.broker->isConnected() ? context.broker : nullptr;
}

IBroker *clusterBroker(const ServerContext &context, const QString &channel)
{
    return channel.startsWith(u'$') ? nullptr : context.broker;
}

IBroker *connectedBroker(const ServerContext &context, const QString &channel)
{
    IBroker *broker = clusterBroker(context, channel);
    return broker && broker->isConnected() ? broker : nullptr;
}

} // namespace Mtw::Internal
