// SPDX-License-Identifier: MIT
#include "protocol/messagecodec_p.h"

#include <mtw/message.h>
#include <mtw/ulid.h>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include <cmath>
#include <limits>

using namespace Mtw;
using namespace Qt::StringLiterals;

namespace Mtw {
// QCOMPARE shows the encoded envelope when two messages differ.
char *toString(const Message &message)
{
    return qstrdup(encodeMessage(message).constData());
}
char *toString(const Payload &payload)
{
    Message message;
    message.payload = payload;
    return qstrdup(encodeMessage(message).constData());
}
} // namespace Mtw

namespace {

// The failure of `result` for a QVERIFY2 message (which Qt evaluates even when the check passes).
QByteArray whyNot(const tl::expected<Message, DecodeFailure> &result)
{
    return result ? QByteArray() : result.error().message.toUtf8();
}

QString s(const char *utf8)
{
    return QString::fromUtf8(utf8);
}

QJsonObject parseObject(const char *json)
{
    return QJsonDocument::fromJson(QByteArray(json)).object();
}

Message makeMessage(MessageType type, Payload payload, qint64 timestamp = 1711843200000)
{
    Message message;
    message.id = s("m-1");
    message.type = type;
    message.payload = std::move(payload);
    message.timestamp = timestamp;
    return message;
}

// An envelope with `field` set to the JSON text `value`, everything else valid.
QByteArray envelopeWith(const char *field, const QByteArray &value)
{
    QJsonObject object = parseObject(
        R"({"id":"m-1","type":"event","payload":{"kind":"None"},"timestamp":1711843200000})");
    QByteArray json = QJsonDocument(object).toJson(QJsonDocument::Compact);
    json.chop(1);
    return json + ",\"" + field + "\":" + value + '}';
}

// What QJsonDocument writes for `value` (compact), also for scalars, which it cannot hold alone.
QByteArray qtJson(const QJsonValue &value)
{
    if (value.isObject())
        return QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact);
    if (value.isArray())
        return QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact);
    const QByteArray wrapped = QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
    return wrapped.mid(1, wrapped.size() - 2);
}

// The envelope as QJsonDocument formats each value, in encodeMessage()'s key order.
QByteArray qtEnvelope(const Message &message)
{
    const QJsonObject object = messageToJson(message);
    QByteArray out = "{";
    for (const char *key :
         {"id", "type", "channel", "payload", "metadata", "timestamp", "ref_id"}) {
        const QJsonValue value = object.value(QLatin1String(key));
        if (value.isUndefined())
            continue;
        if (out.size() > 1)
            out += ',';
        out += '"' + QByteArray(key) + "\":";
        if (QByteArrayView(key) == "payload") {
            // Written kind first, as the existing clients' examples show it.
            const QJsonObject payload = value.toObject();
            out += "{\"kind\":" + qtJson(payload.value(QLatin1String("kind")));
            if (payload.contains(QLatin1String("data")))
                out += ",\"data\":" + qtJson(payload.value(QLatin1String("data")));
            out += '}';
        } else {
            out += qtJson(value);
        }
    }
    return out + '}';
}

const MessageType AllTypes[] = {
    MessageType::Connect,       MessageType::Disconnect,
    MessageType::Ping,          MessageType::Pong,
    MessageType::Request,       MessageType::Response,
    MessageType::Event,         MessageType::Stream,
    MessageType::StreamEnd,     MessageType::Subscribe,
    MessageType::Unsubscribe,   MessageType::Publish,
    MessageType::AgentTask,     MessageType::AgentChunk,
    MessageType::AgentToolCall, MessageType::AgentToolResult,
    MessageType::AgentComplete, MessageType::Error,
    MessageType::Ack,
};

} // namespace

class tst_Message : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void typeNames_data();
    void typeNames();
    void typeNameRejects_data();
    void typeNameRejects();

    void payloadRoundTrip_data();
    void payloadRoundTrip();
    void payloadEquality();

    void canonicalEncoding_data();
    void canonicalEncoding();
    void timestampWrittenAsInteger_data();
    void timestampWrittenAsInteger();
    void encoderWritesGivenMetadataMembersFirst_data();
    void encoderWritesGivenMetadataMembersFirst();
    void encoderMatchesQJsonDocument_data();
    void encoderMatchesQJsonDocument();

    void decodeErrors_data();
    void decodeErrors();
    void base64_data();
    void base64();
    void timestamp_data();
    void timestamp();
    void optionalFields_data();
    void optionalFields();
    void unknownKeysIgnored();
    void decodeReadsOnlyTheView();

    void create();
    void response();
    void error();
};

void tst_Message::typeNames_data()
{
    QTest::addColumn<MessageType>("type");
    QTest::addColumn<QString>("name");
    const char *names[] = {"connect",
                           "disconnect",
                           "ping",
                           "pong",
                           "request",
                           "response",
                           "event",
                           "stream",
                           "stream_end",
                           "subscribe",
                           "unsubscribe",
                           "publish",
                           "agent_task",
                           "agent_chunk",
                           "agent_tool_call",
                           "agent_tool_result",
                           "agent_complete",
                           "error",
                           "ack"};
    static_assert(std::size(names) == std::size(AllTypes));
    for (std::size_t i = 0; i < std::size(AllTypes); ++i)
        QTest::newRow(names[i]) << AllTypes[i] << s(names[i]);
}

void tst_Message::typeNames()
{
    QFETCH(MessageType, type);
    QFETCH(QString, name);
    QCOMPARE(QString(messageTypeName(type)), name);
    QCOMPARE(messageTypeFromName(name), std::optional<MessageType>(type));

    const Message message = makeMessage(type, Payload::none());
    const QByteArray json = encodeMessage(message);
    QVERIFY2(json.contains("\"type\":\"" + name.toLatin1() + '"'), json.constData());
    const auto decoded = decodeMessage(json);
    QVERIFY2(decoded, whyNot(decoded).constData());
    QCOMPARE(decoded->type, type);
}

void tst_Message::typeNameRejects_data()
{
    QTest::addColumn<QString>("name");
    QTest::newRow("PascalCase") << s("StreamEnd");
    QTest::newRow("camelCase") << s("streamEnd");
    QTest::newRow("upper") << s("PUBLISH");
    QTest::newRow("capitalised") << s("Publish");
    QTest::newRow("trailing space") << s("publish ");
    QTest::newRow("prefix") << s("agent");
    QTest::newRow("empty") << QString();
    QTest::newRow("unknown") << s("foo");
}

void tst_Message::typeNameRejects()
{
    QFETCH(QString, name);
    QCOMPARE(messageTypeFromName(name), std::nullopt);
}

void tst_Message::payloadRoundTrip_data()
{
    QTest::addColumn<Payload>("payload");
    QTest::addColumn<QByteArray>("json"); // the encoded "payload" value

    QTest::newRow("none") << Payload::none() << QByteArray(R"({"kind":"None"})");
    QTest::newRow("text") << Payload::fromText(s("hello"))
                          << QByteArray(R"({"kind":"Text","data":"hello"})");
    QTest::newRow("text empty") << Payload::fromText(QString())
                                << QByteArray(R"({"kind":"Text","data":""})");
    QTest::newRow("text escapes")
        << Payload::fromText(s("a\"b\\c\n\t\x01 é 😀"))
        << QByteArray("{\"kind\":\"Text\",\"data\":\"a\\\"b\\\\c\\n\\t\\u0001 é 😀\"}");
    QTest::newRow("json object")
        << Payload::fromJson(parseObject(R"({"b":[1,2.5,"x"],"a":{"n":null}})"))
        << QByteArray(R"({"kind":"Json","data":{"a":{"n":null},"b":[1,2.5,"x"]}})");
    QTest::newRow("json array") << Payload::fromJson(QJsonArray{1, true, QJsonValue()})
                                << QByteArray(R"({"kind":"Json","data":[1,true,null]})");
    QTest::newRow("json null") << Payload::fromJson(QJsonValue::Null)
                               << QByteArray(R"({"kind":"Json","data":null})");
    QTest::newRow("json undefined is null")
        << Payload::fromJson(QJsonValue::Undefined) << QByteArray(R"({"kind":"Json","data":null})");
    QTest::newRow("json string") << Payload::fromJson(s("str"))
                                 << QByteArray(R"({"kind":"Json","data":"str"})");
    QTest::newRow("json integer") << Payload::fromJson(qint64(-42))
                                  << QByteArray(R"({"kind":"Json","data":-42})");
    QTest::newRow("json double") << Payload::fromJson(0.1)
                                 << QByteArray(R"({"kind":"Json","data":0.1})");
    QTest::newRow("json bool") << Payload::fromJson(false)
                               << QByteArray(R"({"kind":"Json","data":false})");
    QTest::newRow("json empty object")
        << Payload::fromJson(QJsonObject()) << QByteArray(R"({"kind":"Json","data":{}})");
    QTest::newRow("binary empty") << Payload::fromBinary(QByteArray())
                                  << QByteArray(R"({"kind":"Binary","data":""})");
    QTest::newRow("binary 1 byte") << Payload::fromBinary(QByteArray("\xfb", 1))
                                   << QByteArray(R"({"kind":"Binary","data":"+w=="})");
    QTest::newRow("binary 2 bytes") << Payload::fromBinary(QByteArray("\xfb\xff", 2))
                                    << QByteArray(R"({"kind":"Binary","data":"+/8="})");
    QTest::newRow("binary 5 bytes") << Payload::fromBinary(QByteArray("\x00\xff\x01\x80\x7f", 5))
                                    << QByteArray(R"({"kind":"Binary","data":"AP8BgH8="})");
    QTest::newRow("binary 6 bytes") << Payload::fromBinary(QByteArray("foobar"))
                                    << QByteArray(R"({"kind":"Binary","data":"Zm9vYmFy"})");
    QByteArray all(256, Qt::Uninitialized);
    for (int i = 0; i < 256; ++i)
        all[i] = char(i);
    QTest::newRow("binary all bytes")
        << Payload::fromBinary(all) << "{\"kind\":\"Binary\",\"data\":\"" + all.toBase64() + "\"}";
}

void tst_Message::payloadRoundTrip()
{
    QFETCH(Payload, payload);
    QFETCH(QByteArray, json);

    const Message message = makeMessage(MessageType::Publish, payload);
    const QByteArray encoded = encodeMessage(message);
    QCOMPARE(encoded,
             R"({"id":"m-1","type":"publish","payload":)" + json
                 + R"(,"timestamp":1711843200000})");

    const auto decoded = decodeMessage(encoded);
    QVERIFY2(decoded, whyNot(decoded).constData());
    QCOMPARE(decoded->payload, payload);
    QCOMPARE(*decoded, message);

    const auto fromObject = messageFromJson(messageToJson(message));
    QVERIFY2(fromObject, whyNot(fromObject).constData());
    QCOMPARE(*fromObject, message);
    QCOMPARE(QJsonDocument::fromJson(encoded).object(), messageToJson(message));
}

void tst_Message::payloadEquality()
{
    QCOMPARE(Payload::fromText(s("a")), Payload::fromText(s("a")));
    QVERIFY(!(Payload::fromText(s("a")) == Payload::fromText(s("b"))));
    QVERIFY(!(Payload::fromText(s("a")) == Payload::fromJson(s("a"))));
    QVERIFY(!(Payload::none() == Payload::fromJson(QJsonValue::Null)));
    QVERIFY(!(Payload::fromBinary("a") == Payload::fromText(s("a"))));
    QCOMPARE(Payload::fromJson(1), Payload::fromJson(1.0));
    // Members that do not belong to the kind are ignored.
    Payload text = Payload::fromText(s("t"));
    text.binary = "ignored";
    QCOMPARE(text, Payload::fromText(s("t")));

    Message a = makeMessage(MessageType::Event, Payload::none());
    Message b = a;
    QCOMPARE(a, b);
    b.refId = s("r");
    QVERIFY(!(a == b));
    b = a;
    b.metadata.insert(s("k"), 1);
    QVERIFY(!(a == b));
    b = a;
    b.timestamp += 1;
    QVERIFY(!(a == b));
}

void tst_Message::canonicalEncoding_data()
{
    QTest::addColumn<Message>("message");
    QTest::addColumn<QByteArray>("json");

    Message ack;
    ack.id = s("01HT0000000000000000000000");
    ack.type = MessageType::Ack;
    ack.payload = Payload::fromJson(QJsonObject{{s("conn_id"), s("c-1")}});
    ack.metadata = QJsonObject{{s("conn_id"), s("c-1")}};
    ack.timestamp = 1711843200000;
    QTest::newRow("ack with metadata")
        << ack
        << QByteArray(
               R"({"id":"01HT0000000000000000000000","type":"ack","payload":{"kind":"Json","data":{"conn_id":"c-1"}},"metadata":{"conn_id":"c-1"},"timestamp":1711843200000})");

    Message error;
    error.id = s("e1");
    error.type = MessageType::Error;
    error.payload = Payload::fromJson(
        QJsonObject{{s("code"), 400}, {s("message"), s("missing required field \"payload\"")}});
    error.timestamp = 1711843200000;
    error.refId = s("m-7");
    QTest::newRow("error with ref_id")
        << error
        << QByteArray(
               R"({"id":"e1","type":"error","payload":{"kind":"Json","data":{"code":400,"message":"missing required field \"payload\""}},"timestamp":1711843200000,"ref_id":"m-7"})");

    Message publish;
    publish.id = s("p1");
    publish.type = MessageType::Publish;
    publish.channel = s("chat.general");
    publish.payload = Payload::fromText(s("héllo \"w\"\n"));
    publish.metadata = QJsonObject{{s("from"), s("c2")}, {s("b"), true}};
    publish.timestamp = 1;
    QTest::newRow("publish text, metadata keys sorted")
        << publish
        << QByteArray(
               R"({"id":"p1","type":"publish","channel":"chat.general","payload":{"kind":"Text","data":"héllo \"w\"\n"},"metadata":{"b":true,"from":"c2"},"timestamp":1})");

    Message pong;
    pong.id = s("x");
    pong.type = MessageType::Pong;
    pong.timestamp = 0;
    pong.refId = s("ping-1");
    QTest::newRow("pong none")
        << pong
        << QByteArray(
               R"({"id":"x","type":"pong","payload":{"kind":"None"},"timestamp":0,"ref_id":"ping-1"})");

    Message binary;
    binary.id = s("b");
    binary.type = MessageType::StreamEnd;
    binary.payload = Payload::fromBinary(QByteArray("\x00\xff\x01\x80\x7f", 5));
    binary.timestamp = 1711843200000;
    QTest::newRow("stream_end binary")
        << binary
        << QByteArray(
               R"({"id":"b","type":"stream_end","payload":{"kind":"Binary","data":"AP8BgH8="},"timestamp":1711843200000})");

    Message null;
    null.id = s("n");
    null.type = MessageType::AgentToolResult;
    null.payload = Payload::fromJson(QJsonValue::Null);
    null.timestamp = 5;
    QTest::newRow("json null")
        << null
        << QByteArray(
               R"({"id":"n","type":"agent_tool_result","payload":{"kind":"Json","data":null},"timestamp":5})");
}

void tst_Message::canonicalEncoding()
{
    QFETCH(Message, message);
    QFETCH(QByteArray, json);
    QCOMPARE(encodeMessage(message), json);
    QCOMPARE(qtEnvelope(message), json);
    const auto decoded = decodeMessage(json);
    QVERIFY2(decoded, whyNot(decoded).constData());
    QCOMPARE(*decoded, message);
}

void tst_Message::timestampWrittenAsInteger_data()
{
    QTest::addColumn<qint64>("timestamp");
    QTest::addColumn<QByteArray>("text");
    QTest::newRow("2024") << qint64(1711843200000) << QByteArray("1711843200000");
    QTest::newRow("2^53") << (qint64(1) << 53) << QByteArray("9007199254740992");
    QTest::newRow("zero") << qint64(0) << QByteArray("0");
    QTest::newRow("1e15") << qint64(1000000000000000) << QByteArray("1000000000000000");
}

void tst_Message::timestampWrittenAsInteger()
{
    QFETCH(qint64, timestamp);
    QFETCH(QByteArray, text);
    const Message message = makeMessage(MessageType::Event, Payload::none(), timestamp);
    QVERIFY2(encodeMessage(message).endsWith(",\"timestamp\":" + text + '}'),
             encodeMessage(message).constData());
    // messageToJson stores a qint64, which QJsonDocument also prints in full (not 1.7e+12).
    const QByteArray viaQt = QJsonDocument(messageToJson(message)).toJson(QJsonDocument::Compact);
    QVERIFY2(viaQt.contains("\"timestamp\":" + text + ','), viaQt.constData());
}

void tst_Message::encoderMatchesQJsonDocument_data()
{
    QTest::addColumn<QJsonValue>("value");

    QTest::newRow("empty string") << QJsonValue(QString());
    QTest::newRow("quote backslash slash") << QJsonValue(s("q\"b\\s/"));
    QTest::newRow("control characters") << QJsonValue(s("\b\f\n\r\t\x01\x1f\x7f"));
    QTest::newRow("nul") << QJsonValue(QString(QChar(0)));
    QTest::newRow("non-ascii") << QJsonValue(s("é ü € 😀 \u2028 \uffff"));
    QTest::newRow("lone high surrogate") << QJsonValue(QString(QChar(0xd800)));
    QTest::newRow("lone low surrogate") << QJsonValue(s("a") + QChar(0xdc00) + s("b"));
    QTest::newRow("high then letter") << QJsonValue(QString(QChar(0xdbff)) + s("a"));
    QTest::newRow("reversed pair") << QJsonValue(QString(QChar(0xdc00)) + QChar(0xd800));
    QString longText;
    for (int i = 0; i < 700; ++i)
        longText += s("a€😀\n\x01\"");
    QTest::newRow("long string across chunks") << QJsonValue(longText);

    QTest::newRow("zero") << QJsonValue(0);
    QTest::newRow("negative") << QJsonValue(-1);
    QTest::newRow("ms timestamp") << QJsonValue(qint64(1711843200000));
    QTest::newRow("ms timestamp as double") << QJsonValue(1711843200000.0);
    QTest::newRow("int64 max") << QJsonValue(std::numeric_limits<qint64>::max());
    QTest::newRow("int64 min") << QJsonValue(std::numeric_limits<qint64>::min());
    QTest::newRow("0.1") << QJsonValue(0.1);
    QTest::newRow("-2.5") << QJsonValue(-2.5);
    QTest::newRow("1e-7") << QJsonValue(1e-7);
    QTest::newRow("1e15 double") << QJsonValue(1e15);
    QTest::newRow("1e16 double") << QJsonValue(1e16);
    QTest::newRow("2^62 double") << QJsonValue(std::ldexp(1.0, 62));
    QTest::newRow("1e300") << QJsonValue(1e300);
    QTest::newRow("-0.0") << QJsonValue(-0.0);
    QTest::newRow("nan") << QJsonValue(std::numeric_limits<double>::quiet_NaN());
    QTest::newRow("infinity") << QJsonValue(std::numeric_limits<double>::infinity());
    QTest::newRow("true") << QJsonValue(true);
    QTest::newRow("null") << QJsonValue(QJsonValue::Null);
    QTest::newRow("empty array") << QJsonValue(QJsonArray());
    QTest::newRow("empty object") << QJsonValue(QJsonObject());
    QTest::newRow("nested") << QJsonValue(
        parseObject(R"({"z":[1,[2,[]],{"y":null,"x":{}}],"a":-0.5,"m":"é","k\"ey\n":true,"é":2})"));
    QTest::newRow("parsed numbers") << QJsonValue(
        QJsonDocument::fromJson("[1.0,1e3,1.5e300,123456789012345678901234,-7,0.30000000000000004]")
            .array());
}

void tst_Message::encoderMatchesQJsonDocument()
{
    QFETCH(QJsonValue, value);

    Message message = makeMessage(MessageType::Event, Payload::fromJson(value));
    message.metadata.insert(s("v"), value);
    message.refId = value.isString() ? value.toString() : s("r");
    message.channel = value.isString() ? value.toString() : QString();
    QCOMPARE(encodeMessage(message), qtEnvelope(message));

    if (value.isString()) {
        message.payload = Payload::fromText(value.toString());
        message.id = value.toString();
        QCOMPARE(encodeMessage(message), qtEnvelope(message));
    }
}

void tst_Message::decodeErrors_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("id"); // the id recovered for ref_id

    QTest::newRow("empty") << QByteArray() << s("invalid JSON: empty input") << QString();
    QTest::newRow("blank") << QByteArray(" \n") << s("invalid JSON: empty input") << QString();
    QTest::newRow("unterminated string")
        << QByteArray(R"({"id":"abc)") << s("invalid JSON at offset 11: unterminated string")
        << QString();
    QTest::newRow("garbage after object")
        << QByteArray(R"({"id":"a"} x)")
        << s("invalid JSON at offset 11: garbage at the end of the document") << QString();
    QTest::newRow("not json") << QByteArray("hello") << s("invalid JSON at offset 1: illegal value")
                              << QString();
    QTest::newRow("array") << QByteArray(R"([{"id":"a"}])")
                           << s("expected a JSON object, got an array") << QString();
    QTest::newRow("number") << QByteArray("42") << s("expected a JSON object, got a number")
                            << QString();
    QTest::newRow("string") << QByteArray(R"("id")") << s("expected a JSON object, got a string")
                            << QString();
    QTest::newRow("null") << QByteArray("null") << s("expected a JSON object, got null")
                          << QString();
    QTest::newRow("bool") << QByteArray(" true ") << s("expected a JSON object, got a boolean")
                          << QString();

    QTest::newRow("empty object") << QByteArray("{}") << s(R"(missing required field "id")")
                                  << QString();
    QTest::newRow("id number") << QByteArray(R"({"id":5,"type":"ping"})")
                               << s("id: expected a string, got 5") << QString();
    QTest::newRow("id null") << QByteArray(R"({"id":null})") << s("id: expected a string, got null")
                             << QString();
    QTest::newRow("missing type") << QByteArray(R"({"id":"m1"})")
                                  << s(R"(missing required field "type")") << s("m1");
    QTest::newRow("unknown type") << QByteArray(
        R"({"id":"m1","type":"foo","payload":{"kind":"None"},"timestamp":1})")
                                  << s(R"(unknown message type "foo")") << s("m1");
    QTest::newRow("type case") << QByteArray(
        R"({"id":"m1","type":"Publish","payload":{"kind":"None"},"timestamp":1})")
                               << s(R"(unknown message type "Publish")") << s("m1");
    QTest::newRow("long type shortened")
        << QByteArray(R"({"id":"m1","type":"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"})")
        << s(R"(unknown message type "abcdefghijabcdefghijabcdefghijabcdefghij...")") << s("m1");
    QTest::newRow("type number") << QByteArray(R"({"id":"m1","type":3})")
                                 << s("type: expected a string, got 3") << s("m1");
    QTest::newRow("missing payload") << QByteArray(R"({"id":"m1","type":"ping","timestamp":1})")
                                     << s(R"(missing required field "payload")") << s("m1");
    QTest::newRow("payload string")
        << QByteArray(R"({"id":"m1","type":"ping","payload":"x","timestamp":1})")
        << s(R"(payload: expected an object, got "x")") << s("m1");
    QTest::newRow("payload null") << QByteArray(
        R"({"id":"m1","type":"ping","payload":null,"timestamp":1})")
                                  << s("payload: expected an object, got null") << s("m1");
    QTest::newRow("missing kind") << QByteArray(
        R"({"id":"m1","type":"ping","payload":{},"timestamp":1})")
                                  << s(R"(missing required field "payload.kind")") << s("m1");
    QTest::newRow("kind lower case")
        << QByteArray(
               R"({"id":"m1","type":"ping","payload":{"kind":"json","data":1},"timestamp":1})")
        << s(R"(payload.kind: expected one of "None", "Text", "Json", "Binary", got "json")")
        << s("m1");
    QTest::newRow("kind number")
        << QByteArray(R"({"id":"m1","type":"ping","payload":{"kind":1},"timestamp":1})")
        << s(R"(payload.kind: expected one of "None", "Text", "Json", "Binary", got 1)") << s("m1");
    QTest::newRow("text without data")
        << QByteArray(R"({"id":"m1","type":"ping","payload":{"kind":"Text"},"timestamp":1})")
        << s(R"(missing required field "payload.data")") << s("m1");
    QTest::newRow("text number") << QByteArray(
        R"({"id":"m1","type":"ping","payload":{"kind":"Text","data":5},"timestamp":1})")
                                 << s(R"(payload.data: expected a string for kind "Text", got 5)")
                                 << s("m1");
    QTest::newRow("text null") << QByteArray(
        R"({"id":"m1","type":"ping","payload":{"kind":"Text","data":null},"timestamp":1})")
                               << s(R"(payload.data: expected a string for kind "Text", got null)")
                               << s("m1");
    QTest::newRow("json without data")
        << QByteArray(R"({"id":"m1","type":"ping","payload":{"kind":"Json"},"timestamp":1})")
        << s(R"(missing required field "payload.data")") << s("m1");
    QTest::newRow("binary without data")
        << QByteArray(R"({"id":"m1","type":"ping","payload":{"kind":"Binary"},"timestamp":1})")
        << s(R"(missing required field "payload.data")") << s("m1");
    QTest::newRow("binary array")
        << QByteArray(
               R"({"id":"m1","type":"ping","payload":{"kind":"Binary","data":[1]},"timestamp":1})")
        << s(R"(payload.data: expected a base64 string for kind "Binary", got an array)")
        << s("m1");
    QTest::newRow("binary bad base64") << QByteArray(
        R"({"id":"m1","type":"ping","payload":{"kind":"Binary","data":"abc"},"timestamp":1})")
                                       << s("payload.data: invalid base64: length 3 is not a "
                                            "multiple of 4 (padding is required)")
                                       << s("m1");
    QTest::newRow("missing timestamp")
        << QByteArray(R"({"id":"m1","type":"ping","payload":{"kind":"None"}})")
        << s(R"(missing required field "timestamp")") << s("m1");
    QTest::newRow("timestamp string")
        << QByteArray(R"({"id":"m1","type":"ping","payload":{"kind":"None"},"timestamp":"1"})")
        << s(R"(timestamp: expected integer milliseconds, got "1")") << s("m1");
    QTest::newRow("channel number") << envelopeWith("channel", "5")
                                    << s("channel: expected a string or null, got 5") << s("m-1");
    QTest::newRow("ref_id object")
        << envelopeWith("ref_id", "{}") << s("ref_id: expected a string or null, got an object")
        << s("m-1");
    QTest::newRow("metadata null") << envelopeWith("metadata", "null")
                                   << s("metadata: expected an object, got null") << s("m-1");
    QTest::newRow("metadata string") << envelopeWith("metadata", "\"x\"")
                                     << s(R"(metadata: expected an object, got "x")") << s("m-1");
    QTest::newRow("metadata array") << envelopeWith("metadata", "[]")
                                    << s("metadata: expected an object, got an array") << s("m-1");
    QTest::newRow("empty id is still an id")
        << QByteArray(R"({"id":"","type":"ping"})") << s(R"(missing required field "payload")")
        << QString();
}

void tst_Message::decodeErrors()
{
    QFETCH(QByteArray, input);
    QFETCH(QString, error);
    QFETCH(QString, id);

    const auto result = decodeMessage(input);
    QVERIFY2(!result, encodeMessage(result.value_or(Message())).constData());
    QCOMPARE(result.error().message, error);
    QCOMPARE(result.error().id, id);

    const QJsonDocument document = QJsonDocument::fromJson(input);
    if (document.isObject()) {
        const auto fromObject = messageFromJson(document.object());
        QVERIFY(!fromObject);
        QCOMPARE(fromObject.error().message, error);
        QCOMPARE(fromObject.error().id, id);
    }
}

void tst_Message::base64_data()
{
    QTest::addColumn<QString>("data");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("error"); // empty = valid

    QTest::newRow("empty") << QString() << QByteArray() << QString();
    QTest::newRow("one byte") << s("AA==") << QByteArray(1, '\0') << QString();
    QTest::newRow("two bytes") << s("+/8=") << QByteArray("\xfb\xff") << QString();
    QTest::newRow("three bytes") << s("Zm9v") << QByteArray("foo") << QString();
    QTest::newRow("six bytes") << s("Zm9vYmFy") << QByteArray("foobar") << QString();
    QTest::newRow("mixed") << s("AP8BgH8=") << QByteArray("\x00\xff\x01\x80\x7f", 5) << QString();

    QTest::newRow("url-safe") << s("-_8=") << QByteArray()
                              << s("character '-' at offset 0 is not in the standard base64 "
                                   "alphabet (URL-safe base64 is not accepted)");
    QTest::newRow("url-safe underscore") << s("Zm9_") << QByteArray()
                                         << s("character '_' at offset 3 is not in the standard "
                                              "base64 alphabet (URL-safe base64 is not accepted)");
    QTest::newRow("space")
        << s("Zm9 ") << QByteArray()
        << s("character U+0020 at offset 3 is not in the standard base64 alphabet");
    QTest::newRow("newline")
        << s("Zm9v\nYmF") << QByteArray()
        << s("character U+000a at offset 4 is not in the standard base64 alphabet");
    QTest::newRow("non-ascii")
        << s("Zm9é") << QByteArray()
        << s("character U+00e9 at offset 3 is not in the standard base64 alphabet");
    QTest::newRow("missing padding") << s("Zm9vYg") << QByteArray()
                                     << s("length 6 is not a multiple of 4 (padding is required)");
    QTest::newRow("short padding") << s("Zm9vYg=") << QByteArray()
                                   << s("length 7 is not a multiple of 4 (padding is required)");
    QTest::newRow("padding inside")
        << s("Zm=v") << QByteArray() << s("misplaced padding '=' at offset 2");
    QTest::newRow("only padding") << s("====") << QByteArray()
                                  << s("misplaced padding '=' at offset 0");
    QTest::newRow("three pads") << s("A===") << QByteArray()
                                << s("misplaced padding '=' at offset 1");
    QTest::newRow("padding then data")
        << s("AA==AAAA") << QByteArray() << s("misplaced padding '=' at offset 2");
    QTest::newRow("non-canonical ==")
        << s("QR==") << QByteArray() << s("non-zero unused bits before the padding");
    QTest::newRow("non-canonical =")
        << s("QUJ=") << QByteArray() << s("non-zero unused bits before the padding");
    QTest::newRow("canonical ==") << s("QQ==") << QByteArray("A") << QString();
    QTest::newRow("canonical =") << s("QUI=") << QByteArray("AB") << QString();
}

void tst_Message::base64()
{
    QFETCH(QString, data);
    QFETCH(QByteArray, bytes);
    QFETCH(QString, error);

    QJsonObject object = parseObject(R"({"id":"b1","type":"event","timestamp":1})");
    object.insert(s("payload"), QJsonObject{{s("kind"), s("Binary")}, {s("data"), data}});
    const auto result = decodeMessage(QJsonDocument(object).toJson());
    if (error.isEmpty()) {
        QVERIFY2(result, whyNot(result).constData());
        QCOMPARE(result->payload.kind, Payload::Kind::Binary);
        QCOMPARE(result->payload.binary, bytes);
        // Canonical: encoding gives the input back.
        QVERIFY(encodeMessage(*result).contains("\"data\":\"" + data.toLatin1() + '"'));
    } else {
        QVERIFY(!result);
        QCOMPARE(result.error().message, s("payload.data: invalid base64: ") + error);
        QCOMPARE(result.error().id, s("b1"));
    }
}

void tst_Message::timestamp_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<qint64>("expected"); // -1 = rejected

    QTest::newRow("ms") << QByteArray("1711843200000") << qint64(1711843200000);
    QTest::newRow("zero") << QByteArray("0") << qint64(0);
    QTest::newRow("2^53") << QByteArray("9007199254740992") << (qint64(1) << 53);
    // Qt's parser cannot tell 1.0 from 1; the value is an integer, so it is accepted.
    QTest::newRow("1.0") << QByteArray("1.0") << qint64(1);
    QTest::newRow("1e3") << QByteArray("1e3") << qint64(1000);
    QTest::newRow("2^53+1") << QByteArray("9007199254740993") << qint64(-1);
    QTest::newRow("2^60") << QByteArray("1152921504606846976") << qint64(-1);
    QTest::newRow("1.5") << QByteArray("1.5") << qint64(-1);
    QTest::newRow("string") << QByteArray("\"1\"") << qint64(-1);
    QTest::newRow("negative") << QByteArray("-1") << qint64(-1);
    QTest::newRow("null") << QByteArray("null") << qint64(-1);
    QTest::newRow("true") << QByteArray("true") << qint64(-1);
    QTest::newRow("object") << QByteArray("{}") << qint64(-1);
    QTest::newRow("huge") << QByteArray("1e300") << qint64(-1);
}

void tst_Message::timestamp()
{
    QFETCH(QByteArray, json);
    QFETCH(qint64, expected);

    const QByteArray input =
        R"({"id":"t1","type":"ping","payload":{"kind":"None"},"timestamp":)" + json + '}';
    const auto result = decodeMessage(input);
    if (expected >= 0) {
        QVERIFY2(result, whyNot(result).constData());
        QCOMPARE(result->timestamp, expected);
        return;
    }
    QVERIFY(!result);
    const QString shown = json == "{}" ? s("an object")
        : json == "1e300"              ? s("1e+300")
                                       : QString::fromLatin1(json);
    QCOMPARE(result.error().message, s("timestamp: expected integer milliseconds, got ") + shown);
    QCOMPARE(result.error().id, s("t1"));
}

void tst_Message::optionalFields_data()
{
    QTest::addColumn<QByteArray>("fields"); // appended to a valid envelope
    QTest::addColumn<QString>("channel");
    QTest::addColumn<QString>("refId");
    QTest::addColumn<QJsonObject>("metadata");

    QTest::newRow("all absent") << QByteArray() << QString() << QString() << QJsonObject();
    QTest::newRow("null channel and ref_id") << QByteArray(R"(,"channel":null,"ref_id":null)")
                                             << QString() << QString() << QJsonObject();
    QTest::newRow("empty strings")
        << QByteArray(R"(,"channel":"","ref_id":"")") << QString() << QString() << QJsonObject();
    QTest::newRow("empty metadata")
        << QByteArray(R"(,"metadata":{})") << QString() << QString() << QJsonObject();
    QTest::newRow("all present") << QByteArray(
        R"(,"channel":"a.b","ref_id":"r1","metadata":{"token":"t","n":[1]})")
                                 << s("a.b") << s("r1") << parseObject(R"({"token":"t","n":[1]})");
}

void tst_Message::optionalFields()
{
    QFETCH(QByteArray, fields);
    QFETCH(QString, channel);
    QFETCH(QString, refId);
    QFETCH(QJsonObject, metadata);

    const QByteArray input =
        R"({"id":"o1","type":"subscribe","payload":{"kind":"None"},"timestamp":7)" + fields + '}';
    const auto result = decodeMessage(input);
    QVERIFY2(result, whyNot(result).constData());
    QCOMPARE(result->channel, channel);
    QCOMPARE(result->refId, refId);
    QCOMPARE(result->metadata, metadata);

    // Absent fields are omitted on output, never null.
    const QByteArray encoded = encodeMessage(*result);
    QVERIFY(!encoded.contains("null"));
    QCOMPARE(encoded.contains("\"channel\""), !channel.isEmpty());
    QCOMPARE(encoded.contains("\"ref_id\""), !refId.isEmpty());
    QCOMPARE(encoded.contains("\"metadata\""), !metadata.isEmpty());
    QCOMPARE(messageToJson(*result).contains(s("metadata")), !metadata.isEmpty());
}

void tst_Message::unknownKeysIgnored()
{
    const auto result = decodeMessage(
        R"({"extra":{"deep":[1]},"id":"u1","type":"request","payload":{"kind":"Text","data":"x","encoding":"utf8"},"timestamp":3,"version":2})");
    QVERIFY2(result, whyNot(result).constData());
    Message expected;
    expected.id = s("u1");
    expected.type = MessageType::Request;
    expected.payload = Payload::fromText(s("x"));
    expected.timestamp = 3;
    QCOMPARE(*result, expected);
    QCOMPARE(
        encodeMessage(*result),
        QByteArray(
            R"({"id":"u1","type":"request","payload":{"kind":"Text","data":"x"},"timestamp":3})"));
}

void tst_Message::decodeReadsOnlyTheView()
{
    // The input need not be NUL-terminated: only the view's bytes are parsed.
    const QByteArray buffer =
        R"({"id":"v1","type":"ping","payload":{"kind":"None"},"timestamp":1} trailing garbage)";
    const qsizetype end = buffer.indexOf('}', buffer.indexOf("timestamp")) + 1;
    const auto result = decodeMessage(QByteArrayView(buffer).first(end));
    QVERIFY2(result, whyNot(result).constData());
    QCOMPARE(result->id, s("v1"));
    QVERIFY(!decodeMessage(buffer));
}

void tst_Message::create()
{
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    const Message message = Message::create(MessageType::Event, Payload::fromText(s("x")));
    const qint64 after = QDateTime::currentMSecsSinceEpoch();
    QVERIFY(isValidUlid(message.id));
    QCOMPARE(message.type, MessageType::Event);
    QCOMPARE(message.payload, Payload::fromText(s("x")));
    QVERIFY(message.timestamp >= before && message.timestamp <= after);
    QCOMPARE(ulidTimestamp(message.id), message.timestamp);
    QVERIFY(message.channel.isEmpty() && message.refId.isEmpty() && message.metadata.isEmpty());

    const Message next = Message::create(MessageType::Ping);
    QVERIFY(next.id > message.id);
    QCOMPARE(next.payload, Payload::none());
}

void tst_Message::response()
{
    const Message message = Message::response(s("req-1"), QJsonObject{{s("subscribed"), s("a")}});
    QCOMPARE(message.type, MessageType::Response);
    QCOMPARE(message.refId, s("req-1"));
    QCOMPARE(message.payload, Payload::fromJson(QJsonObject{{s("subscribed"), s("a")}}));
    QVERIFY(isValidUlid(message.id));
    QVERIFY(message.timestamp > 0);
}

void tst_Message::error()
{
    const Message message = Message::error(409, s("channel 'c' is full (max: 2)"), s("sub-1"));
    QCOMPARE(message.type, MessageType::Error);
    QCOMPARE(message.refId, s("sub-1"));
    QCOMPARE(message.payload,
             Payload::fromJson(
                 QJsonObject{{s("code"), 409}, {s("message"), s("channel 'c' is full (max: 2)")}}));
    const QByteArray json = encodeMessage(message);
    QVERIFY2(
        json.contains(
            R"json("payload":{"kind":"Json","data":{"code":409,"message":"channel 'c' is full (max: 2)"}})json"),
        json.constData());
    QVERIFY(json.endsWith(R"(,"ref_id":"sub-1"})"));

    const Message anonymous = Message::error(400, s("bad"));
    QVERIFY(anonymous.refId.isEmpty());
    QVERIFY(!encodeMessage(anonymous).contains("ref_id"));
}

void tst_Message::encoderWritesGivenMetadataMembersFirst_data()
{
    QTest::addColumn<QJsonObject>("metadata");
    QTest::newRow("with metadata") << QJsonObject{{u"from"_s, u"c1"_s}, {u"z"_s, 1}};
    QTest::newRow("without metadata") << QJsonObject();
}

// How a publish is stamped with its offset and epoch: the members land in the metadata object,
// the envelope stays valid and decodes to the same message plus the two keys.
void tst_Message::encoderWritesGivenMetadataMembersFirst()
{
    QFETCH(QJsonObject, metadata);
    Message message =
        Message::create(MessageType::Publish,
                        Payload::fromJson(QJsonObject{{u"metadata"_s, QJsonObject{}}}));
    message.channel = u"chat"_s;
    message.metadata = metadata;
    const QByteArray json =
        Mtw::Internal::encodeMessage(message, R"("epoch":"7QJ2M9XK","offset":42)");
    const auto decoded = decodeMessage(json);
    QVERIFY2(decoded.has_value(), json.constData());
    Message expected = message;
    expected.metadata.insert(u"epoch"_s, u"7QJ2M9XK"_s);
    expected.metadata.insert(u"offset"_s, 42);
    QCOMPARE(*decoded, expected);
    QVERIFY(json.contains(R"("metadata":{"epoch":"7QJ2M9XK","offset":42)"));
    // No members: exactly the plain encoding.
    QCOMPARE(Mtw::Internal::encodeMessage(message, {}), encodeMessage(message));
}

QTEST_GUILESS_MAIN(tst_Message)
#include "tst_message.moc"
