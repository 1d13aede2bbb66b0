// SPDX-License-Identifier: MIT
// The key-value store over a real server on loopback (docs/kv.md): compare-and-set races between
// two clients, the watch channel's order, Binary values in text and MTW binary mode, every bad
// input's error, auth buckets, the '$' channels, and expiry through the housekeeping sweep.
#include "protocolclient.h"

#include <mtw/module.h>
#include <mtw/server.h>

#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

// Accepts the token "good" as user "ann".
class TokenAuthenticator : public Mtw::IAuthenticator
{
public:
    void authenticate(const Mtw::AuthRequest &request, Mtw::AuthReply reply) override
    {
        if (request.token() != u"good"_s) {
            reply.reject({401, u"invalid token"_s});
            return;
        }
        Mtw::Identity identity;
        identity.setUserId(u"ann"_s);
        reply.accept(identity);
    }
};

class AuthModule : public Mtw::IModule
{
public:
    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        context.registerAuthenticator(&authenticator);
        return {};
    }
    TokenAuthenticator authenticator;
};

Mtw::ModuleMetadata authMetadata()
{
    Mtw::ModuleMetadata metadata;
    metadata.setId(u"test-kv-auth"_s);
    metadata.setVersion(u"1.0.0"_s);
    return metadata;
}

Mtw::Config kvConfig()
{
    Mtw::Config config = serverConfig();
    config.kv.append(Mtw::KvBucketConfig{.name = u"rooms"_s});
    config.kv.append(Mtw::KvBucketConfig{.name = u"room.*"_s, .maxValueSize = 16, .maxKeys = 2});
    config.kv.append(Mtw::KvBucketConfig{.name = u"secret"_s, .auth = true});
    config.kv.append(Mtw::KvBucketConfig{.name = u"session"_s, .ttl = 1});
    return config;
}

QJsonObject kvRequest(const QString &action, QJsonObject metadata, const QJsonObject &payload = {})
{
    metadata.insert(u"action"_s, action);
    QJsonObject fields{{u"metadata"_s, metadata}};
    if (!payload.isEmpty())
        fields.insert(u"payload"_s, payload);
    return fields;
}

QJsonObject keyIn(const QString &bucket, const QString &key)
{
    return QJsonObject{{u"bucket"_s, bucket}, {u"key"_s, key}};
}

QJsonObject withVersion(QJsonObject metadata, qint64 version)
{
    metadata.insert(u"version"_s, version);
    return metadata;
}

QString typeOf(const MtwClient::Received &received)
{
    return received.json.value(u"type"_s).toString();
}

} // namespace

class tst_Kv : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Mtw::Server> m_server;
    std::shared_ptr<AuthModule> m_auth;
    int m_ids = 0;

    QString nextId() { return u"r%1"_s.arg(++m_ids); }

    std::unique_ptr<MtwClient> openClient(bool binary = false)
    {
        auto client = std::make_unique<MtwClient>(binary);
        if (!client->open(wsUrl(*m_server)))
            return nullptr;
        return client;
    }

    // Sends a kv request and returns its reply (response or error).
    MtwClient::Received call(MtwClient &client,
                             const QString &action,
                             const QJsonObject &metadata,
                             const QJsonObject &payload = {})
    {
        const QString id = nextId();
        return client.call(u"request"_s, id, kvRequest(action, metadata, payload))
            .value_or(MtwClient::Received{});
    }

    QJsonObject put(MtwClient &client, const QString &bucket, const QString &key, int value)
    {
        const auto reply = call(client,
                                u"kv.put"_s,
                                keyIn(bucket, key),
                                jsonPayload(QJsonObject{{u"n"_s, value}}));
        return reply.json;
    }

private Q_SLOTS:
    void init();
    void cleanup();
    void putGetDeleteAnswers();
    void compareAndSetRace();
    void watcherSeesEveryChangeInOrder();
    void binaryValuesRoundTrip();
    void badInputs_data();
    void badInputs();
    void authBucketRefusesAnonymous();
    void reservedChannels();
    void listAndBatchAnswers();
    void expiryReachesWatchers();
};

void tst_Kv::init()
{
    m_server = std::make_unique<Mtw::Server>(kvConfig());
    m_auth = std::make_shared<AuthModule>();
    m_server->addModule(m_auth, authMetadata());
    QVERIFY(m_server->start());
}

void tst_Kv::cleanup()
{
    m_server.reset();
    m_auth.reset();
}

void tst_Kv::putGetDeleteAnswers()
{
    auto client = openClient();
    QVERIFY(client);
    const QJsonObject created = put(*client, u"rooms"_s, u"lobby"_s, 1);
    QCOMPARE(created.value(u"type"_s).toString(), u"response"_s);
    QVERIFY(!created.contains(u"channel"_s));
    QCOMPARE(
        payloadOf(created),
        jsonPayload(
            QJsonObject{{u"bucket"_s, u"rooms"_s}, {u"key"_s, u"lobby"_s}, {u"version"_s, 1}}));
    QCOMPARE(metadataOf(created),
             (QJsonObject{{u"bucket"_s, u"rooms"_s}, {u"key"_s, u"lobby"_s}, {u"version"_s, 1}}));

    auto got = call(*client, u"kv.get"_s, keyIn(u"rooms"_s, u"lobby"_s));
    QCOMPARE(dataOf(got.json).toObject(),
             (QJsonObject{{u"bucket"_s, u"rooms"_s},
                          {u"key"_s, u"lobby"_s},
                          {u"version"_s, 1},
                          {u"kind"_s, u"Json"_s},
                          {u"value"_s, QJsonObject{{u"n"_s, 1}}}}));
    QCOMPARE(metadataOf(got.json).value(u"version"_s).toInteger(), 1);

    const auto text = call(*client,
                           u"kv.put"_s,
                           keyIn(u"rooms"_s, u"topic"_s),
                           QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"hello"_s}});
    QCOMPARE(metadataOf(text.json).value(u"version"_s).toInteger(), 2);
    got = call(*client, u"kv.get"_s, keyIn(u"rooms"_s, u"topic"_s));
    QCOMPARE(dataOf(got.json).toObject().value(u"kind"_s).toString(), u"Text"_s);
    QCOMPARE(dataOf(got.json).toObject().value(u"value"_s).toString(), u"hello"_s);

    const auto deleted = call(*client, u"kv.delete"_s, keyIn(u"rooms"_s, u"lobby"_s));
    QCOMPARE(dataOf(deleted.json).toObject(),
             (QJsonObject{{u"bucket"_s, u"rooms"_s},
                          {u"key"_s, u"lobby"_s},
                          {u"version"_s, 3},
                          {u"deleted"_s, true}}));
    const auto missing = call(*client, u"kv.get"_s, keyIn(u"rooms"_s, u"lobby"_s));
    QCOMPARE(payloadOf(missing.json),
             errorPayload(404, u"key 'lobby' not found in bucket 'rooms'"_s));
    // Versions are never reused: the key comes back with the bucket's next revision.
    QCOMPARE(metadataOf(put(*client, u"rooms"_s, u"lobby"_s, 2)).value(u"version"_s).toInteger(),
             4);
}

// Two clients on different workers race compare-and-set on one key: each round exactly one wins,
// the other gets a 409 that settles its request.
void tst_Kv::compareAndSetRace()
{
    auto a = openClient();
    auto b = openClient();
    QVERIFY(a && b);
    qint64 version =
        metadataOf(put(*a, u"rooms"_s, u"counter"_s, 0)).value(u"version"_s).toInteger();
    QCOMPARE(version, 1);
    for (int round = 1; round <= 20; ++round) {
        const QJsonObject metadata = withVersion(keyIn(u"rooms"_s, u"counter"_s), version);
        const QString idA = nextId();
        const QString idB = nextId();
        const QJsonObject payload = jsonPayload(QJsonObject{{u"n"_s, round}});
        a->send(u"request"_s, idA, kvRequest(u"kv.put"_s, metadata, payload));
        b->send(u"request"_s, idB, kvRequest(u"kv.put"_s, metadata, payload));
        const auto replyA = a->waitReply(idA);
        const auto replyB = b->waitReply(idB);
        QVERIFY(replyA && replyB);
        const bool aWon = typeOf(*replyA) == u"response"_s;
        const bool bWon = typeOf(*replyB) == u"response"_s;
        QVERIFY2(aWon != bWon, qPrintable(u"round %1"_s.arg(round)));
        const MtwClient::Received &winner = aWon ? *replyA : *replyB;
        const MtwClient::Received &loser = aWon ? *replyB : *replyA;
        QCOMPARE(typeOf(loser), u"error"_s);
        QCOMPARE(dataOf(loser.json)[u"code"_s].toInt(), 409);
        const qint64 next = metadataOf(winner.json).value(u"version"_s).toInteger();
        QVERIFY(next > version);
        QCOMPARE(dataOf(loser.json)[u"message"_s].toString(),
                 u"version conflict on key 'counter': expected version %1, current version %2"_s
                     .arg(version)
                     .arg(next));
        version = next;
    }
    const auto final = call(*a, u"kv.get"_s, keyIn(u"rooms"_s, u"counter"_s));
    QCOMPARE(dataOf(final.json).toObject().value(u"version"_s).toInteger(), version);
}

void tst_Kv::watcherSeesEveryChangeInOrder()
{
    auto watcher = openClient();
    auto a = openClient();
    auto b = openClient();
    QVERIFY(watcher && a && b);
    const auto subscribed =
        watcher->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$kv.rooms"_s}});
    QVERIFY(subscribed);
    QCOMPARE(dataOf(subscribed->json).toObject().value(u"subscribed"_s).toString(), u"$kv.rooms"_s);

    // Both writers fire without waiting, so their changes interleave across two workers.
    constexpr int PerWriter = 30;
    QList<QPair<MtwClient *, QString>> pending;
    for (int i = 0; i < PerWriter; ++i) {
        for (MtwClient *writer : {a.get(), b.get()}) {
            const QString id = nextId();
            pending.append({writer, id});
            writer->send(u"request"_s,
                         id,
                         kvRequest(u"kv.put"_s,
                                   keyIn(u"rooms"_s, u"k%1"_s.arg(i % 5)),
                                   jsonPayload(QJsonObject{{u"n"_s, i}})));
        }
    }
    // Every put is answered before the delete, so that the delete is the last change.
    for (const auto &[writer, id] : std::as_const(pending)) {
        const auto reply = writer->waitReply(id);
        QVERIFY(reply);
        QCOMPARE(typeOf(*reply), u"response"_s);
    }
    QVERIFY(call(*a, u"kv.delete"_s, keyIn(u"rooms"_s, u"k0"_s)).json.value(u"type"_s)
            == u"response"_s);
    const int changes = 2 * PerWriter + 1;
    QTRY_COMPARE_WITH_TIMEOUT(watcher->ofType(u"publish"_s, u"$kv.rooms"_s).size(), changes, 10000);
    const auto events = watcher->ofType(u"publish"_s, u"$kv.rooms"_s);
    QSet<QString> writers;
    for (int i = 0; i < events.size(); ++i) {
        const QJsonObject metadata = metadataOf(events.at(i).json);
        QCOMPARE(metadata.value(u"version"_s).toInteger(), i + 1); // strictly increasing, no gap
        QCOMPARE(metadata.value(u"bucket"_s).toString(), u"rooms"_s);
        writers.insert(metadata.value(u"from"_s).toString());
        const QJsonObject data = dataOf(events.at(i).json).toObject();
        QCOMPARE(data.value(u"version"_s), metadata.value(u"version"_s));
        QCOMPARE(data.value(u"key"_s), metadata.value(u"key"_s));
    }
    QCOMPARE(writers, (QSet<QString>{a->connId, b->connId}));
    const QJsonObject last = metadataOf(events.constLast().json);
    QCOMPARE(last.value(u"op"_s).toString(), u"delete"_s);
    QCOMPARE(dataOf(events.constLast().json).toObject().value(u"deleted"_s).toBool(), true);
    QCOMPARE(metadataOf(events.constFirst().json).value(u"op"_s).toString(), u"put"_s);
    // The watch channel keeps history like any channel.
    const auto history = watcher->call(u"request"_s,
                                       nextId(),
                                       {{u"channel"_s, u"$kv.rooms"_s},
                                        {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}}}});
    QCOMPARE(dataOf(history->json).toObject().value(u"messages"_s).toArray().size(), 50);
}

void tst_Kv::binaryValuesRoundTrip()
{
    const QByteArray bytes("\x00\x01\xfe\xffMTW\n", 8);
    const QJsonObject binaryPayload{{u"kind"_s, u"Binary"_s},
                                    {u"data"_s, QString::fromLatin1(bytes.toBase64())}};
    auto text = openClient();
    auto binary = openClient(true);
    QVERIFY(text && binary);
    const auto watched = binary->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$kv.rooms"_s}});
    QVERIFY(watched && watched->binary);

    const auto stored = call(*text, u"kv.put"_s, keyIn(u"rooms"_s, u"blob"_s), binaryPayload);
    QCOMPARE(typeOf(stored), u"response"_s);

    // Text mode: the response's payload is the Binary value; the fields are in metadata.
    const auto got = call(*text, u"kv.get"_s, keyIn(u"rooms"_s, u"blob"_s));
    QVERIFY(!got.binary);
    QCOMPARE(payloadOf(got.json), binaryPayload);
    QCOMPARE(metadataOf(got.json),
             (QJsonObject{{u"bucket"_s, u"rooms"_s}, {u"key"_s, u"blob"_s}, {u"version"_s, 1}}));

    // Binary mode: the same answer in an MTW 0x01 frame.
    const auto framed = call(*binary, u"kv.get"_s, keyIn(u"rooms"_s, u"blob"_s));
    QVERIFY(framed.binary);
    QCOMPARE(framed.frameType, int(Mtw::FrameType::Json));
    const auto decoded = Mtw::decodeMessage(framed.framePayload);
    QVERIFY(decoded);
    QCOMPARE(decoded->payload, Mtw::Payload::fromBinary(bytes));
    QCOMPARE(decoded->refId, framed.json.value(u"ref_id"_s).toString());

    // The watcher in binary mode got the change as a frame with the same payload.
    QTRY_COMPARE_WITH_TIMEOUT(binary->ofType(u"publish"_s, u"$kv.rooms"_s).size(), 1, 10000);
    const auto event = binary->ofType(u"publish"_s, u"$kv.rooms"_s).constFirst();
    QVERIFY(event.binary);
    QCOMPARE(payloadOf(event.json), binaryPayload);
    QCOMPARE(metadataOf(event.json).value(u"from"_s).toString(), text->connId);

    // A binary-mode client can store one too.
    const auto fromBinary =
        call(*binary, u"kv.put"_s, keyIn(u"rooms"_s, u"blob2"_s), binaryPayload);
    QCOMPARE(typeOf(fromBinary), u"response"_s);
    QCOMPARE(payloadOf(call(*text, u"kv.get"_s, keyIn(u"rooms"_s, u"blob2"_s)).json),
             binaryPayload);
    QCOMPARE(text->invalidMessages(), QStringList());
    QCOMPARE(binary->invalidMessages(), QStringList());
}

void tst_Kv::badInputs_data()
{
    QTest::addColumn<QString>("action");
    QTest::addColumn<QJsonObject>("metadata");
    QTest::addColumn<QJsonObject>("payload");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    const QJsonObject value = jsonPayload(1);
    const auto row = [](const char *name,
                        const QString &action,
                        const QJsonObject &metadata,
                        const QJsonObject &payload,
                        int code,
                        const QString &message) {
        QTest::newRow(name) << action << metadata << payload << code << message;
    };
    const QJsonObject k = keyIn(u"rooms"_s, u"k"_s);
    row("no bucket",
        u"kv.get"_s,
        {{u"key"_s, u"k"_s}},
        {},
        400,
        u"metadata.bucket: expected a non-empty string"_s);
    row("bucket not a string",
        u"kv.put"_s,
        {{u"bucket"_s, 3}, {u"key"_s, u"k"_s}},
        value,
        400,
        u"metadata.bucket: expected a non-empty string"_s);
    row("unknown bucket",
        u"kv.get"_s,
        keyIn(u"nope"_s, u"k"_s),
        {},
        404,
        u"bucket 'nope' is not configured"_s);
    row("pattern miss",
        u"kv.put"_s,
        keyIn(u"room.a.b"_s, u"k"_s),
        value,
        404,
        u"bucket 'room.a.b' is not configured"_s);
    row("no key",
        u"kv.get"_s,
        {{u"bucket"_s, u"rooms"_s}},
        {},
        400,
        u"metadata.key: expected a non-empty string"_s);
    row("empty key",
        u"kv.put"_s,
        keyIn(u"rooms"_s, QString()),
        value,
        400,
        u"metadata.key: expected a non-empty string"_s);
    row("long key",
        u"kv.put"_s,
        keyIn(u"rooms"_s, QString(1025, u'x')),
        value,
        400,
        u"metadata.key: at most 1024 characters, got 1025"_s);
    row("control key",
        u"kv.delete"_s,
        keyIn(u"rooms"_s, u"a\tb"_s),
        {},
        400,
        u"metadata.key: control character U+0009 at position 1"_s);
    row("missing key", u"kv.delete"_s, k, {}, 404, u"key 'k' not found in bucket 'rooms'"_s);
    row("bad version",
        u"kv.put"_s,
        withVersion(k, -1),
        value,
        400,
        u"metadata.version: expected an integer from 0 to 9007199254740992"_s);
    row("fraction version",
        u"kv.delete"_s,
        {{u"bucket"_s, u"rooms"_s}, {u"key"_s, u"k"_s}, {u"version"_s, 1.5}},
        {},
        400,
        u"metadata.version: expected an integer from 0 to 9007199254740992"_s);
    row("bad ttl",
        u"kv.put"_s,
        {{u"bucket"_s, u"rooms"_s}, {u"key"_s, u"k"_s}, {u"ttl"_s, u"1"_s}},
        value,
        400,
        u"metadata.ttl: expected an integer from 0 to 31536000"_s);
    row("no value", u"kv.put"_s, k, {}, 400, u"payload: expected a Json, Text or Binary value"_s);
    row("conflict",
        u"kv.put"_s,
        withVersion(k, 5),
        value,
        409,
        u"version conflict on key 'k': expected version 5, the key is absent"_s);
    row("too large",
        u"kv.put"_s,
        keyIn(u"room.1"_s, u"k"_s),
        jsonPayload(u"0123456789abcdef"_s),
        413,
        u"value of 18 bytes is larger than bucket 'room.1' allows (max_value_size: 16 bytes)"_s);
    row("list limit",
        u"kv.list"_s,
        {{u"bucket"_s, u"rooms"_s}, {u"limit"_s, 0}},
        {},
        400,
        u"metadata.limit: expected a positive integer"_s);
    row("list prefix",
        u"kv.list"_s,
        {{u"bucket"_s, u"rooms"_s}, {u"prefix"_s, 1}},
        {},
        400,
        u"metadata.prefix: expected a string"_s);
    row("batch not array",
        u"kv.batch"_s,
        {{u"bucket"_s, u"rooms"_s}},
        jsonPayload(QJsonObject{}),
        400,
        u"payload: expected a Json array of 1 to 100 operations"_s);
    const QJsonArray badOp{QJsonObject{{u"op"_s, u"put"_s}, {u"key"_s, u"a"_s}, {u"value"_s, 1}},
                           QJsonObject{{u"op"_s, u"delete"_s}, {u"key"_s, u"b"_s}},
                           QJsonObject{{u"op"_s, u"merge"_s}, {u"key"_s, u"c"_s}}};
    row("batch op",
        u"kv.batch"_s,
        {{u"bucket"_s, u"rooms"_s}},
        jsonPayload(badOp),
        400,
        u"payload[2].op: expected 'put' or 'delete'"_s);
    row("batch key",
        u"kv.batch"_s,
        {{u"bucket"_s, u"rooms"_s}},
        jsonPayload(QJsonArray{QJsonObject{{u"op"_s, u"delete"_s}, {u"key"_s, 7}}}),
        400,
        u"payload[0].key: expected a non-empty string"_s);
    row("batch value",
        u"kv.batch"_s,
        {{u"bucket"_s, u"rooms"_s}},
        jsonPayload(QJsonArray{QJsonObject{{u"op"_s, u"put"_s}, {u"key"_s, u"a"_s}}}),
        400,
        u"payload[0].value: expected a JSON value"_s);
    row("batch missing",
        u"kv.batch"_s,
        {{u"bucket"_s, u"rooms"_s}},
        jsonPayload(QJsonArray{badOp.at(0), badOp.at(1)}),
        404,
        u"payload[1]: key 'b' not found in bucket 'rooms'"_s);
    row("auth bucket",
        u"kv.get"_s,
        keyIn(u"secret"_s, u"k"_s),
        {},
        401,
        u"bucket 'secret' requires authentication"_s);
}

void tst_Kv::badInputs()
{
    QFETCH(QString, action);
    QFETCH(QJsonObject, metadata);
    QFETCH(QJsonObject, payload);
    QFETCH(int, code);
    QFETCH(QString, message);
    auto client = openClient();
    QVERIFY(client);
    const auto reply = call(*client, action, metadata, payload);
    QCOMPARE(typeOf(reply), u"error"_s);
    QVERIFY(!reply.json.value(u"ref_id"_s).toString().isEmpty());
    QCOMPARE(payloadOf(reply.json), errorPayload(code, message));
    // The connection serves on, and a refused batch changed nothing.
    const auto list = call(*client, u"kv.list"_s, {{u"bucket"_s, u"rooms"_s}});
    QCOMPARE(typeOf(list), u"response"_s);
    QCOMPARE(dataOf(list.json).toObject().value(u"keys"_s).toArray(), QJsonArray());
    QVERIFY(!client->closed);
}

void tst_Kv::authBucketRefusesAnonymous()
{
    auto anonymous = openClient();
    auto user = openClient();
    QVERIFY(anonymous && user);
    const auto connected =
        user->call(u"connect"_s, nextId(), {{u"metadata"_s, QJsonObject{{u"token"_s, u"good"_s}}}});
    QVERIFY(connected);
    QCOMPARE(typeOf(*connected), u"ack"_s);

    for (const QString &action :
         {u"kv.get"_s, u"kv.put"_s, u"kv.delete"_s, u"kv.list"_s, u"kv.batch"_s}) {
        const auto refused = call(*anonymous, action, keyIn(u"secret"_s, u"k"_s), jsonPayload(1));
        QCOMPARE(payloadOf(refused.json),
                 errorPayload(401, u"bucket 'secret' requires authentication"_s));
    }
    const auto watch = anonymous->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$kv.secret"_s}});
    QCOMPARE(payloadOf(watch->json),
             errorPayload(401, u"channel '$kv.secret' requires authentication"_s));

    const auto watched = user->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$kv.secret"_s}});
    QCOMPARE(typeOf(*watched), u"response"_s);
    QCOMPARE(typeOf(call(*user, u"kv.put"_s, keyIn(u"secret"_s, u"k"_s), jsonPayload(1))),
             u"response"_s);
    QTRY_COMPARE_WITH_TIMEOUT(user->ofType(u"publish"_s, u"$kv.secret"_s).size(), 1, 10000);
    QCOMPARE(anonymous->ofType(u"publish"_s).size(), 0);
}

void tst_Kv::reservedChannels()
{
    auto client = openClient();
    QVERIFY(client);
    const QString serverOnly = u"channels starting with '$' are written by the server"_s;
    for (const QString &channel : {u"$kv.rooms"_s, u"$kv.x"_s, u"$other"_s}) {
        const auto published =
            client->call(u"publish"_s,
                         nextId(),
                         {{u"channel"_s, channel}, {u"payload"_s, jsonPayload(1)}});
        QCOMPARE(payloadOf(published->json), errorPayload(403, serverOnly));
        QVERIFY(!published->json.value(u"ref_id"_s).toString().isEmpty());
    }
    const auto unknown = client->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$kv.x"_s}});
    QCOMPARE(payloadOf(unknown->json), errorPayload(404, u"bucket 'x' is not configured"_s));
    const auto other = client->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$other"_s}});
    QCOMPARE(payloadOf(other->json),
             errorPayload(400,
                          u"channel '$other': names starting with '$' are reserved; "
                          "'$kv.<bucket>' watches a key-value bucket"_s));
    const auto pattern = client->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$kv.room.7"_s}});
    QCOMPARE(typeOf(*pattern), u"response"_s);
}

void tst_Kv::listAndBatchAnswers()
{
    auto client = openClient();
    QVERIFY(client);
    QJsonArray operations;
    for (const QString &key : {u"a1"_s, u"a2"_s, u"a3"_s, u"b1"_s})
        operations.append(QJsonObject{{u"op"_s, u"put"_s}, {u"key"_s, key}, {u"value"_s, key}});
    operations.append(QJsonObject{{u"op"_s, u"delete"_s}, {u"key"_s, u"a2"_s}, {u"version"_s, 2}});
    const auto batch =
        call(*client, u"kv.batch"_s, {{u"bucket"_s, u"rooms"_s}}, jsonPayload(operations));
    QCOMPARE(typeOf(batch), u"response"_s);
    const QJsonObject data = dataOf(batch.json).toObject();
    QCOMPARE(data.value(u"version"_s).toInteger(), 5);
    QCOMPARE(data.value(u"results"_s).toArray().size(), 5);
    QCOMPARE(data.value(u"results"_s).toArray().at(4).toObject(),
             (QJsonObject{{u"op"_s, u"delete"_s}, {u"key"_s, u"a2"_s}, {u"version"_s, 5}}));
    QCOMPARE(metadataOf(batch.json), (QJsonObject{{u"bucket"_s, u"rooms"_s}, {u"version"_s, 5}}));

    auto page = call(*client,
                     u"kv.list"_s,
                     {{u"bucket"_s, u"rooms"_s}, {u"prefix"_s, u"a"_s}, {u"limit"_s, 1}});
    QCOMPARE(
        dataOf(page.json).toObject(),
        (QJsonObject{{u"bucket"_s, u"rooms"_s},
                     {u"version"_s, 5},
                     {u"keys"_s, QJsonArray{QJsonObject{{u"key"_s, u"a1"_s}, {u"version"_s, 1}}}},
                     {u"next"_s, u"a1"_s}}));
    page = call(*client,
                u"kv.list"_s,
                {{u"bucket"_s, u"rooms"_s}, {u"prefix"_s, u"a"_s}, {u"after"_s, u"a1"_s}});
    QCOMPARE(dataOf(page.json).toObject().value(u"keys"_s).toArray(),
             (QJsonArray{QJsonObject{{u"key"_s, u"a3"_s}, {u"version"_s, 3}}}));
    QVERIFY(!dataOf(page.json).toObject().contains(u"next"_s));
}

// The housekeeping sweep expires entries nobody reads, as changes watchers see.
void tst_Kv::expiryReachesWatchers()
{
    auto watcher = openClient();
    QVERIFY(watcher);
    QVERIFY(watcher->call(u"subscribe"_s, nextId(), {{u"channel"_s, u"$kv.session"_s}}));
    const auto stored = call(*watcher, u"kv.put"_s, keyIn(u"session"_s, u"tmp"_s), jsonPayload(1));
    QVERIFY(metadataOf(stored.json).value(u"expires_at"_s).toInteger() > 0);
    // The server publishes the change, not the connection: the writer, watching, sees its own
    // put, then the expiry.
    QTRY_COMPARE_WITH_TIMEOUT(watcher->ofType(u"publish"_s, u"$kv.session"_s).size(), 2, 15000);
    const auto expired = watcher->ofType(u"publish"_s, u"$kv.session"_s).constLast();
    QCOMPARE(metadataOf(expired.json).value(u"op"_s).toString(), u"expire"_s);
    QCOMPARE(metadataOf(expired.json).value(u"from"_s).toString(), u"server"_s);
    QCOMPARE(metadataOf(expired.json).value(u"version"_s).toInteger(), 2);
    QCOMPARE(payloadOf(call(*watcher, u"kv.get"_s, keyIn(u"session"_s, u"tmp"_s)).json),
             errorPayload(404, u"key 'tmp' not found in bucket 'session'"_s));
}

QTEST_MAIN(tst_Kv)
#include "tst_kv.moc"
