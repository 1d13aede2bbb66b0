// SPDX-License-Identifier: MIT
// Channels over real sockets (PROTOCOL.md §5): which [[channels]] entry a concrete channel takes
// its settings from, auth, member limits, the history ring, presence events, and the per-sender
// ordering of fan-out across the two workers.
#include "protocolclient.h"

#include <mtw/ulid.h>

#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

class tst_ChannelsE2e : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Mtw::Server> m_server;

    bool startServer(const Mtw::Config &config)
    {
        m_server = std::make_unique<Mtw::Server>(config);
        return bool(m_server->start());
    }

    QUrl url() const { return wsUrl(*m_server); }

    static Mtw::ChannelConfig entry(const QString &name, int history, bool auth = false)
    {
        Mtw::ChannelConfig config = channel(name);
        config.history = history;
        config.auth = auth;
        return config;
    }

    static QJsonObject
    presenceEvent(const QString &channelName, const QString &event, const QString &connId)
    {
        return QJsonObject{
            {u"type"_s, u"ack"_s},
            {u"channel"_s, channelName},
            {u"payload"_s, nonePayload()},
            {u"metadata"_s, QJsonObject{{u"event"_s, event}, {u"conn_id"_s, connId}}}};
    }

    // The presence events a client got, without the server-made id and timestamp (checked apart).
    static QList<QJsonObject> eventsOf(const MtwClient &client, const QString &channelName)
    {
        QList<QJsonObject> out;
        for (const MtwClient::Received &entry : client.ofType(u"ack"_s, channelName)) {
            QJsonObject json = entry.json;
            if (!Mtw::isValidUlid(json.take(u"id"_s).toString()))
                json.insert(u"bad id"_s, true);
            if (!json.take(u"timestamp"_s).isDouble())
                json.insert(u"bad timestamp"_s, true);
            out.append(json);
        }
        return out;
    }

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    // -- §5 settings resolution, observed through the history size ------------------------------

    void globResolution_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::addColumn<int>("kept"); // history entries kept of 7 published; -1 = auth refused
        // Defaults keep 50: all 7.
        QTest::newRow("exact beats an earlier pattern") << u"room.vip"_s << 5;
        QTest::newRow("first matching pattern in file order") << u"room.lobby"_s << 1;
        QTest::newRow("earlier pattern beats a later auth pattern") << u"room.secret"_s << 1;
        QTest::newRow("* is one segment, ** takes two") << u"room.a.b"_s << 2;
        QTest::newRow("final ** takes three") << u"room.a.b.c"_s << 2;
        QTest::newRow("final ** needs at least one") << u"room"_s << 7;
        QTest::newRow("auth pattern") << u"x.secret"_s << -1;
        QTest::newRow("*.* catch-all for two segments") << u"other.thing"_s << 4;
        QTest::newRow("* in the middle") << u"deep.mid.leaf"_s << 6;
        QTest::newRow("* in the middle is one segment") << u"deep.a.b.leaf"_s << 7;
        QTest::newRow("three segments, no entry") << u"a.b.c"_s << 7;
    }

    void globResolution()
    {
        QFETCH(QString, channel);
        QFETCH(int, kept);
        Mtw::Config config = serverConfig();
        config.channels = {entry(u"room.*"_s, 1),
                           entry(u"room.**"_s, 2),
                           entry(u"*.secret"_s, 3, true),
                           entry(u"*.*"_s, 4),
                           entry(u"room.vip"_s, 5),
                           entry(u"deep.*.leaf"_s, 6)};
        QVERIFY(startServer(config));
        MtwClient client;
        QVERIFY(client.open(url()));
        const auto subscribed = client.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, channel}});
        QVERIFY(subscribed);
        if (kept < 0) {
            QCOMPARE(payloadOf(subscribed->json),
                     errorPayload(401, u"channel '%1' requires authentication"_s.arg(channel)));
            return;
        }
        QCOMPARE(subscribed->json.value(u"type"_s).toString(), u"response"_s);
        for (int i = 0; i < 7; ++i) {
            const auto reply =
                client.call(u"publish"_s,
                            u"p%1"_s.arg(i),
                            {{u"channel"_s, channel}, {u"payload"_s, jsonPayload(i)}});
            QVERIFY(reply);
            QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
        }
        const auto history = client.call(
            u"request"_s,
            u"h"_s,
            {{u"channel"_s, channel}, {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}}}});
        QVERIFY(history);
        const QJsonArray messages = dataOf(history->json).toObject().value(u"messages"_s).toArray();
        QCOMPARE(messages.size(), kept);
        // The newest ones, oldest first.
        for (int i = 0; i < kept; ++i)
            QCOMPARE(messages.at(i).toObject().value(u"id"_s).toString(),
                     u"p%1"_s.arg(7 - kept + i));
    }

    // -- auth -----------------------------------------------------------------------------------

    void authChannel_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("channel");
        QTest::addColumn<QJsonObject>("metadata");
        QTest::addColumn<QJsonObject>("expected");
        const auto needsAuth = [](const QString &name) {
            return errorPayload(401, u"channel '%1' requires authentication"_s.arg(name));
        };
        QTest::newRow("subscribe exact")
            << u"subscribe"_s << u"vault"_s << QJsonObject() << needsAuth(u"vault"_s);
        QTest::newRow("subscribe pattern")
            << u"subscribe"_s << u"secure.a.b"_s << QJsonObject() << needsAuth(u"secure.a.b"_s);
        QTest::newRow("publish exact")
            << u"publish"_s << u"vault"_s << QJsonObject() << needsAuth(u"vault"_s);
        // Matching an auth pattern does not create the channel: it does not exist yet.
        QTest::newRow("publish pattern, never subscribed")
            << u"publish"_s << u"secure.a.b"_s << QJsonObject()
            << errorPayload(404, u"channel 'secure.a.b' not found"_s);
        QTest::newRow("history") << u"request"_s << u"vault"_s
                                 << QJsonObject{{u"action"_s, u"history"_s}}
                                 << needsAuth(u"vault"_s);
        QTest::newRow("presence") << u"request"_s << u"vault"_s
                                  << QJsonObject{{u"action"_s, u"presence"_s}}
                                  << needsAuth(u"vault"_s);
    }

    void authChannel()
    {
        QFETCH(QString, type);
        QFETCH(QString, channel);
        QFETCH(QJsonObject, metadata);
        QFETCH(QJsonObject, expected);
        Mtw::Config config = serverConfig();
        config.channels = {entry(u"vault"_s, 50, true), entry(u"secure.**"_s, 50, true)};
        QVERIFY(startServer(config));
        MtwClient client;
        QVERIFY(client.open(url()));
        QJsonObject fields{{u"channel"_s, channel}};
        if (!metadata.isEmpty())
            fields.insert(u"metadata"_s, metadata);
        const auto reply = client.call(type, u"auth-1"_s, fields);
        QVERIFY(reply);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(reply->json.value(u"ref_id"_s).toString(), u"auth-1"_s);
        QCOMPARE(payloadOf(reply->json), expected);
        QVERIFY(client.call(u"ping"_s, u"p"_s, {}));
    }

    // -- max_members ----------------------------------------------------------------------------

    void maxMembers_data()
    {
        QTest::addColumn<bool>("leaveByDisconnect");
        QTest::newRow("a member unsubscribes") << false;
        QTest::newRow("a member disconnects") << true;
    }

    void maxMembers()
    {
        QFETCH(bool, leaveByDisconnect);
        Mtw::Config config = serverConfig();
        Mtw::ChannelConfig room = channel(u"room.1"_s);
        room.maxMembers = 2;
        config.channels = {room};
        QVERIFY(startServer(config));
        MtwClient a, b, c;
        for (MtwClient *client : {&a, &b, &c})
            QVERIFY(client->open(url()));
        auto reply = a.call(u"subscribe"_s, u"a1"_s, {{u"channel"_s, u"room.1"_s}});
        QVERIFY(reply);
        QCOMPARE(dataOf(reply->json).toObject().value(u"members"_s).toInt(), 1);
        reply = b.call(u"subscribe"_s, u"b1"_s, {{u"channel"_s, u"room.1"_s}});
        QVERIFY(reply);
        QCOMPARE(dataOf(reply->json).toObject().value(u"members"_s).toInt(), 2);

        reply = c.call(u"subscribe"_s, u"c1"_s, {{u"channel"_s, u"room.1"_s}});
        QVERIFY(reply);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadOf(reply->json), errorPayload(409, u"channel 'room.1' is full (max: 2)"_s));

        // A member subscribing again while full is not refused.
        reply = b.call(u"subscribe"_s, u"b2"_s, {{u"channel"_s, u"room.1"_s}});
        QVERIFY(reply);
        QCOMPARE(positionlessData(reply->json),
                 QJsonObject({{u"subscribed"_s, u"room.1"_s}, {u"members"_s, 2}}));

        // The refused one is not a member: a publish reaches b only.
        reply = a.call(u"publish"_s, u"a2"_s, {{u"channel"_s, u"room.1"_s}});
        QVERIFY(reply);
        QCOMPARE(dataOf(reply->json).toObject().value(u"recipients"_s).toInt(), 1);

        if (leaveByDisconnect) {
            QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
            a.socket.close();
            // The member is removed before the server reports the connection closed.
            QVERIFY(closeReason(closed, a.connId));
        } else {
            QVERIFY(a.call(u"unsubscribe"_s, u"a3"_s, {{u"channel"_s, u"room.1"_s}}));
        }
        reply = c.call(u"subscribe"_s, u"c2"_s, {{u"channel"_s, u"room.1"_s}});
        QVERIFY(reply);
        QCOMPARE(positionlessData(reply->json),
                 QJsonObject({{u"subscribed"_s, u"room.1"_s}, {u"members"_s, 2}}));
    }

    // -- history --------------------------------------------------------------------------------

    void historyRingKeepsLastN_data()
    {
        QTest::addColumn<bool>("viaSubscribe"); // else request action history
        QTest::newRow("subscribe metadata.history") << true;
        QTest::newRow("request history") << false;
    }

    void historyRingKeepsLastN()
    {
        QFETCH(bool, viaSubscribe);
        Mtw::Config config = serverConfig();
        config.channels = {entry(u"ring"_s, 3)};
        QVERIFY(startServer(config));
        MtwClient publisher, reader;
        QVERIFY(publisher.open(url()));
        QVERIFY(reader.open(url()));
        for (int i = 0; i < 5; ++i) {
            const auto reply = publisher.call(
                u"publish"_s,
                u"m%1"_s.arg(i),
                {{u"channel"_s, u"ring"_s},
                 {u"payload"_s,
                  QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"#%1"_s.arg(i)}}}});
            QVERIFY(reply);
            // A configured channel exists without members.
            QCOMPARE(positionlessData(reply->json),
                     QJsonObject({{u"published"_s, u"ring"_s}, {u"recipients"_s, 0}}));
        }
        QJsonArray messages;
        QString epoch;
        if (viaSubscribe) {
            const auto reply = reader.call(
                u"subscribe"_s,
                u"s"_s,
                {{u"channel"_s, u"ring"_s}, {u"metadata"_s, QJsonObject{{u"history"_s, 50}}}});
            QVERIFY(reply);
            messages = dataOf(reply->json).toObject().value(u"history"_s).toArray();
            epoch = dataOf(reply->json).toObject().value(u"epoch"_s).toString();
        } else {
            const auto reply =
                reader.call(u"request"_s,
                            u"r"_s,
                            {{u"channel"_s, u"ring"_s},
                             {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}}}});
            QVERIFY(reply);
            messages = dataOf(reply->json).toObject().value(u"messages"_s).toArray();
            epoch = dataOf(reply->json).toObject().value(u"epoch"_s).toString();
        }
        QCOMPARE(epoch.size(), 8);
        QJsonArray expected;
        for (int i = 2; i < 5; ++i) {
            expected.append(envelope(
                u"publish"_s,
                u"m%1"_s.arg(i),
                {{u"channel"_s, u"ring"_s},
                 {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"#%1"_s.arg(i)}}},
                 {u"metadata"_s,
                  QJsonObject{{u"from"_s, publisher.connId},
                              {u"offset"_s, i + 1}, // m0 was the channel's first
                              {u"epoch"_s, epoch}}}}));
        }
        QCOMPARE(messages, expected);
    }

    // -- presence -------------------------------------------------------------------------------

    void presenceEvents()
    {
        Mtw::Config config = serverConfig();
        Mtw::ChannelConfig lobby = channel(u"lobby"_s);
        lobby.presence = true;
        config.channels = {lobby};
        QVERIFY(startServer(config));
        MtwClient a, b, c, d(true); // d speaks binary: its events come as MTW frames
        for (MtwClient *client : {&a, &b, &c, &d}) {
            QVERIFY(client->open(url()));
            // A channel without presence never produces events.
            QVERIFY(client->call(u"subscribe"_s, u"q"_s, {{u"channel"_s, u"quiet"_s}}));
        }
        const auto subscribe = [](MtwClient &client) {
            return client.call(u"subscribe"_s, u"join"_s, {{u"channel"_s, u"lobby"_s}});
        };
        // Each step waits until every remaining member has seen its event, so that the
        // expected sequences below do not depend on which worker delivers first.
        const auto seen = [](const MtwClient &client) {
            return eventsOf(client, u"lobby"_s).size();
        };
        QVERIFY(subscribe(a));
        QVERIFY(subscribe(b));
        QTRY_COMPARE(seen(a), 1);
        QVERIFY(subscribe(c));
        QTRY_COMPARE(seen(a), 2);
        QTRY_COMPARE(seen(b), 1);
        QVERIFY(subscribe(d));
        QTRY_COMPARE(seen(a), 3);
        QTRY_COMPARE(seen(b), 2);
        QTRY_COMPARE(seen(c), 1);
        QVERIFY(c.call(u"unsubscribe"_s, u"leave"_s, {{u"channel"_s, u"lobby"_s}}));
        QTRY_COMPARE(seen(a), 4);
        QTRY_COMPARE(seen(b), 3);
        QTRY_COMPARE(seen(d), 1);
        d.socket.close();
        QTRY_COMPARE(seen(a), 5);
        QTRY_COMPARE(seen(b), 4);
        QVERIFY(a.call(u"ping"_s, u"p"_s, {}));

        const auto join = [](const MtwClient &who) {
            return presenceEvent(u"lobby"_s, u"join"_s, who.connId);
        };
        const auto leave = [](const MtwClient &who) {
            return presenceEvent(u"lobby"_s, u"leave"_s, who.connId);
        };
        QCOMPARE(eventsOf(a, u"lobby"_s),
                 QList<QJsonObject>({join(b), join(c), join(d), leave(c), leave(d)}));
        QCOMPARE(eventsOf(b, u"lobby"_s),
                 QList<QJsonObject>({join(c), join(d), leave(c), leave(d)}));
        // Nobody gets its own join; c left before d did.
        QCOMPARE(eventsOf(c, u"lobby"_s), QList<QJsonObject>({join(d)}));
        QCOMPARE(eventsOf(d, u"lobby"_s), QList<QJsonObject>({leave(c)}));
        QVERIFY(d.ofType(u"ack"_s, u"lobby"_s).constFirst().binary);
        for (MtwClient *client : {&a, &b, &c, &d}) {
            QCOMPARE(client->ofType(u"ack"_s, u"quiet"_s).size(), 0);
            QCOMPARE(client->invalidMessages(), QStringList());
        }
    }

    // -- ordering -------------------------------------------------------------------------------

    void concurrentPublishersKeepPerSenderOrder()
    {
        constexpr int PerPublisher = 200;
        QVERIFY(startServer(serverConfig()));
        // Six connections alternate over the two workers: publishers and subscribers on both.
        MtwClient p0, s0, p1, s1, p2, s2;
        const QList<MtwClient *> publishers{&p0, &p1, &p2};
        const QList<MtwClient *> subscribers{&s0, &s1, &s2};
        for (MtwClient *client : {&p0, &s0, &p1, &s1, &p2, &s2}) {
            QVERIFY(client->open(url()));
            // Publishers subscribe too: they must never get their own messages.
            QVERIFY(client->call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"race"_s}}));
        }
        for (int i = 0; i < PerPublisher; ++i) {
            for (int p = 0; p < publishers.size(); ++p) {
                publishers.at(p)->send(
                    u"publish"_s,
                    u"p%1-%2"_s.arg(p).arg(i),
                    {{u"channel"_s, u"race"_s},
                     {u"payload"_s, jsonPayload(QJsonObject{{u"p"_s, p}, {u"seq"_s, i}})}});
            }
        }
        constexpr int Total = 3 * PerPublisher;
        for (MtwClient *client : subscribers)
            QTRY_COMPARE_WITH_TIMEOUT(client->ofType(u"publish"_s).size(), Total, 15000);
        for (MtwClient *client : publishers) {
            QTRY_COMPARE_WITH_TIMEOUT(client->ofType(u"publish"_s).size(),
                                      Total - PerPublisher,
                                      15000);
            QTRY_COMPARE_WITH_TIMEOUT(client->ofType(u"response"_s).size(),
                                      1 + PerPublisher,
                                      15000);
        }
        QHash<QString, int> publisherIndex;
        for (int p = 0; p < publishers.size(); ++p)
            publisherIndex.insert(publishers.at(p)->connId, p);

        for (MtwClient *client : {&p0, &s0, &p1, &s1, &p2, &s2}) {
            QList<int> next(publishers.size(), 0);
            for (const MtwClient::Received &entry : client->ofType(u"publish"_s)) {
                const QString from = metadataOf(entry.json).value(u"from"_s).toString();
                QVERIFY2(publisherIndex.contains(from), qPrintable(from));
                const int p = publisherIndex.value(from);
                QVERIFY2(from != client->connId, "a sender received its own publish");
                const QJsonObject data = dataOf(entry.json).toObject();
                QCOMPARE(data.value(u"p"_s).toInt(), p);
                // In order and exactly once per sender.
                QCOMPARE(data.value(u"seq"_s).toInt(), next[p]);
                QCOMPARE(entry.json.value(u"id"_s).toString(), u"p%1-%2"_s.arg(p).arg(next[p]));
                ++next[p];
            }
            for (int p = 0; p < publishers.size(); ++p)
                QCOMPARE(next.at(p), publishers.at(p) == client ? 0 : PerPublisher);
        }
        for (MtwClient *client : publishers) {
            for (const MtwClient::Received &entry : client->ofType(u"response"_s)) {
                if (entry.json.value(u"ref_id"_s).toString() == u"s"_s)
                    continue;
                QCOMPARE(positionlessData(entry.json),
                         QJsonObject({{u"published"_s, u"race"_s}, {u"recipients"_s, 5}}));
            }
        }
    }
};

QTEST_GUILESS_MAIN(tst_ChannelsE2e)
#include "tst_channels_e2e.moc"
