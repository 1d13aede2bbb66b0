// SPDX-License-Identifier: MIT
#include "transport/fanout.h"

#include "protocol/messagecodec_p.h"
#include "transport/cluster.h"
#include "transport/connection.h"
#include "transport/logging.h"
#include "transport/outbound.h"
#include "transport/prefetch.h"
#include "transport/servercontext.h"
#include "transport/ssestream.h"
#include "transport/worker.h"
#include "transport/workerstate.h"

#include <mtw/frame.h>

#include <QScopeGuard>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

PublishRouter::PublishRouter(ServerContext &context, const Message &message, quint64 excludeKey)
    : m_context(context)
    , m_message(message)
    , m_excludeKey(excludeKey)
{
    // The server says where a publication is; whatever a sender wrote there goes.
    m_message.metadata.remove(u"offset"_s);
    m_message.metadata.remove(u"epoch"_s);
}

QByteArray PublishRouter::encode(const StreamPosition &position)
{
    // Written into the encoding, not inserted into the QJsonObject: no copy of the metadata.
    QByteArray members;
    members.reserve(40 + position.epoch.size());
    members.append(R"("epoch":")");
    members.append(position.epoch.toLatin1()); // Crockford base32: nothing to escape
    members.append(R"(","offset":)");
    members.append(QByteArray::number(position.offset));
    return encodeMessage(m_message, members);
}

void PublishRouter::route(const PublishOutcome &outcome)
{
    const Delivery delivery{m_message.channel,
                            outcome.envelope,
                            m_excludeKey,
                            outcome.binary,
                            outcome.position.offset};
    quint64 mask = outcome.workerMask;
    for (int i = 0; mask != 0 && i < m_context.workerCount; ++i, mask >>= 1) {
        if (mask & 1)
            m_context.workers.at(i)->enqueueDelivery(delivery);
    }
}

void splitForCluster(const Message &message, BrokerPublish &publish)
{
    Message copy = message;
    copy.metadata.remove(u"offset"_s);
    copy.metadata.remove(u"epoch"_s);
    // Raw control characters never occur in an encoding (JSON escapes them in strings), so
    // they mark where the position goes.
    const QByteArray encoded =
        encodeMessage(copy, QByteArrayLiteral("\"epoch\":\"\x01\",\"offset\":\x02"));
    const qsizetype epochAt = encoded.indexOf('\x01');
    const qsizetype offsetAt = encoded.indexOf('\x02', epochAt);
    publish.head = encoded.left(epochAt);
    publish.middle = encoded.mid(epochAt + 1, offsetAt - epochAt - 1);
    publish.tail = encoded.mid(offsetAt + 1);
}

Result<int> publishFromOutside(ServerContext &context,
                               const QString &channel,
                               const Message &message,
                               PublishOrigin origin)
{
    Message copy = message;
    copy.channel = channel;
    if (origin == PublishOrigin::ThisNode) {
        if (IBroker *broker = connectedBroker(context, channel)) {
            // The origin checked the sender's rights; the cluster says whether it exists.
            const auto check = context.registry.checkChannel(channel, 0, true);
            if (!check)
                return tl::unexpected(check.error());
            BrokerPublish publish;
            publish.channel = channel;
            splitForCluster(copy, publish);
            publish.newEpoch = newStreamEpoch();
            publish.mustExist = !check->configured;
            publish.historySize = check->settings.history;
            publish.historyTtlMs = qint64(check->settings.historyTtl) * 1000;
            broker->publish(publish, [channel](Result<BrokerPublished> published) {
                if (!published)
                    qCWarning(lcServer).noquote() << "cluster: a server publish to" << channel
                                                  << "failed:" << published.error().message;
            });
            return check->localRecipients;
        }
    }
    // Key 0 is no connection: every member receives it. The origin checked the sender's rights.
    PublishRouter router(context, copy, 0);
    const auto outcome = context.registry.publish(channel, 0, true, router);
    if (!outcome)
        return tl::unexpected(outcome.error());
    return outcome->recipients;
}

Fanout::Fanout(ServerContext &context, const WorkerState &state, Outbound &outbound)
    : m_context(context)
    , m_state(state)
    , m_outbound(outbound)
{ }

void Fanout::join(const QString &channel, Connection *connection, quint64 joinedAt)
{
    m_members[channel].insert(connection, joinedAt);
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

Result<PublishOutcome> Fanout::publish(const Message &message, const Connection &sender)
{
    const auto started = std::chrono::steady_clock::now();
    const auto timed = qScopeGuard([this, started] {
        m_state.metrics.broadcastDuration.observe(std::chrono::steady_clock::now() - started);
    });
    PublishRouter router(m_context, message, senderKey(sender));
    auto outcome =
        m_context.registry.publish(message.channel, sender.key, sender.authenticated, router);
    if (!outcome)
        return outcome;
    // This worker's share now, with whatever other workers queued for it before (lower offsets).
    if (outcome->workerMask & (quint64(1) << m_state.index))
        m_context.workers.at(m_state.index)->deliverQueued();
    return outcome;
}

void Fanout::fanOut(const Delivery &delivery, quint64 workerMask)
{
    for (int i = 0; workerMask != 0 && i < m_context.workerCount; ++i, workerMask >>= 1) {
        if (!(workerMask & 1))
            continue;
        if (i == m_state.index)
            deliver(delivery);
        else
            m_context.workers.at(i)->enqueueDelivery(delivery);
    }
}

void Fanout::deliver(const Delivery &delivery)
{
    if (Q_UNLIKELY(delivery.resetJoins)) {
        const auto members = m_members.find(delivery.channel);
        if (members != m_members.end()) {
            for (quint64 &joinedAt : *members)
                joinedAt = 0;
        }
    }
    const auto it = m_members.constFind(delivery.channel);
    if (it == m_members.cend())
        return;
    // A copy of the set (implicitly shared, so free) keeps the loop safe if a slow consumer is
    // dropped while we iterate; removals happen later from the event loop.
    const QHash<Connection *, quint64> members = *it;
    // Each WebSocket frame is built once (header included) and the same bytes are queued on
    // every recipient's socket: no per-recipient encoding or allocation of our own.
    QByteArray textFrame;
    QByteArray binaryFrame;
    SseEventCache sseEvent; // event streams share one event per id in the same way
    qint64 sent = 0;
    qint64 bytes = 0;
    // The connections (and then their sockets) a few places ahead are fetched while this one
    // is served: with thousands of members each is a cache miss, which then overlap.
    constexpr int Ahead = 4;
    const auto end = members.cend();
    const auto skip = [&end](auto from, int n) {
        for (; n > 0 && from != end; --n)
            ++from;
        return from;
    };
    auto near = skip(members.cbegin(), Ahead);      // its socket is fetched
    auto ahead = skip(members.cbegin(), 2 * Ahead); // its connection is fetched
    for (auto first = members.cbegin(); first != ahead; ++first)
        prefetch(first.key());
    for (auto member = members.cbegin(); member != end; ++member) {
        if (ahead != end)
            prefetch((ahead++).key());
        if (near != end)
            prefetch((near++).key()->tcp);
        Connection *connection = member.key();
        if (connection->key == delivery.excludeKey || connection->disconnected
            || connection->closingSince >= 0
            || (delivery.offset != 0 && delivery.offset <= *member)) {
            continue;
        }
        if (Q_UNLIKELY(connection->sse)) { // its own framing, and an id of its own
            const qint64 written = connection->sse->deliver(*connection, delivery, sseEvent);
            if (written >= 0) {
                bytes += written;
                ++connection->messagesOut;
                ++sent;
            }
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
    m_state.metrics.framesOut.add(quint64(sent));
    m_state.metrics.messagesOut[size_t(MessageType::Publish)].add(quint64(sent));
    m_state.metrics.bytesOut.add(quint64(bytes));
}

} // namespace Mtw::Internal
