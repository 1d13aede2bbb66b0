// SPDX-License-Identifier: MIT
// The conversation of PROTOCOL.md §3 over real sockets against an in-process Mtw::Server with
// two workers: every row in text mode and the main ones in MTW binary mode (the first 0x01 frame
// switches a connection to binary replies). Framing and bad input: tst_protocol_errors.cpp.
#include "protocolclient.h"

#include <mtw/ulid.h>

#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

void addModeColumn()
{
    QTest::addColumn<bool>("binary");
    QTest::newRow("text") << false;
    QTest::newRow("binary") << true;
}

} // namespace

class tst_Protocol : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Mtw::Server> m_server;

    // Starts the server of the current test (stopped in cleanup()).
    bool startServer(const Mtw::Config &config = serverConfig())
    {
        m_server = std::make_unique<Mtw::Server>(config);
        return bool(m_server->start());
    }

    QUrl url() const { return wsUrl(*m_server); }

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    // -- §3 (opens the socket), connect, ping ---------------------------------------------------

    void openingAckIsTextEvenForBinaryClients()
    {
        QVERIFY(startServer());
        MtwClient client(true);
        const qint64 beforeOpen = QDateTime::currentMSecsSinceEpoch();
        QVERIFY(client.open(url()));
        QTRY_COMPARE(client.log.size(), 1);
        const qint64 afterAck = QDateTime::currentMSecsSinceEpoch();
        const MtwClient::Received ack = client.log.constFirst();
        QVERIFY(!ack.binary);
        QCOMPARE(ack.invalid, QString());
        QCOMPARE(ack.json.value(u"type"_s).toString(), u"ack"_s);
        QVERIFY(Mtw::isValidUlid(ack.json.value(u"id"_s).toString()));
        QVERIFY(Mtw::isValidUlid(client.connId));
        QCOMPARE(payloadOf(ack.json), jsonPayload(QJsonObject{{u"conn_id"_s, client.connId}}));
        QCOMPARE(metadataOf(ack.json), QJsonObject({{u"conn_id"_s, client.connId}}));
        QVERIFY(!ack.json.contains(u"ref_id"_s));
        QVERIFY(!ack.json.contains(u"channel"_s));
        // Stamped by the server when it made the ack: after we connected, before we had it.
        const qint64 timestamp = ack.json.value(u"timestamp"_s).toInteger(-1);
        QVERIFY2(timestamp >= beforeOpen && timestamp <= afterAck,
                 qPrintable(u"%1 not in [%2, %3]"_s.arg(timestamp).arg(beforeOpen).arg(afterAck)));

        // The first 0x01 frame switches the connection to binary: the reply is binary.
        const auto reply = client.call(u"ping"_s, u"p1"_s, {});
        QVERIFY(reply);
        QVERIFY(reply->binary);
        QCOMPARE(reply->frameType, int(Mtw::FrameType::Json));

        // From then on every reply is binary, even to a text message.
        client.binaryMode = false;
        const auto textReply = client.call(u"ping"_s, u"p2"_s, {});
        QVERIFY(textReply);
        QVERIFY(textReply->binary);
        QCOMPARE(textReply->json.value(u"type"_s).toString(), u"pong"_s);
    }

    void connectAck_data() { addModeColumn(); }
    void connectAck()
    {
        QFETCH(bool, binary);
        QVERIFY(startServer());
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        const auto ack = client.call(
            u"connect"_s,
            u"c-1"_s,
            {{u"metadata"_s, QJsonObject{{u"token"_s, u"t"_s}, {u"api_key"_s, u"k"_s}}}});
        QVERIFY(ack);
        QCOMPARE(ack->binary, binary);
        QCOMPARE(ack->invalid, QString());
        QCOMPARE(ack->json.value(u"type"_s).toString(), u"ack"_s);
        QCOMPARE(ack->json.value(u"ref_id"_s).toString(), u"c-1"_s);
        QVERIFY(Mtw::isValidUlid(ack->json.value(u"id"_s).toString()));
        QCOMPARE(payloadOf(ack->json), jsonPayload(QJsonObject{{u"conn_id"_s, client.connId}}));
        QCOMPARE(metadataOf(ack->json), QJsonObject({{u"conn_id"_s, client.connId}}));
        QCOMPARE(client.log.size(), 2);
    }

    void pingPong_data() { addModeColumn(); }
    void pingPong()
    {
        QFETCH(bool, binary);
        QVERIFY(startServer());
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        const auto pong =
            client.call(u"ping"_s,
                        u"ping-7"_s,
                        {{u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"x"_s}}}});
        QVERIFY(pong);
        QCOMPARE(pong->binary, binary);
        QCOMPARE(pong->invalid, QString());
        QCOMPARE(pong->json.value(u"type"_s).toString(), u"pong"_s);
        QCOMPARE(pong->json.value(u"ref_id"_s).toString(), u"ping-7"_s);
        QCOMPARE(payloadOf(pong->json), nonePayload());
        QVERIFY(!pong->json.contains(u"metadata"_s));
        QVERIFY(pong->json.value(u"timestamp"_s).isDouble());
    }

    // -- subscribe / unsubscribe ----------------------------------------------------------------

    void subscribeResponse_data() { addModeColumn(); }
    void subscribeResponse()
    {
        QFETCH(bool, binary);
        QVERIFY(startServer());
        MtwClient first(binary), second(binary);
        QVERIFY(first.open(url()));
        QVERIFY(second.open(url()));

        auto reply = first.call(u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"chat.general"_s}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(positionlessData(reply->json),
                 (QJsonObject{{u"subscribed"_s, u"chat.general"_s}, {u"members"_s, 1}}));

        reply = second.call(u"subscribe"_s, u"s2"_s, {{u"channel"_s, u"chat.general"_s}});
        QVERIFY(reply);
        QCOMPARE(positionlessData(reply->json),
                 QJsonObject({{u"subscribed"_s, u"chat.general"_s}, {u"members"_s, 2}}));

        // Subscribing again is idempotent.
        reply = second.call(u"subscribe"_s, u"s3"_s, {{u"channel"_s, u"chat.general"_s}});
        QVERIFY(reply);
        QCOMPARE(positionlessData(reply->json),
                 QJsonObject({{u"subscribed"_s, u"chat.general"_s}, {u"members"_s, 2}}));
        QCOMPARE(first.invalidMessages(), QStringList());
    }

    void subscribeWithoutChannel()
    {
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        const auto reply = client.call(u"subscribe"_s, u"s1"_s, {});
        QVERIFY(reply);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(reply->json), errorPayload(400, u"subscribe needs a channel"_s));
    }

    void subscribeHistoryReplay_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<int>("requested");
        QTest::addColumn<int>("expected");
        QTest::newRow("text, 2 of 3") << false << 2 << 2;
        QTest::newRow("text, 10 of 3") << false << 10 << 3;
        QTest::newRow("text, 0") << false << 0 << 0;
        QTest::newRow("binary, 2 of 3") << true << 2 << 2;
        QTest::newRow("binary, 10 of 3") << true << 10 << 3;
    }

    void subscribeHistoryReplay()
    {
        QFETCH(bool, binary);
        QFETCH(int, requested);
        QFETCH(int, expected);
        QVERIFY(startServer());
        MtwClient publisher, receiver, late(binary);
        QVERIFY(publisher.open(url()));
        QVERIFY(receiver.open(url()));
        QVERIFY(late.open(url()));
        QVERIFY(receiver.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"news"_s}}));
        for (int i = 0; i < 3; ++i) {
            QVERIFY(publisher.call(u"publish"_s,
                                   u"pub-%1"_s.arg(i),
                                   {{u"channel"_s, u"news"_s},
                                    {u"payload"_s, jsonPayload(QJsonObject{{u"n"_s, i}})}}));
        }
        QTRY_COMPARE(receiver.ofType(u"publish"_s).size(), 3);

        const auto reply = late.call(
            u"subscribe"_s,
            u"late"_s,
            {{u"channel"_s, u"news"_s}, {u"metadata"_s, QJsonObject{{u"history"_s, requested}}}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        const QJsonObject data = dataOf(reply->json).toObject();
        QCOMPARE(data.value(u"subscribed"_s).toString(), u"news"_s);
        QCOMPARE(data.value(u"members"_s).toInt(), 2);
        QVERIFY(data.value(u"history"_s).isArray());
        // Full envelopes, oldest first, exactly as the live subscriber got them.
        QJsonArray expectedHistory;
        const QList<MtwClient::Received> live = receiver.ofType(u"publish"_s);
        for (int i = 3 - expected; i < 3; ++i)
            expectedHistory.append(live.at(i).json);
        QCOMPARE(data.value(u"history"_s).toArray(), expectedHistory);
        for (const QJsonValue &entry : expectedHistory) {
            QCOMPARE(metadataOf(entry.toObject()).value(u"from"_s).toString(), publisher.connId);
            QCOMPARE(entry.toObject().value(u"type"_s).toString(), u"publish"_s);
        }
    }

    void subscribeHistoryInvalid()
    {
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        const auto reply = client.call(
            u"subscribe"_s,
            u"s1"_s,
            {{u"channel"_s, u"news"_s}, {u"metadata"_s, QJsonObject{{u"history"_s, -1}}}});
        QVERIFY(reply);
        QCOMPARE(payloadOf(reply->json),
                 errorPayload(400, u"metadata.history: expected a non-negative integer"_s));
    }

    void unsubscribe_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<bool>("subscribedFirst");
        QTest::newRow("text, subscribed") << false << true;
        QTest::newRow("text, not subscribed") << false << false;
        QTest::newRow("binary, subscribed") << true << true;
        QTest::newRow("binary, not subscribed") << true << false;
    }

    void unsubscribe()
    {
        QFETCH(bool, binary);
        QFETCH(bool, subscribedFirst);
        QVERIFY(startServer());
        MtwClient client(binary), publisher;
        QVERIFY(client.open(url()));
        QVERIFY(publisher.open(url()));
        QVERIFY(publisher.call(u"subscribe"_s, u"ps"_s, {{u"channel"_s, u"room"_s}}));
        if (subscribedFirst)
            QVERIFY(client.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"room"_s}}));

        const auto reply = client.call(u"unsubscribe"_s, u"u1"_s, {{u"channel"_s, u"room"_s}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(payloadOf(reply->json), jsonPayload(QJsonObject{{u"unsubscribed"_s, u"room"_s}}));

        // No longer a member: a publish reaches nobody.
        const auto published = publisher.call(u"publish"_s, u"p"_s, {{u"channel"_s, u"room"_s}});
        QVERIFY(published);
        QCOMPARE(positionlessData(published->json),
                 QJsonObject({{u"published"_s, u"room"_s}, {u"recipients"_s, 0}}));
        QVERIFY(client.call(u"ping"_s, u"after"_s, {}));
        QCOMPARE(client.ofType(u"publish"_s).size(), 0);
    }

    // -- publish --------------------------------------------------------------------------------

    void publishFanOut_data()
    {
        QTest::addColumn<bool>("publisherBinary");
        QTest::addColumn<bool>("subscribersBinary");
        QTest::newRow("text to text") << false << false;
        QTest::newRow("binary to binary") << true << true;
        QTest::newRow("text to binary") << false << true;
        QTest::newRow("binary to text") << true << false;
    }

    void publishFanOut()
    {
        QFETCH(bool, publisherBinary);
        QFETCH(bool, subscribersBinary);
        QVERIFY(startServer());
        // Four clients alternate over the two workers: recipients on both.
        MtwClient sender(publisherBinary);
        MtwClient a(subscribersBinary), b(subscribersBinary), c(subscribersBinary);
        for (MtwClient *client : {&sender, &a, &b, &c}) {
            QVERIFY(client->open(url()));
            QVERIFY(client->call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"chat.general"_s}}));
        }

        const QJsonObject sent = envelope(
            u"publish"_s,
            u"msg-1"_s,
            {{u"channel"_s, u"chat.general"_s},
             {u"payload"_s, jsonPayload(QJsonObject{{u"text"_s, u"hello"_s}, {u"n"_s, 1}})},
             {u"metadata"_s,
              QJsonObject{{u"from"_s, u"forged"_s}, {u"user_id"_s, u"mallory"_s}, {u"tag"_s, 7}}}});
        sender.sendObject(sent);
        const auto reply = sender.waitReply(u"msg-1"_s);
        QVERIFY(reply);
        QCOMPARE(reply->binary, publisherBinary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(positionlessData(reply->json),
                 (QJsonObject{{u"published"_s, u"chat.general"_s}, {u"recipients"_s, 3}}));

        QJsonObject expected = sent;
        // The server stamps who sent it and where it is in the channel's stream.
        const QJsonValue epoch = dataOf(reply->json).toObject().value(u"epoch"_s);
        QCOMPARE(epoch.toString().size(), 8);
        expected.insert(u"metadata"_s,
                        QJsonObject{{u"from"_s, sender.connId},
                                    {u"tag"_s, 7},
                                    {u"offset"_s, 1},
                                    {u"epoch"_s, epoch}});
        for (MtwClient *client : {&a, &b, &c}) {
            QTRY_COMPARE(client->ofType(u"publish"_s).size(), 1);
            const MtwClient::Received got = client->ofType(u"publish"_s).constFirst();
            QCOMPARE(got.binary, subscribersBinary);
            QCOMPARE(got.invalid, QString());
            QCOMPARE(got.json, expected);
        }
        // The sender never receives its own publish.
        QVERIFY(sender.call(u"ping"_s, u"after"_s, {}));
        QCOMPARE(sender.ofType(u"publish"_s).size(), 0);
        QCOMPARE(sender.log.size(), 4); // opening ack, subscribe, publish and ping replies
    }

    void publishToUnknownChannel_data() { addModeColumn(); }
    void publishToUnknownChannel()
    {
        QFETCH(bool, binary);
        QVERIFY(startServer());
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        const auto reply = client.call(u"publish"_s, u"p1"_s, {{u"channel"_s, u"nowhere.x"_s}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(reply->json), errorPayload(404, u"channel 'nowhere.x' not found"_s));
        QVERIFY(client.socket.isValid());
    }

    void publishWithoutSubscribing()
    {
        QVERIFY(startServer());
        MtwClient publisher, a, b;
        QVERIFY(publisher.open(url()));
        for (MtwClient *client : {&a, &b}) {
            QVERIFY(client->open(url()));
            QVERIFY(client->call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"feed"_s}}));
        }
        const auto reply = publisher.call(
            u"publish"_s,
            u"p1"_s,
            {{u"channel"_s, u"feed"_s},
             {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"hi"_s}}}});
        QVERIFY(reply);
        QCOMPARE(positionlessData(reply->json),
                 QJsonObject({{u"published"_s, u"feed"_s}, {u"recipients"_s, 2}}));
        for (MtwClient *client : {&a, &b}) {
            QTRY_COMPARE(client->ofType(u"publish"_s).size(), 1);
            const QJsonObject got = client->ofType(u"publish"_s).constFirst().json;
            QCOMPARE(got.value(u"id"_s).toString(), u"p1"_s);
            QCOMPARE(payloadOf(got), QJsonObject({{u"kind"_s, u"Text"_s}, {u"data"_s, u"hi"_s}}));
            QCOMPARE(withoutPosition(metadataOf(got)),
                     QJsonObject({{u"from"_s, publisher.connId}}));
            QCOMPARE(metadataOf(got).value(u"offset"_s).toInteger(), 1);
        }
    }

    void publishWithoutChannel()
    {
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        const auto reply = client.call(u"publish"_s, u"p1"_s, {});
        QVERIFY(reply);
        QCOMPARE(payloadOf(reply->json), errorPayload(400, u"publish needs a channel"_s));
    }

    void invalidChannelName_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("channel");
        QTest::addColumn<QJsonObject>("metadata");
        const QJsonObject none;
        const QJsonObject history{{u"action"_s, u"history"_s}};
        QTest::newRow("subscribe, empty segment") << u"subscribe"_s << u"a..b"_s << none;
        QTest::newRow("subscribe, a pattern") << u"subscribe"_s << u"room.*"_s << none;
        QTest::newRow("subscribe, whitespace") << u"subscribe"_s << u"a b"_s << none;
        QTest::newRow("publish, trailing dot") << u"publish"_s << u"news."_s << none;
        QTest::newRow("history, a pattern") << u"request"_s << u"news.**"_s << history;
    }

    void invalidChannelName()
    {
        QFETCH(QString, type);
        QFETCH(QString, channel);
        QFETCH(QJsonObject, metadata);
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        QJsonObject fields{{u"channel"_s, channel}};
        if (!metadata.isEmpty())
            fields.insert(u"metadata"_s, metadata);
        const auto reply = client.call(type, u"bad-name"_s, fields);
        QVERIFY(reply);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(reply->json),
                 errorPayload(400, u"invalid channel name \"%1\""_s.arg(channel)));
        QVERIFY(client.call(u"ping"_s, u"p"_s, {}));
    }

    void configuredChannelExistsWithoutMembers_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::addColumn<QJsonObject>("expected");
        QTest::newRow("exact entry")
            << u"announcements"_s
            << jsonPayload(QJsonObject{{u"published"_s, u"announcements"_s}, {u"recipients"_s, 0}});
        // A pattern entry configures settings, it does not create channels.
        QTest::newRow("pattern entry")
            << u"alerts.fire"_s << errorPayload(404, u"channel 'alerts.fire' not found"_s);
    }

    void configuredChannelExistsWithoutMembers()
    {
        QFETCH(QString, channel);
        QFETCH(QJsonObject, expected);
        Mtw::Config config = serverConfig();
        config.channels = {ProtocolTest::channel(u"alerts.*"_s),
                           ProtocolTest::channel(u"announcements"_s)};
        QVERIFY(startServer(config));
        MtwClient client;
        QVERIFY(client.open(url()));
        const auto reply = client.call(u"publish"_s, u"p1"_s, {{u"channel"_s, channel}});
        QVERIFY(reply);
        QJsonObject payload = payloadOf(reply->json);
        if (payload.value(u"data"_s).isObject())
            payload.insert(u"data"_s, withoutPosition(payload.value(u"data"_s).toObject()));
        QCOMPARE(payload, expected);
    }

    // -- request --------------------------------------------------------------------------------

    void requestHistory_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<QJsonValue>("limit"); // undefined = no metadata.limit
        QTest::addColumn<int>("expected");
        QTest::newRow("no limit") << false << QJsonValue(QJsonValue::Undefined) << 4;
        QTest::newRow("limit 2") << false << QJsonValue(2) << 2;
        QTest::newRow("limit 1") << false << QJsonValue(1) << 1;
        QTest::newRow("limit over size") << false << QJsonValue(100) << 4;
        QTest::newRow("binary, limit 3") << true << QJsonValue(3) << 3;
    }

    void requestHistory()
    {
        QFETCH(bool, binary);
        QFETCH(QJsonValue, limit);
        QFETCH(int, expected);
        QVERIFY(startServer());
        MtwClient publisher, client(binary);
        QVERIFY(publisher.open(url()));
        QVERIFY(client.open(url()));
        QVERIFY(publisher.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"log"_s}}));
        QStringList ids;
        for (int i = 0; i < 4; ++i) {
            ids.append(u"h%1"_s.arg(i));
            QVERIFY(publisher.call(u"publish"_s,
                                   ids.last(),
                                   {{u"channel"_s, u"log"_s},
                                    {u"payload"_s, jsonPayload(i)},
                                    {u"metadata"_s, QJsonObject{{u"k"_s, i}}}}));
        }
        QJsonObject metadata{{u"action"_s, u"history"_s}};
        if (!limit.isUndefined())
            metadata.insert(u"limit"_s, limit);
        const auto reply = client.call(u"request"_s,
                                       u"r1"_s,
                                       {{u"channel"_s, u"log"_s}, {u"metadata"_s, metadata}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
        const QJsonObject data = dataOf(reply->json).toObject();
        QCOMPARE(data.keys(), QStringList({u"channel"_s, u"epoch"_s, u"messages"_s, u"offset"_s}));
        QCOMPARE(data.value(u"channel"_s).toString(), u"log"_s);
        QCOMPARE(data.value(u"offset"_s).toInteger(), 4); // four publications so far
        const QJsonArray messages = data.value(u"messages"_s).toArray();
        QCOMPARE(messages.size(), expected);
        for (int i = 0; i < expected; ++i) {
            const int n = 4 - expected + i;
            const QJsonObject entry = messages.at(i).toObject();
            QCOMPARE(entry,
                     envelope(u"publish"_s,
                              ids.at(n),
                              {{u"channel"_s, u"log"_s},
                               {u"payload"_s, jsonPayload(n)},
                               {u"metadata"_s,
                                QJsonObject{{u"k"_s, n},
                                            {u"from"_s, publisher.connId},
                                            {u"offset"_s, n + 1},
                                            {u"epoch"_s, data.value(u"epoch"_s)}}}}));
        }
    }

    void requestHistoryErrors_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::addColumn<QJsonObject>("metadata");
        QTest::addColumn<QJsonObject>("expected");
        QTest::newRow("no channel") << QString() << QJsonObject{{u"action"_s, u"history"_s}}
                                    << errorPayload(400, u"action 'history' needs a channel"_s);
        QTest::newRow("unknown channel") << u"nope"_s << QJsonObject{{u"action"_s, u"history"_s}}
                                         << errorPayload(404, u"channel 'nope' not found"_s);
        QTest::newRow("bad limit")
            << u"log"_s << QJsonObject{{u"action"_s, u"history"_s}, {u"limit"_s, u"many"_s}}
            << errorPayload(400, u"metadata.limit: expected a non-negative integer"_s);
        QTest::newRow("presence of unknown channel")
            << u"nope"_s << QJsonObject{{u"action"_s, u"presence"_s}}
            << errorPayload(404, u"channel 'nope' not found"_s);
        QTest::newRow("presence without channel")
            << QString() << QJsonObject{{u"action"_s, u"presence"_s}}
            << errorPayload(400, u"action 'presence' needs a channel"_s);
    }

    void requestHistoryErrors()
    {
        QFETCH(QString, channel);
        QFETCH(QJsonObject, metadata);
        QFETCH(QJsonObject, expected);
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        QVERIFY(client.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"log"_s}}));
        QJsonObject fields{{u"metadata"_s, metadata}};
        if (!channel.isEmpty())
            fields.insert(u"channel"_s, channel);
        const auto reply = client.call(u"request"_s, u"r1"_s, fields);
        QVERIFY(reply);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(reply->json), expected);
    }

    void requestPresence_data() { addModeColumn(); }
    void requestPresence()
    {
        QFETCH(bool, binary);
        QVERIFY(startServer());
        MtwClient a, b, asker(binary);
        QVERIFY(a.open(url()));
        QVERIFY(b.open(url()));
        QVERIFY(asker.open(url()));
        QVERIFY(a.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"lobby"_s}}));
        QVERIFY(b.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"lobby"_s}}));
        const auto reply = asker.call(u"request"_s,
                                      u"r1"_s,
                                      {{u"channel"_s, u"lobby"_s},
                                       {u"metadata"_s, QJsonObject{{u"action"_s, u"presence"_s}}}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
        // Members in connection order; no user_id for anonymous connections.
        QCOMPARE(dataOf(reply->json),
                 QJsonObject({{u"channel"_s, u"lobby"_s},
                              {u"members"_s,
                               QJsonArray{QJsonObject{{u"conn_id"_s, a.connId}},
                                          QJsonObject{{u"conn_id"_s, b.connId}}}}}));
    }

    void requestChannels_data() { addModeColumn(); }
    void requestChannels()
    {
        QFETCH(bool, binary);
        Mtw::Config config = serverConfig();
        config.channels = {channel(u"configured.empty"_s), channel(u"pattern.*"_s)};
        QVERIFY(startServer(config));
        MtwClient a, b, asker(binary);
        QVERIFY(a.open(url()));
        QVERIFY(b.open(url()));
        QVERIFY(asker.open(url()));
        QVERIFY(a.call(u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"zeta"_s}}));
        QVERIFY(a.call(u"subscribe"_s, u"s2"_s, {{u"channel"_s, u"alpha.one"_s}}));
        QVERIFY(b.call(u"subscribe"_s, u"s3"_s, {{u"channel"_s, u"alpha.one"_s}}));
        QVERIFY(b.call(u"subscribe"_s, u"s4"_s, {{u"channel"_s, u"pattern.x"_s}}));
        QVERIFY(b.call(u"unsubscribe"_s, u"u4"_s, {{u"channel"_s, u"pattern.x"_s}}));
        const auto reply = asker.call(u"request"_s,
                                      u"r1"_s,
                                      {{u"metadata"_s, QJsonObject{{u"action"_s, u"channels"_s}}}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        // Sorted by name; a channel stays after its last member left.
        const auto info = [](const QString &name, int members) {
            return QJsonObject{{u"name"_s, name}, {u"members"_s, members}};
        };
        QCOMPARE(dataOf(reply->json),
                 QJsonObject({{u"channels"_s,
                               QJsonArray{info(u"alpha.one"_s, 2),
                                          info(u"configured.empty"_s, 0),
                                          info(u"pattern.x"_s, 0),
                                          info(u"zeta"_s, 1)}}}));
    }

    void requestUnknownAction_data() { addModeColumn(); }
    void requestUnknownAction()
    {
        QFETCH(bool, binary);
        QVERIFY(startServer());
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        const auto reply =
            client.call(u"request"_s,
                        u"r-404"_s,
                        {{u"metadata"_s, QJsonObject{{u"action"_s, u"launch_rockets"_s}}}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(reply->json), errorPayload(404, u"unknown action 'launch_rockets'"_s));
    }

    void requestEcho_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<QJsonObject>("payload");
        QTest::newRow("None") << false << nonePayload();
        QTest::newRow("Text") << false
                              << QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"héllo"_s}};
        QTest::newRow("Json") << false
                              << jsonPayload(QJsonObject{{u"a"_s, QJsonArray{1, u"two"_s, true}}});
        QTest::newRow("Json null") << false << jsonPayload(QJsonValue::Null);
        QTest::newRow("Binary") << false
                                << QJsonObject{{u"kind"_s, u"Binary"_s},
                                               {u"data"_s, u"AAEC/w=="_s}};
        QTest::newRow("binary mode, Json") << true << jsonPayload(42);
    }

    void requestEcho()
    {
        QFETCH(bool, binary);
        QFETCH(QJsonObject, payload);
        QVERIFY(startServer());
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        const auto reply = client.call(
            u"request"_s,
            u"echo-1"_s,
            {{u"payload"_s, payload}, {u"metadata"_s, QJsonObject{{u"other"_s, u"x"_s}}}});
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->invalid, QString());
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(payloadOf(reply->json), payload);
        QVERIFY(Mtw::isValidUlid(reply->json.value(u"id"_s).toString()));
    }

    // -- disconnect, ignored types, agent_task --------------------------------------------------

    void disconnectClosesWith1000_data() { addModeColumn(); }
    void disconnectClosesWith1000()
    {
        QFETCH(bool, binary);
        QVERIFY(startServer());
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        client.send(u"disconnect"_s, u"bye"_s);
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 1000);
        const auto reason = closeReason(closed, client.connId);
        QVERIFY(reason);
        QCOMPARE(*reason, Mtw::DisconnectReason::normal());
        QCOMPARE(client.log.size(), 1); // nothing but the opening ack
    }

    void otherTypesIgnored_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<QString>("type");
        for (const char *type : {"pong",
                                 "response",
                                 "event",
                                 "stream",
                                 "stream_end",
                                 "agent_chunk",
                                 "agent_tool_call",
                                 "agent_complete",
                                 "error",
                                 "ack"}) {
            QTest::addRow("text %s", type) << false << QString::fromLatin1(type);
        }
        QTest::newRow("binary event") << true << u"event"_s;
        QTest::newRow("binary ack") << true << u"ack"_s;
    }

    void otherTypesIgnored()
    {
        QFETCH(bool, binary);
        QFETCH(QString, type);
        QVERIFY(startServer());
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        QVERIFY(client.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"c"_s}}));
        const qsizetype before = client.log.size();
        client.send(
            type,
            u"ignored-1"_s,
            {{u"channel"_s, u"c"_s}, {u"payload"_s, jsonPayload(QJsonObject{{u"x"_s, 1}})}});
        const auto pong = client.call(u"ping"_s, u"after"_s, {});
        QVERIFY(pong);
        // The pong is the only message after the ignored one: no reply, no error.
        QCOMPARE(client.log.size(), before + 1);
        QCOMPARE(client.log.last().json.value(u"ref_id"_s).toString(), u"after"_s);
        QVERIFY(client.socket.isValid());
        QCOMPARE(closed.size(), 0);
    }

    void agentTask_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<QJsonObject>("metadata");
        QTest::addColumn<QJsonObject>("expected");
        QTest::newRow("no agent") << false << QJsonObject{}
                                  << errorPayload(400,
                                                  u"agent_task needs metadata.agent (or a "
                                                  "channel whose agents answer it)"_s);
        QTest::newRow("unknown agent") << false << QJsonObject{{u"agent"_s, u"ghost"_s}}
                                       << errorPayload(404, u"agent 'ghost' not found"_s);
        QTest::newRow("binary, unknown agent") << true << QJsonObject{{u"agent"_s, u"ghost"_s}}
                                               << errorPayload(404, u"agent 'ghost' not found"_s);
    }

    void agentTask()
    {
        QFETCH(bool, binary);
        QFETCH(QJsonObject, metadata);
        QFETCH(QJsonObject, expected);
        QVERIFY(startServer(serverConfig()));
        MtwClient client(binary);
        QVERIFY(client.open(url()));
        QJsonObject fields{
            {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"go"_s}}}};
        if (!metadata.isEmpty())
            fields.insert(u"metadata"_s, metadata);
        const auto reply = client.call(u"agent_task"_s, u"task-1"_s, fields);
        QVERIFY(reply);
        QCOMPARE(reply->binary, binary);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(reply->json), expected);
        QVERIFY(client.socket.isValid());
    }
};

QTEST_GUILESS_MAIN(tst_Protocol)
#include "tst_protocol.moc"
