// SPDX-License-Identifier: MIT
#include "jsonwriter_p.h"
#include "messagecodec_p.h"

#include <mtw/message.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

namespace Mtw {

namespace {

constexpr qint64 MaxTimestamp = qint64(1)
    << 53; // the largest integer every JSON client holds exactly
constexpr qsizetype MaxShownStringLength = 40;

QLatin1String kindName(Payload::Kind kind)
{
    switch (kind) {
    case Payload::Kind::None:
        return QLatin1String("None");
    case Payload::Kind::Text:
        return QLatin1String("Text");
    case Payload::Kind::Json:
        return QLatin1String("Json");
    case Payload::Kind::Binary:
        return QLatin1String("Binary");
    }
    return QLatin1String("None");
}

std::optional<Payload::Kind> kindFromName(const QString &name)
{
    for (const auto kind :
         {Payload::Kind::None, Payload::Kind::Text, Payload::Kind::Json, Payload::Kind::Binary}) {
        if (name == kindName(kind))
            return kind;
    }
    return std::nullopt;
}

// A value as an error message shows it: scalars as JSON (strings shortened), containers by kind.
QString describe(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Object:
        return QStringLiteral("an object");
    case QJsonValue::Array:
        return QStringLiteral("an array");
    case QJsonValue::Undefined:
        return QStringLiteral("nothing");
    case QJsonValue::String: {
        const QString text = value.toString();
        QByteArray json;
        if (text.size() > MaxShownStringLength) {
            Internal::appendJsonString(json, QStringView(text).first(MaxShownStringLength));
            json.insert(json.size() - 1, "...");
        } else {
            Internal::appendJsonString(json, text);
        }
        return QString::fromUtf8(json);
    }
    case QJsonValue::Null:
    case QJsonValue::Bool:
    case QJsonValue::Double:
        break;
    }
    QByteArray json;
    Internal::appendJsonValue(json, value);
    return QString::fromUtf8(json);
}

QString missingField(QLatin1String field)
{
    return QStringLiteral("missing required field \"%1\"").arg(field);
}

// What a top-level JSON text that is not an object is, for the error message.
QString describeNonObject(QByteArrayView json, const QJsonParseError &error)
{
    if (json.trimmed().isEmpty())
        return QStringLiteral("invalid JSON: empty input");
    // Qt's parser accepts only objects and arrays at the top level and calls any other value
    // "illegal". Wrapped in an array, a lone scalar parses, and the message can name it.
    if (error.error == QJsonParseError::IllegalValue) {
        QByteArray wrapped;
        wrapped.reserve(json.size() + 2);
        wrapped.append('[').append(json).append(']');
        const QJsonDocument document = QJsonDocument::fromJson(wrapped);
        if (document.isArray() && document.array().size() == 1) {
            static constexpr std::array<QLatin1String, 4> Kinds = {
                QLatin1String("null"),
                QLatin1String("a boolean"),
                QLatin1String("a number"),
                QLatin1String("a string"),
            };
            const auto type = document.array().at(0).type();
            const std::size_t index = type == QJsonValue::Null ? 0
                : type == QJsonValue::Bool                     ? 1
                : type == QJsonValue::Double                   ? 2
                                                               : 3;
            return QStringLiteral("expected a JSON object, got %1").arg(Kinds[index]);
        }
    }
    return QStringLiteral("invalid JSON at offset %1: %2")
        .arg(error.offset)
        .arg(error.errorString());
}

tl::expected<Payload, QString> payloadFromJson(const QJsonValue &value)
{
    if (value.isUndefined())
        return tl::unexpected(missingField(QLatin1String("payload")));
    if (!value.isObject())
        return tl::unexpected(
            QStringLiteral("payload: expected an object, got %1").arg(describe(value)));
    const QJsonObject object = value.toObject();

    const QJsonValue kindValue = object.value(QLatin1String("kind"));
    if (kindValue.isUndefined())
        return tl::unexpected(missingField(QLatin1String("payload.kind")));
    const std::optional<Payload::Kind> kind =
        kindValue.isString() ? kindFromName(kindValue.toString()) : std::nullopt;
    if (!kind) {
        return tl::unexpected(
            QStringLiteral(
                R"(payload.kind: expected one of "None", "Text", "Json", "Binary", got %1)")
                .arg(describe(kindValue)));
    }
    if (*kind == Payload::Kind::None)
        return Payload::none();

    const QJsonValue data = object.value(QLatin1String("data"));
    if (data.isUndefined())
        return tl::unexpected(missingField(QLatin1String("payload.data")));
    switch (*kind) {
    case Payload::Kind::Json:
        return Payload::fromJson(data);
    case Payload::Kind::Text:
        if (!data.isString()) {
            return tl::unexpected(
                QStringLiteral(R"(payload.data: expected a string for kind "Text", got %1)")
                    .arg(describe(data)));
        }
        return Payload::fromText(data.toString());
    case Payload::Kind::Binary: {
        if (!data.isString()) {
            return tl::unexpected(
                QStringLiteral(
                    R"(payload.data: expected a base64 string for kind "Binary", got %1)")
                    .arg(describe(data)));
        }
        auto bytes = Internal::decodeBase64Strict(data.toString());
        if (!bytes)
            return tl::unexpected(
                QStringLiteral("payload.data: invalid base64: %1").arg(bytes.error()));
        Payload payload;
        payload.kind = Payload::Kind::Binary;
        payload.binary = std::move(*bytes);
        return payload;
    }
    case Payload::Kind::None:
        break;
    }
    return Payload::none();
}

// An optional string field: absent, null and "" all mean absent.
tl::expected<QString, QString> optionalString(const QJsonObject &object, QLatin1String key)
{
    const QJsonValue value = object.value(key);
    if (value.isString())
        return value.toString();
    if (value.isUndefined() || value.isNull())
        return QString();
    return tl::unexpected(
        QStringLiteral("%1: expected a string or null, got %2").arg(key, describe(value)));
}

qsizetype estimateEncodedSize(const Message &message)
{
    // Enough for ASCII strings and short JSON payloads; anything longer grows the buffer.
    qsizetype size = 96 + message.id.size() + message.channel.size() + message.refId.size();
    switch (message.payload.kind) {
    case Payload::Kind::Text:
        size += message.payload.text.size() + 8;
        break;
    case Payload::Kind::Binary:
        size += (message.payload.binary.size() + 2) / 3 * 4;
        break;
    case Payload::Kind::Json:
        size += 64;
        break;
    case Payload::Kind::None:
        break;
    }
    if (!message.metadata.isEmpty())
        size += 32 * message.metadata.size();
    return size;
}

void appendPayload(QByteArray &out, const Payload &payload)
{
    out.append(R"({"kind":")");
    const QLatin1String kind = kindName(payload.kind);
    out.append(kind.data(), kind.size());
    out.append('"');
    switch (payload.kind) {
    case Payload::Kind::None:
        break;
    case Payload::Kind::Text:
        out.append(R"(,"data":)");
        Internal::appendJsonString(out, payload.text);
        break;
    case Payload::Kind::Json:
        out.append(R"(,"data":)");
        Internal::appendJsonValue(out, payload.json);
        break;
    case Payload::Kind::Binary:
        out.append(R"(,"data":")");
        Internal::appendBase64(out, payload.binary);
        out.append('"');
        break;
    }
    out.append('}');
}

QJsonObject payloadToJson(const Payload &payload)
{
    QJsonObject object{{QStringLiteral("kind"), QString(kindName(payload.kind))}};
    switch (payload.kind) {
    case Payload::Kind::None:
        break;
    case Payload::Kind::Text:
        object.insert(QStringLiteral("data"), payload.text);
        break;
    case Payload::Kind::Json:
        object.insert(QStringLiteral("data"), payload.json);
        break;
    case Payload::Kind::Binary:
        object.insert(QStringLiteral("data"), QString::fromLatin1(payload.binary.toBase64()));
        break;
    }
    return object;
}

} // namespace

tl::expected<Message, DecodeFailure> decodeMessage(QByteArrayView json)
{
    QJsonParseError error;
    // fromRawData: the parser copies what it keeps, so the input need not be copied first.
    const QJsonDocument document =
        QJsonDocument::fromJson(QByteArray::fromRawData(json.data(), json.size()), &error);
    if (error.error != QJsonParseError::NoError)
        return tl::unexpected(DecodeFailure{describeNonObject(json, error), QString()});
    if (!document.isObject()) {
        return tl::unexpected(
            DecodeFailure{QStringLiteral("expected a JSON object, got an array"), QString()});
    }
    return messageFromJson(document.object());
}

tl::expected<Message, DecodeFailure> messageFromJson(const QJsonObject &object)
{
    Message message;
    const QJsonValue id = object.value(QLatin1String("id"));
    if (id.isUndefined())
        return tl::unexpected(DecodeFailure{missingField(QLatin1String("id")), QString()});
    if (!id.isString()) {
        return tl::unexpected(
            DecodeFailure{QStringLiteral("id: expected a string, got %1").arg(describe(id)),
                          QString()});
    }
    message.id = id.toString();
    const auto failure = [&message](QString text) {
        return tl::unexpected(DecodeFailure{std::move(text), message.id});
    };

    const QJsonValue type = object.value(QLatin1String("type"));
    if (type.isUndefined())
        return failure(missingField(QLatin1String("type")));
    if (!type.isString())
        return failure(QStringLiteral("type: expected a string, got %1").arg(describe(type)));
    const std::optional<MessageType> messageType = messageTypeFromName(type.toString());
    if (!messageType)
        return failure(QStringLiteral("unknown message type %1").arg(describe(type)));
    message.type = *messageType;

    auto channel = optionalString(object, QLatin1String("channel"));
    if (!channel)
        return failure(std::move(channel.error()));
    message.channel = std::move(*channel);

    auto payload = payloadFromJson(object.value(QLatin1String("payload")));
    if (!payload)
        return failure(std::move(payload.error()));
    message.payload = std::move(*payload);

    const QJsonValue metadata = object.value(QLatin1String("metadata"));
    if (metadata.isObject()) {
        message.metadata = metadata.toObject();
    } else if (!metadata.isUndefined()) {
        return failure(
            QStringLiteral("metadata: expected an object, got %1").arg(describe(metadata)));
    }

    const QJsonValue timestamp = object.value(QLatin1String("timestamp"));
    if (timestamp.isUndefined())
        return failure(missingField(QLatin1String("timestamp")));
    // Qt's parser stores a number as an integer when its value is one (1.0 and 1e3 included), so
    // toInteger() succeeds exactly for integral values; -1 (the fallback) is rejected below anyway.
    const qint64 milliseconds = timestamp.isDouble() ? timestamp.toInteger(-1) : -1;
    if (milliseconds < 0 || milliseconds > MaxTimestamp) {
        return failure(QStringLiteral("timestamp: expected integer milliseconds, got %1")
                           .arg(describe(timestamp)));
    }
    message.timestamp = milliseconds;

    auto refId = optionalString(object, QLatin1String("ref_id"));
    if (!refId)
        return failure(std::move(refId.error()));
    message.refId = std::move(*refId);

    return message;
}

QByteArray encodeMessage(const Message &message)
{
    return Internal::encodeMessage(message, {});
}

QByteArray Internal::encodeMessage(const Message &message, QByteArrayView metadataMembers)
{
    QByteArray out;
    out.reserve(estimateEncodedSize(message) + metadataMembers.size());
    out.append(R"({"id":)");
    Internal::appendJsonString(out, message.id);
    out.append(R"(,"type":")");
    const QLatin1String type = messageTypeName(message.type);
    out.append(type.data(), type.size());
    out.append('"');
    if (!message.channel.isEmpty()) {
        out.append(R"(,"channel":)");
        Internal::appendJsonString(out, message.channel);
    }
    out.append(R"(,"payload":)");
    appendPayload(out, message.payload);
    if (!metadataMembers.isEmpty()) {
        out.append(R"(,"metadata":{)");
        out.append(metadataMembers);
        if (message.metadata.isEmpty()) {
            out.append('}');
        } else {
            const qsizetype brace = out.size();
            Internal::appendJsonObject(out, message.metadata);
            out[brace] = ','; // the object's members follow the given ones
        }
    } else if (!message.metadata.isEmpty()) {
        out.append(R"(,"metadata":)");
        Internal::appendJsonObject(out, message.metadata);
    }
    out.append(R"(,"timestamp":)");
    out.append(QByteArray::number(message.timestamp));
    if (!message.refId.isEmpty()) {
        out.append(R"(,"ref_id":)");
        Internal::appendJsonString(out, message.refId);
    }
    out.append('}');
    return out;
}

QJsonObject messageToJson(const Message &message)
{
    QJsonObject object;
    object.insert(QLatin1String("id"), message.id);
    object.insert(QLatin1String("type"), QString(messageTypeName(message.type)));
    if (!message.channel.isEmpty())
        object.insert(QLatin1String("channel"), message.channel);
    object.insert(QLatin1String("payload"), payloadToJson(message.payload));
    if (!message.metadata.isEmpty())
        object.insert(QLatin1String("metadata"), message.metadata);
    object.insert(QLatin1String("timestamp"), QJsonValue(message.timestamp));
    if (!message.refId.isEmpty())
        object.insert(QLatin1String("ref_id"), message.refId);
    return object;
}

} // namespace Mtw
