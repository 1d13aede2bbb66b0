// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/message.h>
#include <mtw/result.h>

#include <QByteArray>
#include <QHash>
#include <QMetaType>
#include <QSet>
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
};

enum class PublishOrigin {
    ThisNode, // a module or the admin API on this node: forwarded to the broker
    Broker,   // another node's publish, brought in by the broker: delivered here only
};

// A publish that does not come from one of this node's connections (ServerHandle::publish, the
// key-value store's change events, the broker): into the channel's history, then a Delivery to
// every worker with members. `message` is sent as it is (its channel is set to `channel`). Returns
// the recipients on this node. Thread-safe while the workers run.
Result<int> publishFromOutside(ServerContext &context,
                               const QString &channel,
                               const Message &message,
                               PublishOrigin origin);

// One worker's members per channel and its side of fan-out: a publish goes once to each
// worker that has members (this one directly, others as a queued Delivery) and to the broker;
// each worker writes the same prebuilt frame to each of its members. Worker thread only.
class Fanout
{
public:
    Fanout(ServerContext &context, const WorkerState &state, Outbound &outbound);

    void join(const QString &channel, Connection *connection);
    void leave(const QString &channel, Connection *connection);

    // A publish accepted from a client of this worker: local workers, then the broker.
    void publish(const Delivery &delivery, quint64 workerMask);
    // To the workers in the mask only (presence notices stay on their node).
    void fanOut(const Delivery &delivery, quint64 workerMask);
    // To this worker's members of the channel.
    void deliver(const Delivery &delivery);

private:
    ServerContext &m_context;
    const WorkerState &m_state;
    Outbound &m_outbound;
    QHash<QString, QSet<Connection *>> m_members; // channel -> local subscribers
};

} // namespace Mtw::Internal

Q_DECLARE_METATYPE(Mtw::Internal::Delivery)
