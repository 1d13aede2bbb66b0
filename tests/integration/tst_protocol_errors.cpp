// SPDX-License-Identifier: MIT
// MTW binary framing (PROTOCOL.md §4) and undecodable input (§2) over real sockets against an
// in-process Mtw::Server with two workers: 0x03/0x04, rejected frames, binary channels, 400
// errors with and without ref_id, and the close after max_protocol_errors.
#include "protocolclient.h"

#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

class tst_ProtocolErrors : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Mtw::Server> m_server;

    bool startServer(const Mtw::Config &config = serverConfig())
    {
        m_server = std::make_unique<Mtw::Server>(config);
        return bool(m_server->start());
    }

    QUrl url() const { return wsUrl(*m_server); }

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    // -- §4 MTW binary framing ------------------------------------------------------------------

    void binaryPingGetsPong()
    {
        QVERIFY(startServer());
        MtwClient client; // text mode: a 0x03 frame does not switch it
        QVERIFY(client.open(url()));
        client.socket.sendBinaryMessage(Mtw::encodeFrame(Mtw::FrameType::Ping, "abc"));
        QTRY_COMPARE(client.log.size(), 2);
        const MtwClient::Received pong = client.log.last();
        QVERIFY(pong.binary);
        QCOMPARE(pong.invalid, QString());
        QCOMPARE(pong.frameType, int(Mtw::FrameType::Pong));
        QCOMPARE(pong.framePayload, QByteArray());
        QCOMPARE(client.binaries.last(), Mtw::encodeFrame(Mtw::FrameType::Pong));

        // A 0x04 from the client is ignored; the connection is still in text mode.
        client.socket.sendBinaryMessage(Mtw::encodeFrame(Mtw::FrameType::Pong));
        const auto reply = client.call(u"ping"_s, u"p"_s, {});
        QVERIFY(reply);
        QVERIFY(!reply->binary);
        QCOMPARE(client.log.size(), 3);
    }

    void rawFramesAreNotProtocolErrors()
    {
        // The TypeScript client's publishBinary() sends raw 0x02 frames: before, each got a 400
        // and the tenth closed the connection with 1008. Without a module to take them they are
        // dropped quietly, and the connection stays open.
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        for (int i = 0; i < 25; ++i)
            client.socket.sendBinaryMessage(Mtw::encodeFrame(Mtw::FrameType::Raw, "bytes"));
        const auto reply = client.call(u"ping"_s, u"after-raw"_s, {});
        QVERIFY(reply);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"pong"_s);
        QCOMPARE(client.log.size(), 2); // the ack and this pong: no error was sent
        QVERIFY(!client.closed);
    }

    void binaryInputErrors_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<QString>("message");
        QTest::addColumn<bool>("replyBinary"); // only a 0x01 frame switches to binary mode
        QTest::newRow("garbage") << QByteArray("garbage bytes")
                                 << u"invalid MTW frame: bad frame magic 67 61 72, expected 4D 54 "
                                    "57 (\"MTW\")"_s
                                 << false;
        QTest::newRow("too short") << QByteArray("MTW")
                                   << u"invalid MTW frame: frame too short: 3 bytes, the header "
                                      "alone is 9"_s
                                   << false;
        QTest::newRow("unknown type") << QByteArray("MTW\x01\x07\0\0\0\0", 9)
                                      << u"invalid MTW frame: unknown frame type 0x07"_s << false;
        QTest::newRow("bad version") << QByteArray("MTW\x02\x01\0\0\0\0", 9)
                                     << u"invalid MTW frame: unsupported frame version 2, "
                                        "expected 1"_s
                                     << false;
        QTest::newRow("truncated") << QByteArray("MTW\x01\x01\0\0\0\x64{}", 11)
                                   << u"invalid MTW frame: truncated frame: header says 100 "
                                      "bytes, 2 present"_s
                                   << false;
        QTest::newRow("0x01 with bad JSON") << Mtw::encodeFrame(Mtw::FrameType::Json, "[1]")
                                            << u"expected a JSON object, got an array"_s << true;
    }

    void binaryInputErrors()
    {
        QFETCH(QByteArray, data);
        QFETCH(QString, message);
        QFETCH(bool, replyBinary);
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        client.socket.sendBinaryMessage(data);
        QTRY_COMPARE(client.log.size(), 2);
        QCOMPARE(client.log.last().binary, replyBinary);
        const QJsonObject error = client.log.last().json;
        QCOMPARE(error.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(error), errorPayload(400, message));
        QVERIFY(!error.contains(u"ref_id"_s));
        QCOMPARE(client.log.last().invalid, QString());
        // Still open and usable.
        QVERIFY(client.call(u"ping"_s, u"p"_s, {}));
        QVERIFY(client.socket.isValid());
    }

    void binaryChannels_data()
    {
        QTest::addColumn<QString>("toml"); // the [codec] and [[channels]] part of mtw.toml
        QTest::addColumn<QString>("channel");
        QTest::newRow("codec.binary_channels, exact")
            << u"[codec]\nbinary_channels = [\"ticks.fx\"]"_s << u"ticks.fx"_s;
        QTest::newRow("codec.binary_channels, pattern")
            << u"[codec]\nbinary_channels = [\"ticks.*\"]"_s << u"ticks.fx"_s;
        QTest::newRow("[[channels]] codec binary, exact")
            << u"[[channels]]\nname = \"ticks.fx\"\ncodec = \"binary\""_s << u"ticks.fx"_s;
        QTest::newRow("[[channels]] codec binary, pattern")
            << u"[[channels]]\nname = \"ticks.**\"\ncodec = \"binary\""_s << u"ticks.fx.eur"_s;
        // codec.default: a channel that chooses no codec, with no entry or an entry without one;
        // "plain" chooses json and stays text.
        QTest::newRow("codec.default binary, no entry")
            << u"[codec]\ndefault = \"binary\"\n[[channels]]\nname = \"plain\"\ncodec = \"json\""_s
            << u"ticks.fx"_s;
        QTest::newRow("codec.default binary, entry without codec")
            << u"[codec]\ndefault = \"binary\"\n[[channels]]\nname = \"ticks.*\"\nhistory = 5\n"
               "[[channels]]\nname = \"plain\"\ncodec = \"json\""_s
            << u"ticks.fx"_s;
    }

    void binaryChannels()
    {
        QFETCH(QString, toml);
        QFETCH(QString, channel);
        // Through the parser, as mtwserver reads it: no key may be read and then ignored.
        const auto parsed = Mtw::parseConfig(toml, u"mtw.toml"_s, QProcessEnvironment());
        QVERIFY(parsed.diagnostics.isEmpty());
        Mtw::Config config = serverConfig();
        config.codec = parsed.config.codec;
        config.channels = parsed.config.channels;
        QVERIFY(startServer(config));
        MtwClient publisher, a, b; // all text mode
        for (MtwClient *client : {&publisher, &a, &b}) {
            QVERIFY(client->open(url()));
            QVERIFY(client->call(u"subscribe"_s, u"s1"_s, {{u"channel"_s, channel}}));
            QVERIFY(client->call(u"subscribe"_s, u"s2"_s, {{u"channel"_s, u"plain"_s}}));
        }
        const QJsonObject sent = envelope(
            u"publish"_s,
            u"tick-1"_s,
            {{u"channel"_s, channel}, {u"payload"_s, jsonPayload(QJsonObject{{u"bid"_s, 1.5}})}});
        publisher.sendObject(sent);
        const auto reply = publisher.waitReply(u"tick-1"_s);
        QVERIFY(reply);
        QVERIFY(!reply->binary); // replies follow the connection's mode
        QCOMPARE(dataOf(reply->json).toObject().value(u"recipients"_s).toInt(), 2);
        QVERIFY(publisher.call(u"publish"_s, u"plain-1"_s, {{u"channel"_s, u"plain"_s}}));

        QJsonObject expected = sent;
        expected.insert(
            u"metadata"_s,
            QJsonObject{{u"from"_s, publisher.connId},
                        {u"offset"_s, 1},
                        {u"epoch"_s, dataOf(reply->json).toObject().value(u"epoch"_s)}});
        for (MtwClient *client : {&a, &b}) {
            QTRY_COMPARE(client->ofType(u"publish"_s).size(), 2);
            const QList<MtwClient::Received> got = client->ofType(u"publish"_s);
            QVERIFY(got.at(0).binary);
            QCOMPARE(got.at(0).frameType, int(Mtw::FrameType::Json));
            QCOMPARE(got.at(0).invalid, QString());
            QCOMPARE(got.at(0).json, expected);
            QVERIFY(!got.at(1).binary); // other channels stay text
            QCOMPARE(got.at(1).json.value(u"channel"_s).toString(), u"plain"_s);
            // The connection did not switch: its own replies are still text.
            const auto pong = client->call(u"ping"_s, u"p"_s, {});
            QVERIFY(pong);
            QVERIFY(!pong->binary);
        }
    }

    // -- §2 undecodable input -------------------------------------------------------------------

    void malformedInput_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QString>("message");
        QTest::addColumn<QString>("refId"); // empty = none expected
        QTest::newRow("not JSON") << QByteArray("{not json")
                                  << u"invalid JSON at offset 2: unterminated object"_s
                                  << QString();
        QTest::newRow("empty") << QByteArray("") << u"invalid JSON: empty input"_s << QString();
        QTest::newRow("array") << QByteArray("[1,2]") << u"expected a JSON object, got an array"_s
                               << QString();
        QTest::newRow("string") << QByteArray("\"hi\"") << u"expected a JSON object, got a string"_s
                                << QString();
        QTest::newRow("no id") << QByteArray(
            R"({"type":"ping","payload":{"kind":"None"},"timestamp":1})")
                               << u"missing required field \"id\""_s << QString();
        QTest::newRow("numeric id")
            << QByteArray(R"({"id":5,"type":"ping","payload":{"kind":"None"},"timestamp":1})")
            << u"id: expected a string, got 5"_s << QString();
        QTest::newRow("missing payload")
            << QByteArray(R"({"id":"m-1","type":"ping","timestamp":1})")
            << u"missing required field \"payload\""_s << u"m-1"_s;
        QTest::newRow("unknown type")
            << QByteArray(R"({"id":"m-2","type":"bogus","payload":{"kind":"None"},"timestamp":1})")
            << u"unknown message type \"bogus\""_s << u"m-2"_s;
        QTest::newRow("metadata null") << QByteArray(
            R"({"id":"m-3","type":"ping","payload":{"kind":"None"},"metadata":null,"timestamp":1})")
                                       << u"metadata: expected an object, got null"_s << u"m-3"_s;
        QTest::newRow("bad payload kind")
            << QByteArray(R"({"id":"m-4","type":"ping","payload":{"kind":"json"},"timestamp":1})")
            << u"payload.kind: expected one of \"None\", \"Text\", "
               "\"Json\", \"Binary\", got \"json\""_s
            << u"m-4"_s;
        QTest::newRow("missing timestamp")
            << QByteArray(R"({"id":"m-5","type":"ping","payload":{"kind":"None"}})")
            << u"missing required field \"timestamp\""_s << u"m-5"_s;
    }

    void malformedInput()
    {
        QFETCH(QByteArray, input);
        QFETCH(QString, message);
        QFETCH(QString, refId);
        QVERIFY(startServer());
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient client;
        QVERIFY(client.open(url()));
        client.socket.sendTextMessage(QString::fromUtf8(input));
        QTRY_COMPARE(client.log.size(), 2);
        const MtwClient::Received error = client.log.last();
        QVERIFY(!error.binary);
        QCOMPARE(error.invalid, QString());
        QCOMPARE(error.json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(error.json), errorPayload(400, message));
        if (refId.isEmpty())
            QVERIFY(!error.json.contains(u"ref_id"_s));
        else
            QCOMPARE(error.json.value(u"ref_id"_s).toString(), refId);
        // The connection stays open.
        QVERIFY(client.call(u"ping"_s, u"still-there"_s, {}));
        QVERIFY(client.socket.isValid());
        QCOMPARE(closed.size(), 0);
    }

    void tooManyProtocolErrors_data()
    {
        QTest::addColumn<bool>("binaryGarbage");
        QTest::addColumn<int>("errors");
        QTest::addColumn<bool>("closes");
        QTest::newRow("text, 2 of 3") << false << 2 << false;
        QTest::newRow("text, 3 of 3") << false << 3 << true;
        QTest::newRow("binary, 3 of 3") << true << 3 << true;
    }

    void tooManyProtocolErrors()
    {
        QFETCH(bool, binaryGarbage);
        QFETCH(int, errors);
        QFETCH(bool, closes);
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxProtocolErrors = 3;
        QVERIFY(startServer(config));
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient client;
        QVERIFY(client.open(url()));
        // Good messages in between do not reset the count.
        QVERIFY(client.call(u"ping"_s, u"p0"_s, {}));
        for (int i = 0; i < errors; ++i) {
            if (binaryGarbage)
                client.socket.sendBinaryMessage("\x01\x02\x03 not a frame");
            else
                client.socket.sendTextMessage(u"garbage %1"_s.arg(i));
        }
        QTRY_COMPARE(client.ofType(u"error"_s).size(), errors);
        if (!closes) {
            QVERIFY(client.call(u"ping"_s, u"p1"_s, {}));
            QCOMPARE(closed.size(), 0);
            return;
        }
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 1008);
        QCOMPARE(client.closeReason, u"too many protocol errors"_s);
        const auto reason = closeReason(closed, client.connId);
        QVERIFY(reason);
        QCOMPARE(*reason, Mtw::DisconnectReason::error(u"too many protocol errors"_s));
    }
};

QTEST_GUILESS_MAIN(tst_ProtocolErrors)
#include "tst_protocol_errors.moc"
