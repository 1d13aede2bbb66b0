// SPDX-License-Identifier: MIT
#pragma once

#include "channels/channelregistry.h"

#include <mtw/message.h>
#include <mtw/result.h>

#include <QByteArray>
#include <QHash>
#include <QMetaType>
#include <QString>

namespace Mtw::Internal {

struct Connection;
class Outbound;
class ServerContext;
struct WorkerState;

// One fan-out batch for one worker: a message serialised once, for the worker's local members
// of a channel.
struct Delivery
{
    QString channel;
    QByteArray json;          // the encoded envelope
    quint64 excludeKey = 0;   // the sender: it never receives its own publish
    bool forceBinary = false; // the channel delivers MTW binary frames to everyone
    quint64 offset = 0;       // of a publication; 0 for notices (presence) that have none
    bool resetJoins = false;  // the cluster started the channel over: join offsets are void
};

enum class PublishOrigin {
    ThisNode,     // a module or the admin API on this node: to the whole cluster
    ThisNodeOnly, // what only this node has (its key-value buckets' events)
};

// The envelope of `message` around its position, for the cluster's broker to number
// (BrokerPublish::head, middle and tail); metadata.offset and .epoch a sender wrote are dropped.
void splitForCluster(const Message &message, BrokerPublish &publish);

// The registry's PublishSink for every publish: stamps metadata.offset and .epoch into the
// envelope and queues one Delivery per worker in the mask, under the channel's lock, so that
// each worker's queue holds a channel's publications in offset order.
class PublishRouter final : public PublishSink
{
public:
    PublishRouter(ServerContext &context, const Message &message, quint64 excludeKey);

    QByteArray encode(const StreamPosition &position) override;
    void route(const PublishOutcome &outcome) override;

private:
    ServerContext &m_context;
    Message m_message;
    quint64 m_excludeKey;
};

// A publish that does not come from one of this node's connections (ServerHandle::publish, the
// key-value store's change events): into the channel's history, then a Delivery to every worker
// with members; in a cluster (ThisNode), to the broker instead, which numbers it and delivers it
// to every node. `message` is sent as it is (its channel is set to `channel`, its offset and
// epoch stamped). Returns the recipients on this node. Thread-safe while the workers run.
Result<int> publishFromOutside(ServerContext &context,
                               const QString &channel,
                               const Message &message,
                               PublishOrigin origin);

// One worker's members per channel and its side of fan-out: a publish goes once to each
// worker that has members (through its delivery queue) and to the broker; each worker writes
// the same prebuilt frame to each of its members. Worker thread only.
class Fanout
{
public:
    Fanout(ServerContext &context, const WorkerState &state, Outbound &outbound);

    // `joinedAt`: the channel's offset when the connection joined; publications up to it are
    // not delivered to it live (it has them from its recovery or does not want them).
    void join(const QString &channel, Connection *connection, quint64 joinedAt);
    void leave(const QString &channel, Connection *connection);

    // A publish accepted from a client of this worker: stamped and recorded by the registry,
    // queued for every worker with recipients (this one delivers at once). On a single node, or
    // while the cluster's broker is unreachable (handlers/publish.cpp).
    Result<PublishOutcome> publish(const Message &message, const Connection &sender);
    // To the workers in the mask only (presence notices without a broker).
    void fanOut(const Delivery &delivery, quint64 workerMask);
    // To this worker's members of the channel.
    void deliver(const Delivery &delivery);

private:
    ServerContext &m_context;
    const WorkerState &m_state;
    Outbound &m_outbound;
    // channel -> local subscribers, each with the offset it joined at
    QHash<QString, QHash<Connection *, quint64>> m_members;
};

} // namespace Mtw::Internal

Q_DECLARE_METATYPE(Mtw::Internal::Delivery)
