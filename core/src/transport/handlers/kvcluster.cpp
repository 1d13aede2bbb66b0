// SPDX-License-Identifier: MIT
// The key-value actions in a cluster: the buckets live in the broker (Redis), shared by every
// node; the request was checked as on one node (kv.cpp), the broker applies it atomically, and
// each change comes back to every node as the watch channel's event (ClusterNode::kvChanged).
#include "transport/handlers/kvcluster.h"

#include "kv/kvstore.h"
#include "transport/cluster.h"
#include "transport/handlers/handlers.h"
#include "transport/outbound.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

void sendError(ProtocolContext &parts,
               Connection &connection,
               const Message &request,
               const Error &error)
{
    parts.out.send(connection, Message::error(error.code, error.message, request.id));
}

Message answer(const Message &request, const QJsonObject &data, const QJsonObject &metadata)
{
    Message reply = replyTo(request, data);
    reply.metadata = metadata;
    return reply;
}

BrokerKvWrite toBroker(const KvOperation &operation, const KvBucketSettings &settings)
{
    BrokerKvWrite write;
    write.put = operation.kind == KvOperation::Kind::Put;
    write.key = operation.key;
    write.hasExpected = operation.expectedVersion.has_value();
    write.expectedVersion = operation.expectedVersion.value_or(0);
    if (!write.put)
        return write;
    write.ttlMs = operation.ttlSeconds ? *operation.ttlSeconds * 1000 : settings.ttlMs;
    switch (operation.value.kind) {
    case Payload::Kind::Json: {
        // A scalar cannot be a document of its own: written inside "[...]" and unwrapped.
        const QByteArray array =
            QJsonDocument(QJsonArray{operation.value.json}).toJson(QJsonDocument::Compact);
        write.kind = 'J';
        write.value = array.mid(1, array.size() - 2);
        break;
    }
    case Payload::Kind::Text:
        write.kind = 'T';
        write.value = operation.value.text.toUtf8();
        break;
    case Payload::Kind::Binary:
    case Payload::Kind::None:
        write.kind = 'B';
        write.value = operation.value.binary;
        break;
    }
    return write;
}

// The checks the broker does not repeat (the sizes; keys and kinds were checked by kv.cpp).
std::optional<Error> refuseInCluster(const QString &bucket,
                                     const KvBucketSettings &settings,
                                     const KvOperation &operation)
{
    if (operation.kind == KvOperation::Kind::Put
        && kvValueSize(operation.value) > settings.maxValueSize)
        return kvValueTooLarge(bucket, kvValueSize(operation.value), settings.maxValueSize);
    return std::nullopt;
}

Error refusal(const QString &bucket,
              const QList<KvOperation> &operations,
              const KvBucketSettings &settings,
              const BrokerKvWritten &written)
{
    const KvOperation &refused = operations.at(written.refusedAt);
    switch (written.code) {
    case 404:
        return kvMissingKey(bucket, refused.key);
    case 409:
        return kvVersionConflict(refused.key,
                                 refused.expectedVersion.value_or(0),
                                 written.currentExists,
                                 written.currentVersion);
    case 507:
        return kvBucketFull(bucket, settings.maxKeys);
    default:
        return Error{500,
                     u"the shared key-value store refused the change (%1)"_s.arg(written.code)};
    }
}

} // namespace

KvEntry kvEntryFromBroker(const QString &bucket, const BrokerKvEntry &shared)
{
    KvEntry entry;
    entry.setBucket(bucket);
    entry.setKey(shared.key);
    entry.setVersion(shared.version);
    entry.setExpiresAt(shared.expiresAt);
    switch (shared.kind) {
    case 'J':
        entry.setValue(
            Payload::fromJson(QJsonDocument::fromJson('[' + shared.value + ']').array().at(0)));
        break;
    case 'T':
        entry.setValue(Payload::fromText(QString::fromUtf8(shared.value)));
        break;
    case 'B':
        entry.setValue(Payload::fromBinary(shared.value));
        break;
    default:
        break; // a removal: key and version only
    }
    return entry;
}

void kvWriteInCluster(ProtocolContext &parts,
                      Connection &connection,
                      const Message &message,
                      const QString &bucket,
                      const QList<KvOperation> &operations,
                      KvReply reply)
{
    const auto settings = parts.server.kv.settings(bucket);
    if (!settings)
        return sendError(parts, connection, message, settings.error());
    QList<BrokerKvWrite> writes;
    for (qsizetype i = 0; i < operations.size(); ++i) {
        if (auto refused = refuseInCluster(bucket, *settings, operations.at(i))) {
            if (reply == KvReply::Batch)
                refused->message = u"payload[%1]: "_s.arg(i) + refused->message;
            return sendError(parts, connection, message, *refused);
        }
        writes.append(toBroker(operations.at(i), *settings));
    }
    parts.server.broker->kvWrite(
        bucket,
        writes,
        settings->maxKeys,
        connection.connId,
        onWorker<BrokerKvWritten>(
            parts,
            connection,
            false,
            [message, bucket, operations, reply, limits = *settings](ProtocolContext &context,
                                                                     Connection *current,
                                                                     Result<BrokerKvWritten> done) {
                if (!current)
                    return;
                if (!done)
                    return sendError(context, *current, message, done.error());
                if (done->refusedAt >= 0) {
                    Error error = refusal(bucket, operations, limits, *done);
                    if (reply == KvReply::Batch)
                        error.message = u"payload[%1]: "_s.arg(done->refusedAt) + error.message;
                    return sendError(context, *current, message, error);
                }
                QList<KvEntry> entries;
                for (const BrokerKvEntry &change : std::as_const(done->changes))
                    entries.append(kvEntryFromBroker(bucket, change));
                if (entries.isEmpty())
                    return sendError(context,
                                     *current,
                                     message,
                                     Error{500, u"the shared key-value store answered nothing"_s});
                if (reply == KvReply::Put) {
                    context.out.send(*current,
                                     answer(message,
                                            kvEntryIdentity(entries.constFirst()),
                                            kvEntryMetadata(entries.constFirst())));
                    return;
                }
                if (reply == KvReply::Delete) {
                    KvEntry removed = entries.constFirst();
                    removed.setValue(Payload::none());
                    QJsonObject data = kvEntryIdentity(removed);
                    data.insert(u"deleted"_s, true);
                    context.out.send(*current, answer(message, data, kvEntryMetadata(removed)));
                    return;
                }
                QJsonArray results;
                for (qsizetype i = 0; i < entries.size(); ++i) {
                    const bool put = operations.at(i).kind == KvOperation::Kind::Put;
                    results.append(QJsonObject{{u"op"_s, put ? u"put"_s : u"delete"_s},
                                               {u"key"_s, entries.at(i).key()},
                                               {u"version"_s, qint64(entries.at(i).version())}});
                }
                const QJsonObject identity{{u"bucket"_s, bucket},
                                           {u"version"_s, qint64(entries.constLast().version())}};
                QJsonObject data = identity;
                data.insert(u"results"_s, results);
                context.out.send(*current, answer(message, data, identity));
            }));
}

void kvGetInCluster(ProtocolContext &parts,
                    Connection &connection,
                    const Message &message,
                    const QString &bucket,
                    const QString &key)
{
    parts.server.broker->kvGet(
        bucket,
        key,
        onWorker<BrokerKvEntry>(
            parts,
            connection,
            false,
            [message, bucket, key](ProtocolContext &context,
                                   Connection *current,
                                   Result<BrokerKvEntry> found) {
                if (!current)
                    return;
                if (!found)
                    return sendError(context, *current, message, found.error());
                if (found->version == 0)
                    return sendError(context, *current, message, kvMissingKey(bucket, key));
                const KvEntry entry = kvEntryFromBroker(bucket, *found);
                Message reply = Message::create(MessageType::Response, kvEntryPayload(entry));
                reply.refId = message.id;
                reply.metadata = kvEntryMetadata(entry);
                context.out.send(*current, reply);
            }));
}

void kvListInCluster(ProtocolContext &parts,
                     Connection &connection,
                     const Message &message,
                     const QString &bucket,
                     const QString &prefix,
                     const QString &after,
                     int limit)
{
    parts.server.broker->kvList(
        bucket,
        prefix,
        after,
        limit,
        onWorker<BrokerKvPage>(
            parts,
            connection,
            false,
            [message,
             bucket](ProtocolContext &context, Connection *current, Result<BrokerKvPage> page) {
                if (!current)
                    return;
                if (!page)
                    return sendError(context, *current, message, page.error());
                QJsonArray keys;
                for (const BrokerKvEntry &entry : std::as_const(page->entries)) {
                    QJsonObject item{{u"key"_s, entry.key}, {u"version"_s, qint64(entry.version)}};
                    if (entry.expiresAt != 0)
                        item.insert(u"expires_at"_s, entry.expiresAt);
                    keys.append(item);
                }
                const QJsonObject identity{{u"bucket"_s, bucket},
                                           {u"version"_s, qint64(page->revision)}};
                QJsonObject data = identity;
                data.insert(u"keys"_s, keys);
                if (!page->next.isEmpty())
                    data.insert(u"next"_s, page->next);
                context.out.send(*current, answer(message, data, identity));
            }));
}

} // namespace Mtw::Internal
