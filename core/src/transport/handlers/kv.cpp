// SPDX-License-Identifier: MIT
// The key-value request actions kv.get, kv.put, kv.delete, kv.list and kv.batch (docs/kv.md):
// the request's fields are checked here, naming the field; the KvStore decides the rest.
#include "kv/kvstore.h"
#include "transport/connection.h"
#include "transport/handlers/handlers.h"
#include "transport/handlers/kvcluster.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <QJsonArray>

#include <cmath>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

constexpr double MaxVersion = 9007199254740992.0; // 2^53: the integers JSON numbers hold exactly
constexpr double MaxTtlSeconds = 365.0 * 86400;   // as [[kv]] ttl

void sendError(ProtocolContext &parts,
               Connection &connection,
               const Message &request,
               const Error &error)
{
    parts.out.send(connection, Message::error(error.code, error.message, request.id));
}

Result<QString> requiredString(const QJsonObject &object, const QString &field, const QString &path)
{
    const QJsonValue value = object.value(field);
    if (!value.isString() || value.toString().isEmpty())
        return fail(400, path + u": expected a non-empty string"_s);
    return value.toString();
}

Result<QString> optionalString(const QJsonObject &object, const QString &field, const QString &path)
{
    const QJsonValue value = object.value(field);
    if (value.isUndefined())
        return QString();
    if (!value.isString())
        return fail(400, path + u": expected a string"_s);
    return value.toString();
}

// A non-negative integer up to `max`; nullopt when absent.
Result<std::optional<qint64>>
optionalCount(const QJsonObject &object, const QString &field, const QString &path, double max)
{
    const QJsonValue value = object.value(field);
    if (value.isUndefined())
        return std::optional<qint64>();
    const double number = value.toDouble(-1);
    if (!value.isDouble() || number < 0 || number != std::floor(number) || number > max)
        return fail(400, u"%1: expected an integer from 0 to %2"_s.arg(path).arg(qint64(max)));
    return std::optional<qint64>(qint64(number));
}

Result<QString> keyOf(const QJsonObject &object, const QString &path)
{
    const QJsonValue value = object.value(u"key"_s);
    if (!value.isString())
        return fail(400, path + u": expected a non-empty string"_s);
    if (const QString problem = kvKeyProblem(value.toString()); !problem.isEmpty())
        return fail(400, path + u": "_s + problem);
    return value.toString();
}

// The bucket the request names, when this connection may use it.
Result<QString>
bucketFor(ProtocolContext &parts, const Connection &connection, const Message &message)
{
    const auto bucket = requiredString(message.metadata, u"bucket"_s, u"metadata.bucket"_s);
    if (!bucket)
        return bucket;
    const auto settings = parts.server.kv.settings(*bucket);
    if (!settings)
        return tl::unexpected(settings.error());
    if (settings->auth && !connection.authenticated)
        return fail(401, u"bucket '%1' requires authentication"_s.arg(*bucket));
    return bucket;
}

// Writes wait for nothing, but what is acknowledged must reach the watchers: none during shutdown.
std::optional<Error> refuseWrite(const ProtocolContext &parts)
{
    if (parts.state.refusingPublishes)
        return Error{503, u"server is shutting down"_s};
    return std::nullopt;
}

Message answer(const Message &request, const QJsonObject &data, const QJsonObject &metadata)
{
    Message reply = replyTo(request, data);
    reply.metadata = metadata;
    return reply;
}

Result<KvOperation> putOperation(const Message &message)
{
    KvOperation operation;
    const auto key = keyOf(message.metadata, u"metadata.key"_s);
    if (!key)
        return tl::unexpected(key.error());
    const auto version =
        optionalCount(message.metadata, u"version"_s, u"metadata.version"_s, MaxVersion);
    if (!version)
        return tl::unexpected(version.error());
    const auto ttl = optionalCount(message.metadata, u"ttl"_s, u"metadata.ttl"_s, MaxTtlSeconds);
    if (!ttl)
        return tl::unexpected(ttl.error());
    if (message.payload.kind == Payload::Kind::None)
        return fail(400, u"payload: expected a Json, Text or Binary value"_s);
    operation.key = *key;
    operation.value = message.payload;
    if (*version)
        operation.expectedVersion = quint64(**version);
    operation.ttlSeconds = *ttl;
    return operation;
}

// payload[index] of a kv.batch: {"op":"put","key","value","version"?,"ttl"?} or
// {"op":"delete","key","version"?}.
Result<KvOperation> batchOperation(const QJsonValue &value, qsizetype index)
{
    const QString path = u"payload[%1]"_s.arg(index);
    if (!value.isObject())
        return fail(400, path + u": expected an object"_s);
    const QJsonObject object = value.toObject();
    const QString op = object.value(u"op"_s).toString();
    if (op != u"put"_s && op != u"delete"_s)
        return fail(400, path + u".op: expected 'put' or 'delete'"_s);
    const auto key = keyOf(object, path + u".key"_s);
    if (!key)
        return tl::unexpected(key.error());
    const auto version = optionalCount(object, u"version"_s, path + u".version"_s, MaxVersion);
    if (!version)
        return tl::unexpected(version.error());
    KvOperation operation{KvOperation::Kind::Delete, *key, {}, {}, {}};
    if (*version)
        operation.expectedVersion = quint64(**version);
    if (op == u"delete"_s)
        return operation;
    const auto ttl = optionalCount(object, u"ttl"_s, path + u".ttl"_s, MaxTtlSeconds);
    if (!ttl)
        return tl::unexpected(ttl.error());
    if (!object.contains(u"value"_s))
        return fail(400, path + u".value: expected a JSON value"_s);
    operation.kind = KvOperation::Kind::Put;
    operation.value = Payload::fromJson(object.value(u"value"_s));
    operation.ttlSeconds = *ttl;
    return operation;
}

Result<QList<KvOperation>> batchOperations(const Message &message)
{
    const QJsonArray array = message.payload.json.toArray();
    if (message.payload.kind != Payload::Kind::Json || !message.payload.json.isArray()
        || array.isEmpty() || array.size() > KvBatchMax)
        return fail(400, u"payload: expected a Json array of 1 to %1 operations"_s.arg(KvBatchMax));
    QList<KvOperation> operations;
    for (qsizetype i = 0; i < array.size(); ++i) {
        auto operation = batchOperation(array.at(i), i);
        if (!operation)
            return tl::unexpected(operation.error());
        operations.append(std::move(*operation));
    }
    return operations;
}

} // namespace

void kvBatchAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const auto bucket = bucketFor(parts, connection, message);
    if (!bucket)
        return sendError(parts, connection, message, bucket.error());
    const auto operations = batchOperations(message);
    if (!operations)
        return sendError(parts, connection, message, operations.error());
    if (const auto refusal = refuseWrite(parts))
        return sendError(parts, connection, message, *refusal);
    if (parts.server.broker) // the buckets are the cluster's
        return kvWriteInCluster(parts, connection, message, *bucket, *operations, KvReply::Batch);
    const auto changes = parts.server.kv.batch(*bucket, *operations, connection.connId);
    if (!changes)
        return sendError(parts, connection, message, changes.error());
    QJsonArray results;
    for (const KvChange &change : *changes) {
        const bool put = change.kind == KvOperation::Kind::Put;
        results.append(QJsonObject{{u"op"_s, put ? u"put"_s : u"delete"_s},
                                   {u"key"_s, change.entry.key()},
                                   {u"version"_s, qint64(change.entry.version())}});
    }
    const QJsonObject identity{{u"bucket"_s, *bucket},
                               {u"version"_s, qint64(changes->constLast().entry.version())}};
    QJsonObject data = identity;
    data.insert(u"results"_s, results);
    parts.out.send(connection, answer(message, data, identity));
}

void kvGetAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const auto bucket = bucketFor(parts, connection, message);
    const auto key = bucket ? keyOf(message.metadata, u"metadata.key"_s) : bucket;
    if (!key)
        return sendError(parts, connection, message, key.error());
    if (parts.server.broker)
        return kvGetInCluster(parts, connection, message, *bucket, *key);
    const auto entry = parts.server.kv.get(*bucket, *key);
    if (!entry)
        return sendError(parts, connection, message, entry.error());
    // A Binary value is the payload itself, so that it travels as bytes; the fields go along in
    // metadata, as they do for every value.
    Message reply = Message::create(MessageType::Response, kvEntryPayload(*entry));
    reply.refId = message.id;
    reply.metadata = kvEntryMetadata(*entry);
    parts.out.send(connection, reply);
}

void kvPutAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const auto bucket = bucketFor(parts, connection, message);
    if (!bucket)
        return sendError(parts, connection, message, bucket.error());
    const auto operation = putOperation(message);
    if (!operation)
        return sendError(parts, connection, message, operation.error());
    if (const auto refusal = refuseWrite(parts))
        return sendError(parts, connection, message, *refusal);
    if (parts.server.broker)
        return kvWriteInCluster(parts, connection, message, *bucket, {*operation}, KvReply::Put);
    const auto change = parts.server.kv.apply(*bucket, *operation, connection.connId);
    if (!change)
        return sendError(parts, connection, message, change.error());
    parts.out.send(connection,
                   answer(message, kvEntryIdentity(change->entry), kvEntryMetadata(change->entry)));
}

void kvDeleteAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const auto bucket = bucketFor(parts, connection, message);
    const auto key = bucket ? keyOf(message.metadata, u"metadata.key"_s) : bucket;
    if (!key)
        return sendError(parts, connection, message, key.error());
    const auto version =
        optionalCount(message.metadata, u"version"_s, u"metadata.version"_s, MaxVersion);
    if (!version)
        return sendError(parts, connection, message, version.error());
    if (const auto refusal = refuseWrite(parts))
        return sendError(parts, connection, message, *refusal);
    KvOperation operation{KvOperation::Kind::Delete, *key, {}, {}, {}};
    if (*version)
        operation.expectedVersion = quint64(**version);
    if (parts.server.broker)
        return kvWriteInCluster(parts, connection, message, *bucket, {operation}, KvReply::Delete);
    const auto change = parts.server.kv.apply(*bucket, operation, connection.connId);
    if (!change)
        return sendError(parts, connection, message, change.error());
    QJsonObject data = kvEntryIdentity(change->entry);
    data.insert(u"deleted"_s, true);
    parts.out.send(connection, answer(message, data, kvEntryMetadata(change->entry)));
}

void kvListAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const auto bucket = bucketFor(parts, connection, message);
    const auto prefix =
        bucket ? optionalString(message.metadata, u"prefix"_s, u"metadata.prefix"_s) : bucket;
    const auto after =
        prefix ? optionalString(message.metadata, u"after"_s, u"metadata.after"_s) : prefix;
    if (!after)
        return sendError(parts, connection, message, after.error());
    const std::optional<int> limit = metadataCount(message, u"limit"_s);
    if (limit == -1 || limit == 0)
        return sendError(parts,
                         connection,
                         message,
                         Error{400, u"metadata.limit: expected a positive integer"_s});
    const int pageSize = std::min(limit.value_or(KvListDefault), KvListMax);
    if (parts.server.broker)
        return kvListInCluster(parts, connection, message, *bucket, *prefix, *after, pageSize);
    const auto page = parts.server.kv.list(*bucket, *prefix, *after, pageSize);
    if (!page)
        return sendError(parts, connection, message, page.error());
    QJsonArray keys;
    for (const KvEntry &entry : page->entries) {
        QJsonObject item{{u"key"_s, entry.key()}, {u"version"_s, qint64(entry.version())}};
        if (entry.expiresAt() != 0)
            item.insert(u"expires_at"_s, entry.expiresAt());
        keys.append(item);
    }
    const QJsonObject identity{{u"bucket"_s, *bucket}, {u"version"_s, qint64(page->revision)}};
    QJsonObject data = identity;
    data.insert(u"keys"_s, keys);
    if (!page->next.isEmpty())
        data.insert(u"next"_s, page->next);
    parts.out.send(connection, answer(message, data, identity));
}

} // namespace Mtw::Internal
