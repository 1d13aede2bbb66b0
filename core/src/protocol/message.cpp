// SPDX-License-Identifier: MIT
#include "ulid_p.h"

#include <mtw/message.h>

#include <QDateTime>

#include <array>

namespace Mtw {

namespace {

// Indexed by MessageType.
constexpr std::array<QLatin1String, 19> MessageTypeNames = {
    QLatin1String("connect"),
    QLatin1String("disconnect"),
    QLatin1String("ping"),
    QLatin1String("pong"),
    QLatin1String("request"),
    QLatin1String("response"),
    QLatin1String("event"),
    QLatin1String("stream"),
    QLatin1String("stream_end"),
    QLatin1String("subscribe"),
    QLatin1String("unsubscribe"),
    QLatin1String("publish"),
    QLatin1String("agent_task"),
    QLatin1String("agent_chunk"),
    QLatin1String("agent_tool_call"),
    QLatin1String("agent_tool_result"),
    QLatin1String("agent_complete"),
    QLatin1String("error"),
    QLatin1String("ack"),
};
static_assert(MessageTypeNames.size() == std::size_t(MessageType::Ack) + 1);

} // namespace

QLatin1String messageTypeName(MessageType type)
{
    const auto index = static_cast<std::size_t>(type);
    return index < MessageTypeNames.size() ? MessageTypeNames[index] : QLatin1String();
}

std::optional<MessageType> messageTypeFromName(QStringView name)
{
    for (std::size_t i = 0; i < MessageTypeNames.size(); ++i) {
        const QLatin1String candidate = MessageTypeNames[i];
        if (candidate.size() == name.size() && name.compare(candidate, Qt::CaseSensitive) == 0)
            return static_cast<MessageType>(i);
    }
    return std::nullopt;
}

Payload Payload::none()
{
    return Payload();
}

Payload Payload::fromText(const QString &text)
{
    Payload payload;
    payload.kind = Kind::Text;
    payload.text = text;
    return payload;
}

Payload Payload::fromJson(const QJsonValue &json)
{
    Payload payload;
    payload.kind = Kind::Json;
    payload.json = json.isUndefined() ? QJsonValue(QJsonValue::Null) : json;
    return payload;
}

Payload Payload::fromBinary(const QByteArray &bytes)
{
    Payload payload;
    payload.kind = Kind::Binary;
    payload.binary = bytes;
    return payload;
}

bool Payload::operator==(const Payload &other) const
{
    if (kind != other.kind)
        return false;
    switch (kind) {
    case Kind::None:
        return true;
    case Kind::Text:
        return text == other.text;
    case Kind::Json:
        return json == other.json;
    case Kind::Binary:
        return binary == other.binary;
    }
    return false;
}

bool Message::operator==(const Message &other) const
{
    return type == other.type && timestamp == other.timestamp && id == other.id
        && channel == other.channel && refId == other.refId && payload == other.payload
        && metadata == other.metadata;
}

Message Message::create(MessageType type, Payload payload)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    Message message;
    message.id = Internal::generateUlid(now);
    message.type = type;
    message.payload = std::move(payload);
    message.timestamp = now;
    return message;
}

Message Message::response(const QString &refId, const QJsonValue &data)
{
    Message message = create(MessageType::Response, Payload::fromJson(data));
    message.refId = refId;
    return message;
}

Message Message::error(int code, const QString &message, const QString &refId)
{
    Message result = create(MessageType::Error,
                            Payload::fromJson(QJsonObject{
                                {QStringLiteral("code"), code},
                                {QStringLiteral("message"), message},
                            }));
    result.refId = refId;
    return result;
}

} // namespace Mtw
