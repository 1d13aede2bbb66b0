// SPDX-License-Identifier: MIT
// Offsets, epochs and recovery over real sockets (docs/protocol.md, "Offsets and recovery"): a
// client whose connection was killed while publishers kept going gets everything it missed
// exactly once, and offsets never repeat or go back for anyone.
#include "protocolclient.h"

#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

qint64 offsetOf(const QJsonObject &envelope)
{
    return envelope.value(u"metadata"_s).toObject().value(u"offset"_s).toInteger(-1);
}

// Offsets of the publications a client received live on `channel`, in arrival order.
QList<qint64> liveOffsets(const MtwClient &client, const QString &channel)
{
    QList<qint64> out;
    for (const MtwClient::Received &entry : client.ofType(u"publish"_s, channel))
        out.append(offsetOf(entry.json));
    return out;
}

QList<qint64> range(qint64 first, qint64 last)
{
    QList<qint64> out;
    for (qint64 i = first; i <= last; ++i)
        out.append(i);
    return out;
}

QJsonObject recoverFrom(qint64 offset, const QString &epoch)
{
    return QJsonObject{{u"recover"_s, QJsonObject{{u"offset"_s, offset}, {u"epoch"_s, epoch}}}};
}

} // namespace

class tst_Recovery : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Mtw::Server> m_server;

    static Mtw::Config config()
    {
        Mtw::Config config = serverConfig(); // two I/O workers
        Mtw::ChannelConfig feed = channel(u"feed"_s);
        feed.history = 10000;
        feed.historyBytes = 0;
        Mtw::ChannelConfig small = channel(u"small"_s);
        small.history = 3;
        config.channels = {feed, small};
        return config;
    }

    bool startServer(const Mtw::Config &cfg = config())
    {
        m_server = std::make_unique<Mtw::Server>(cfg);
        return bool(m_server->start());
    }

    QUrl url() const { return wsUrl(*m_server); }

    // Sends `count` publishes to `channel` without waiting for their answers.
    static void publishBurst(MtwClient &publisher, const QString &channel, int count, int &next)
    {
        for (int i = 0; i < count; ++i, ++next) {
            publisher.send(u"publish"_s,
                           u"%1-%2"_s.arg(publisher.connId).arg(next),
                           {{u"channel"_s, channel}, {u"payload"_s, jsonPayload(next)}});
        }
    }

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    void publishAnswerAndDeliveryAgree()
    {
        QVERIFY(startServer());
        MtwClient watcher, publisher;
        QVERIFY(watcher.open(url()));
        QVERIFY(publisher.open(url()));
        const auto joined = watcher.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"feed"_s}});
        QVERIFY(joined);
        const QJsonObject position = dataOf(joined->json).toObject();
        QCOMPARE(position.value(u"offset"_s).toInteger(), 0);
        const QString epoch = position.value(u"epoch"_s).toString();
        QCOMPARE(epoch.size(), 8);

        for (int i = 1; i <= 3; ++i) {
            const auto reply =
                publisher.call(u"publish"_s, u"p%1"_s.arg(i), {{u"channel"_s, u"feed"_s}});
            QVERIFY(reply);
            QCOMPARE(dataOf(reply->json).toObject().value(u"offset"_s).toInteger(), i);
            QCOMPARE(dataOf(reply->json).toObject().value(u"epoch"_s).toString(), epoch);
        }
        QTRY_COMPARE(liveOffsets(watcher, u"feed"_s), range(1, 3));
        for (const MtwClient::Received &entry : watcher.ofType(u"publish"_s))
            QCOMPARE(entry.json.value(u"metadata"_s).toObject().value(u"epoch"_s).toString(),
                     epoch);
        QCOMPARE(watcher.invalidMessages(), QStringList());
    }

    // The killed client missed what two publishers on both workers sent while it was away and
    // while it subscribed again: the recovery plus the live deliveries are every offset after its
    // last one, once each, in order. A watcher that never left saw every offset in order.
    void recoverAfterKilledConnectionWhilePublishing()
    {
        QVERIFY(startServer());
        MtwClient watcher, first, second, reader;
        for (MtwClient *client : {&watcher, &first, &second, &reader})
            QVERIFY(client->open(url()));
        for (MtwClient *client : {&watcher, &reader})
            QVERIFY(client->call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"feed"_s}}));
        int firstNext = 0;
        int secondNext = 0;
        publishBurst(first, u"feed"_s, 20, firstNext);
        QTRY_COMPARE(reader.ofType(u"publish"_s, u"feed"_s).size(), 20);
        const QJsonObject last = reader.ofType(u"publish"_s, u"feed"_s).constLast().json;
        const qint64 lastSeen = offsetOf(last);
        const QString epoch = last.value(u"metadata"_s).toObject().value(u"epoch"_s).toString();
        QCOMPARE(lastSeen, 20);

        reader.socket.abort(); // no close frame: the server finds out on its own
        publishBurst(first, u"feed"_s, 150, firstNext);
        publishBurst(second, u"feed"_s, 150, secondNext);
        QVERIFY(first.waitReply(u"%1-%2"_s.arg(first.connId).arg(firstNext - 1), 10000));
        publishBurst(first, u"feed"_s, 1000, firstNext);
        MtwClient again;
        QVERIFY(again.open(url())); // the publishes flow while the handshake runs
        again.send(u"subscribe"_s,
                   u"again"_s,
                   {{u"channel"_s, u"feed"_s}, {u"metadata"_s, recoverFrom(lastSeen, epoch)}});
        publishBurst(first, u"feed"_s, 150, firstNext);
        publishBurst(second, u"feed"_s, 150, secondNext);

        const qint64 total = 20 + 4 * 150 + 1000;
        const auto answer = again.waitReply(u"again"_s, 10000);
        QVERIFY(answer);
        const QJsonObject data = dataOf(answer->json).toObject();
        QCOMPARE(data.value(u"recovered"_s).toBool(), true);
        QCOMPARE(data.value(u"epoch"_s).toString(), epoch);
        QList<qint64> got;
        for (const QJsonValue &publication : data.value(u"publications"_s).toArray())
            got.append(offsetOf(publication.toObject()));
        QCOMPARE(got.isEmpty() ? lastSeen : got.constFirst() - 1, lastSeen);
        QCOMPARE(got.isEmpty() ? lastSeen : got.constLast(), data.value(u"offset"_s).toInteger());
        // At least everything (a duplicate makes it more, and fails below).
        QTRY_VERIFY_WITH_TIMEOUT(got.size() + liveOffsets(again, u"feed"_s).size()
                                     >= total - lastSeen,
                                 20000);
        got.append(liveOffsets(again, u"feed"_s));
        QCOMPARE(got, range(lastSeen + 1, total));
        QTRY_COMPARE_WITH_TIMEOUT(liveOffsets(watcher, u"feed"_s), range(1, total), 20000);
        QCOMPARE(again.invalidMessages(), QStringList());
    }

    void recoverStates_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::addColumn<int>("from");
        QTest::addColumn<bool>("sameEpoch");
        QTest::addColumn<bool>("recovered");
        QTest::addColumn<QList<qint64>>("publications");
        QTest::newRow("nothing missed") << u"feed"_s << 6 << true << true << QList<qint64>{};
        QTest::newRow("missed two") << u"feed"_s << 4 << true << true << range(5, 6);
        QTest::newRow("pushed out of a history of 3")
            << u"small"_s << 1 << true << false << range(4, 6);
        QTest::newRow("another epoch") << u"feed"_s << 4 << false << false << range(1, 6);
    }

    void recoverStates()
    {
        QFETCH(QString, channel);
        QFETCH(int, from);
        QFETCH(bool, sameEpoch);
        QFETCH(bool, recovered);
        QFETCH(QList<qint64>, publications);
        QVERIFY(startServer());
        MtwClient publisher, client;
        QVERIFY(publisher.open(url()));
        QVERIFY(client.open(url()));
        QString epoch;
        for (int i = 1; i <= 6; ++i) {
            const auto reply =
                publisher.call(u"publish"_s, u"p%1"_s.arg(i), {{u"channel"_s, channel}});
            QVERIFY(reply);
            epoch = dataOf(reply->json).toObject().value(u"epoch"_s).toString();
        }
        const auto reply =
            client.call(u"subscribe"_s,
                        u"s"_s,
                        {{u"channel"_s, channel},
                         {u"metadata"_s, recoverFrom(from, sameEpoch ? epoch : u"GONEGONE"_s)}});
        QVERIFY(reply);
        const QJsonObject data = dataOf(reply->json).toObject();
        QCOMPARE(data.value(u"recovered"_s).toBool(!recovered), recovered);
        QCOMPARE(data.value(u"offset"_s).toInteger(), 6);
        QCOMPARE(data.value(u"epoch"_s).toString(), epoch);
        QList<qint64> got;
        for (const QJsonValue &publication : data.value(u"publications"_s).toArray()) {
            QCOMPARE(publication.toObject().value(u"channel"_s).toString(), channel);
            got.append(offsetOf(publication.toObject()));
        }
        QCOMPARE(got, publications);
    }

    void badPositions_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QJsonObject>("metadata");
        QTest::addColumn<QString>("field");
        const QJsonObject good{{u"offset"_s, 1}, {u"epoch"_s, u"E"_s}};
        auto with = [&](const QString &key, const QJsonValue &value) {
            QJsonObject position = good;
            position.insert(key, value);
            return position;
        };
        QTest::newRow("recover not an object")
            << u"subscribe"_s << QJsonObject{{u"recover"_s, 5}} << u"metadata.recover"_s;
        QTest::newRow("negative offset")
            << u"subscribe"_s << QJsonObject{{u"recover"_s, with(u"offset"_s, -1)}}
            << u"metadata.recover"_s;
        QTest::newRow("fractional offset")
            << u"subscribe"_s << QJsonObject{{u"recover"_s, with(u"offset"_s, 1.5)}}
            << u"metadata.recover"_s;
        QTest::newRow("offset as a string")
            << u"subscribe"_s << QJsonObject{{u"recover"_s, with(u"offset"_s, u"1"_s)}}
            << u"metadata.recover"_s;
        QTest::newRow("epoch not a string")
            << u"subscribe"_s << QJsonObject{{u"recover"_s, with(u"epoch"_s, 3)}}
            << u"metadata.recover"_s;
        QTest::newRow("history since without epoch")
            << u"request"_s
            << QJsonObject{{u"action"_s, u"history"_s}, {u"since"_s, QJsonObject{{u"offset"_s, 1}}}}
            << u"metadata.since"_s;
        QTest::newRow("history reverse not a bool")
            << u"request"_s << QJsonObject{{u"action"_s, u"history"_s}, {u"reverse"_s, u"yes"_s}}
            << u"metadata.reverse"_s;
    }

    void badPositions()
    {
        QFETCH(QString, type);
        QFETCH(QJsonObject, metadata);
        QFETCH(QString, field);
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        const auto reply =
            client.call(type, u"bad"_s, {{u"channel"_s, u"feed"_s}, {u"metadata"_s, metadata}});
        QVERIFY(reply);
        QCOMPARE(reply->json.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(reply->json.value(u"ref_id"_s).toString(), u"bad"_s);
        const QJsonObject error = dataOf(reply->json).toObject();
        QCOMPARE(error.value(u"code"_s).toInt(), 400);
        QVERIFY2(error.value(u"message"_s).toString().startsWith(field + u':'),
                 qPrintable(error.value(u"message"_s).toString()));
        // Not subscribed by a refused subscribe, and still served.
        const auto published = client.call(u"publish"_s, u"p"_s, {{u"channel"_s, u"feed"_s}});
        QVERIFY(published);
        QCOMPARE(dataOf(published->json).toObject().value(u"recipients"_s).toInt(), 0);
    }

    void historyPages()
    {
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        QString epoch;
        for (int i = 1; i <= 10; ++i) {
            const auto reply =
                client.call(u"publish"_s, u"p%1"_s.arg(i), {{u"channel"_s, u"feed"_s}});
            QVERIFY(reply);
            epoch = dataOf(reply->json).toObject().value(u"epoch"_s).toString();
        }
        auto page = [&](const QJsonObject &metadata) {
            QJsonObject request = metadata;
            request.insert(u"action"_s, u"history"_s);
            const auto reply = client.call(u"request"_s,
                                           u"h"_s + QString::number(qHash(request)),
                                           {{u"channel"_s, u"feed"_s}, {u"metadata"_s, request}});
            QList<qint64> offsets;
            if (reply) {
                const QJsonObject data = dataOf(reply->json).toObject();
                for (const QJsonValue &message : data.value(u"messages"_s).toArray())
                    offsets.append(offsetOf(message.toObject()));
                if (data.value(u"offset"_s).toInteger() != 10)
                    offsets.append(-1);
            }
            return offsets;
        };
        const QJsonObject since{{u"offset"_s, 3}, {u"epoch"_s, epoch}};
        QCOMPARE(page({{u"since"_s, since}, {u"limit"_s, 4}}), range(4, 7));
        QCOMPARE(page({{u"since"_s, since}, {u"limit"_s, 2}, {u"reverse"_s, true}}),
                 QList<qint64>({2, 1}));
        QCOMPARE(page({{u"limit"_s, 3}, {u"reverse"_s, true}}), QList<qint64>({10, 9, 8}));
        QCOMPARE(page({{u"limit"_s, 3}}), range(8, 10));
    }

    // Memory only: a restarted server has new epochs, so a client cannot mistake the new
    // stream for the old one.
    void restartWithoutStoreChangesTheEpoch()
    {
        QVERIFY(startServer());
        QString epoch;
        {
            MtwClient client;
            QVERIFY(client.open(url()));
            const auto reply = client.call(u"publish"_s, u"p"_s, {{u"channel"_s, u"feed"_s}});
            QVERIFY(reply);
            epoch = dataOf(reply->json).toObject().value(u"epoch"_s).toString();
        }
        m_server.reset();
        QVERIFY(startServer());
        MtwClient client;
        QVERIFY(client.open(url()));
        const auto reply =
            client.call(u"subscribe"_s,
                        u"s"_s,
                        {{u"channel"_s, u"feed"_s}, {u"metadata"_s, recoverFrom(1, epoch)}});
        QVERIFY(reply);
        const QJsonObject data = dataOf(reply->json).toObject();
        QCOMPARE(data.value(u"recovered"_s).toBool(true), false);
        QVERIFY(data.value(u"epoch"_s).toString() != epoch);
        QCOMPARE(data.value(u"offset"_s).toInteger(), 0);
        QCOMPARE(data.value(u"publications"_s).toArray().size(), 0);
    }

    // A recovery larger than one reply may be is refused whole, and the client is not left
    // subscribed without it.
    void recoveryTooLargeForOneReply()
    {
        Mtw::Config cfg = config();
        cfg.transport.websocket.maxMessageSize = 64 * 1024;
        cfg.transport.websocket.maxQueueSize = 64 * 1024;
        QVERIFY(startServer(cfg));
        MtwClient publisher, client;
        QVERIFY(publisher.open(url()));
        QVERIFY(client.open(url()));
        QString epoch;
        const QString filler(200, u'x');
        for (int i = 0; i < 400; ++i) {
            publisher.send(
                u"publish"_s,
                u"p%1"_s.arg(i),
                {{u"channel"_s, u"feed"_s},
                 {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, filler}}}});
        }
        const auto last = publisher.waitReply(u"p399"_s, 10000);
        QVERIFY(last);
        epoch = dataOf(last->json).toObject().value(u"epoch"_s).toString();
        const auto reply =
            client.call(u"subscribe"_s,
                        u"s"_s,
                        {{u"channel"_s, u"feed"_s}, {u"metadata"_s, recoverFrom(0, epoch)}});
        QVERIFY(reply);
        QCOMPARE(dataOf(reply->json).toObject().value(u"code"_s).toInt(), 413);
        const auto published =
            publisher.call(u"publish"_s, u"after"_s, {{u"channel"_s, u"feed"_s}});
        QVERIFY(published);
        QCOMPARE(dataOf(published->json).toObject().value(u"recipients"_s).toInt(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_Recovery)

#include "tst_recovery.moc"
