// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QJsonObject>
#include <QJsonValue>
#include <QMetaType>
#include <QString>
#include <QStringView>

#include <QLatin1String>
#include <tl/expected.hpp>

#include <optional>

// The mtw envelope (PROTOCOL.md section 2): the value type every module sees, and its JSON codec.
// All types here are plain values, implicitly shared where Qt's are; they are reentrant and may be
// copied freely across threads (e.g. as queued signal arguments).

namespace Mtw {

// The `type` of an envelope. On the wire each is written in snake_case, e.g. StreamEnd is
// "stream_end" and AgentToolCall is "agent_tool_call".
enum class MessageType {
    Connect,
    Disconnect,
    Ping,
    Pong,
    Request,
    Response,
    Event,
    Stream,
    StreamEnd,
    Subscribe,
    Unsubscribe,
    Publish,
    AgentTask,
    AgentChunk,
    AgentToolCall,
    AgentToolResult,
    AgentComplete,
    Error,
    Ack,
};

// The wire name of `type` ("stream_end"); the returned string is static.
MTW_CORE_EXPORT QLatin1String messageTypeName(MessageType type);
// The type whose wire name is exactly `name` (case-sensitive); std::nullopt for anything else.
MTW_CORE_EXPORT std::optional<MessageType> messageTypeFromName(QStringView name);

// The `payload` of an envelope. Only the member that matches `kind` is meaningful; the others are
// ignored by comparison and encoding. On the wire: {"kind":"None"}, {"kind":"Text","data":"..."},
// {"kind":"Json","data":<any JSON value>}, {"kind":"Binary","data":"<standard padded base64>"}.
struct MTW_CORE_EXPORT Payload
{
    enum class Kind { None, Text, Json, Binary };

    Kind kind = Kind::None;
    QString text;      // Kind::Text
    QJsonValue json;   // Kind::Json: any JSON value, including null
    QByteArray binary; // Kind::Binary: the decoded bytes (base64 exists only on the wire)

    static Payload none();
    static Payload fromText(const QString &text);
    // An undefined QJsonValue is stored as null, which is what it becomes on the wire.
    static Payload fromJson(const QJsonValue &json);
    static Payload fromBinary(const QByteArray &bytes);

    // Same kind and same data for that kind. Json numbers compare by value (1 == 1.0).
    bool operator==(const Payload &other) const;
};

// One envelope. Empty `channel`, `refId` and `metadata` mean "absent": they are omitted on the
// wire, and an absent or null field decodes to empty.
struct MTW_CORE_EXPORT Message
{
    QString id; // client ids are opaque strings; server-made ids are ULIDs
    MessageType type = MessageType::Event;
    QString channel; // empty = absent
    Payload payload;
    QJsonObject metadata; // empty = absent
    qint64 timestamp = 0; // integer milliseconds since the Unix epoch
    QString refId;        // empty = absent; JSON key "ref_id"

    bool operator==(const Message &other) const;

    // A server-made message: a new ULID id (see <mtw/ulid.h>) and the current time.
    static Message create(MessageType type, Payload payload = Payload::none());
    // A `response` whose payload is Json `data`, answering the message with id `refId`.
    static Message response(const QString &refId, const QJsonValue &data);
    // An `error` whose payload is Json {"code":code,"message":message}. `code` follows HTTP meaning
    // (400 malformed, 401, 403, 404, 409, 413, 429, 500, 503). Pass the id of the message that
    // caused the error as `refId` whenever it is known, so that the client's request settles.
    static Message error(int code, const QString &message, const QString &refId = QString());
};

// Why an input could not be decoded. `message` is an English sentence naming the field and the
// offending value, suitable for the 400 error sent back to the client. `id` is the input's "id"
// when the input was a JSON object with a string "id" (even if other fields were bad), so that the
// error can carry it as ref_id; otherwise it is empty.
struct DecodeFailure
{
    QString message;
    QString id;
};

// Decodes one JSON envelope (UTF-8) strictly, as PROTOCOL.md section 2 describes. The input is
// parsed once and not copied.
MTW_CORE_EXPORT tl::expected<Message, DecodeFailure> decodeMessage(QByteArrayView json);
// The same validation for an already parsed object.
MTW_CORE_EXPORT tl::expected<Message, DecodeFailure> messageFromJson(const QJsonObject &object);

// Compact UTF-8 JSON with the keys in a stable order: id, type, channel, payload, metadata,
// timestamp, ref_id (absent ones omitted). Values are formatted exactly as
// QJsonDocument::toJson(QJsonDocument::Compact) formats them. decodeMessage() of the result
// compares equal to `message`.
MTW_CORE_EXPORT QByteArray encodeMessage(const Message &message);
// The envelope as a QJsonObject (e.g. to embed in another payload, such as history replies).
MTW_CORE_EXPORT QJsonObject messageToJson(const Message &message);

} // namespace Mtw

Q_DECLARE_METATYPE(Mtw::Message)
