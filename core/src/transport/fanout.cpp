// SPDX-License-Identifier: MIT
#include "transport/fanout.h"

#include "transport/broker.h"
#include "transport/connection.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/worker.h"
#include "transport/workerstate.h"

#include <mtw/frame.h>

namespace Mtw::Internal {

Result<int> publishFromOutside(ServerContext &context,
                               const QString &channel,
                               const Message &message,
                               PublishOrigin origin)
{
    Message copy = message;
    copy.channel = channel;
    const QByteArray envelope = encodeMessage(copy);
    // Key 0 is no connection: every member receives it. The origin checked the sender's rights.
    const auto outcome = context.registry.publish(channel, 0, true, envelope);
    if (!outcome)
        return tl::unexpected(outcome.error());
    quint64 mask = outcome->workerMask;
    for (int i = 0; mask != 0; ++i, mask >>= 1) {
        if (mask & 1)
            context.workers.at(i)->postDelivery(Delivery{channel, envelope, 0, outcome->binary});
    }
    if (origin == PublishOrigin::ThisNode && context.broker)
        context.broker->forward(channel, envelope);
    return outcome->recipients;
}

Fanout::Fanout(ServerContext &context, const WorkerState &state, Outbound &outbound)
    : m_context(context)
    , m_state(state)
    , m_outbound(outbound)
{ }

void Fanout::join(const QString &channel, Connection *connection)
{
    m_members[channel].insert(connection);
}

void Fanout::leave(const QString &channel, Connection *connection)
{
    const auto members = m_members.find(channel);
    if (members == m_members.end())
        return;
    members->remove(connection);
    if (members->isEmpty())
        m_members.erase(members);
}

void Fanout::publish(const Delivery &delivery, quint64 workerMask)
{
    fanOut(delivery, workerMask);
    if (m_context.broker)
        m_context.broker->forward(delivery.channel, delivery.json);
}

void Fanout::fanOut(const Delivery &delivery, quint64 workerMask)
{
    for (int i = 0; workerMask != 0 && i < m_context.workerCount; ++i, workerMask >>= 1) {
        if (!(workerMask & 1))
            continue;
        if (i == m_state.index)
            deliver(delivery);
        else
            m_context.workers.at(i)->postDelivery(delivery);
    }
}

void Fanout::deliver(const Delivery &delivery)
{
    const auto it = m_members.constFind(delivery.channel);
    if (it == m_members.cend())
        return;
    // A copy of the set (implicitly shared, so free) keeps the loop safe if a slow consumer is
    // dropped while we iterate; removals happen later from the event loop.
    const QSet<Connection *> members = *it;
    // Each WebSocket frame is built once (header included) and the same bytes are queued on
    // every recipient's socket: no per-recipient encoding or allocation of our own.
    QByteArray textFrame;
    QByteArray binaryFrame;
    qint64 sent = 0;
    qint64 bytes = 0;
    for (Connection *connection : members) {
        if (connection->key == delivery.excludeKey || connection->disconnected
            || connection->closingSince >= 0) {
            continue;
        }
        const QByteArray *frame = &textFrame;
        if (connection->binaryMode || delivery.forceBinary) {
            if (binaryFrame.isNull())
                binaryFrame = webSocketFrame(true, encodeFrame(FrameType::Json, delivery.json));
            frame = &binaryFrame;
        } else if (textFrame.isNull()) {
            textFrame = webSocketFrame(false, delivery.json);
        }
        const qint64 written = m_outbound.queueFrame(*connection, *frame);
        if (written < 0)
            continue;
        bytes += written;
        ++connection->messagesOut;
        ++sent;
    }
    m_context.counters.messagesOut.fetch_add(sent, std::memory_order_relaxed);
    m_context.counters.bytesOut.fetch_add(bytes, std::memory_order_relaxed);
}

} // namespace Mtw::Internal
