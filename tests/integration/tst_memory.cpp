// SPDX-License-Identifier: MIT
// Memory stays bounded when an anonymous client attacks the server: history replays to a peer
// that never reads, control-frame and ping floods, message rates, channel counts, the channel
// sweep, the `channels` listing, the admin socket and the MTW frame size. Every bound is checked
// by what the server does (who is disconnected and why, which error a client gets), never by
// how long something took. The RSS figures printed with qInfo are for information only.
#include "protocolclient.h"

#include <QFile>
#include <QNetworkRequest>
#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

constexpr qint64 QueueLimit = 256 * 1024;

// A masked client frame (zero masking key, payload below 64 KiB) whose first byte is `head`.
QByteArray clientFrame(quint8 head, const QByteArray &payload)
{
    QByteArray frame = maskedTextFrame(payload);
    frame[0] = char(head);
    return frame;
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); the server runs in this process.
qint64 statusKiB(const char *field)
{
    QFile status(u"/proc/self/status"_s);
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray prefix = QByteArray(field) + ':';
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith(prefix))
            return line.mid(prefix.size()).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

// Resets VmHWM to the current RSS (Linux 4.0 and later), so that it shows the peak from here on.
void resetPeakRss()
{
    QFile clearRefs(u"/proc/self/clear_refs"_s);
    if (clearRefs.open(QIODevice::WriteOnly))
        clearRefs.write("5");
}

QString errorMessage(const QJsonObject &message)
{
    return dataOf(message).toObject().value(u"message"_s).toString();
}

int errorCode(const QJsonObject &message)
{
    return dataOf(message).toObject().value(u"code"_s).toInt();
}

QString typeOf(const QJsonObject &message)
{
    return message.value(u"type"_s).toString();
}

QJsonObject textPayload(const QString &text)
{
    return QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, text}};
}

// A compact JSON envelope as a raw client sends it.
QByteArray rawEnvelope(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

} // namespace

class tst_Memory : public QObject
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

    // The conn_id of the connection opened last (the spy records Server::connectionOpened).
    static QString lastOpened(const QSignalSpy &opened)
    {
        return opened.isEmpty() ? QString() : opened.constLast().at(0).toString();
    }

    // Publishes `count` Text messages of `size` characters to `channelName` at once and waits for
    // every reply; false when one is missing or not a response.
    static bool publishMany(MtwClient &publisher,
                            const QString &channelName,
                            int count,
                            qsizetype size,
                            const QString &prefix)
    {
        const QString text(size, u'h');
        for (int i = 0; i < count; ++i) {
            publisher.send(u"publish"_s,
                           u"%1%2"_s.arg(prefix).arg(i),
                           {{u"channel"_s, channelName}, {u"payload"_s, textPayload(text)}});
        }
        for (int i = 0; i < count; ++i) {
            const auto reply = publisher.waitReply(u"%1%2"_s.arg(prefix).arg(i), 20000);
            if (!reply || typeOf(reply->json) != u"response"_s)
                return false;
        }
        return true;
    }

    // Every channel the `channels` action lists to `client`, a page of 1,000 at a time.
    static std::optional<QStringList> listedChannels(MtwClient &client)
    {
        static int calls = 0;
        QStringList names;
        QString after;
        for (int page = 0; page < 100; ++page) {
            QJsonObject metadata{{u"action"_s, u"channels"_s}, {u"limit"_s, 1000}};
            if (!after.isEmpty())
                metadata.insert(u"after"_s, after);
            const QString id = u"list%1"_s.arg(++calls);
            const auto reply = client.call(u"request"_s, id, {{u"metadata"_s, metadata}});
            if (!reply || typeOf(reply->json) != u"response"_s)
                return std::nullopt;
            const QJsonObject data = dataOf(reply->json).toObject();
            for (const QJsonValue &entry : data.value(u"channels"_s).toArray())
                names.append(entry.toObject().value(u"name"_s).toString());
            after = data.value(u"next"_s).toString();
            if (after.isEmpty())
                return names;
        }
        return std::nullopt;
    }

    // Writes `unit` to a raw client that never reads, a chunk at a time, until the server reports
    // `connId` closed or `maxBytes` are out. Returns the bytes written.
    static qint64 floodUntilClosed(QTcpSocket &socket,
                                   const QByteArray &unit,
                                   QSignalSpy &closed,
                                   const QString &connId,
                                   qint64 maxBytes)
    {
        const QByteArray chunk = unit.repeated(qMax<qsizetype>(1, (256 * 1024) / unit.size()));
        qint64 sent = 0;
        const auto over = [&] {
            return closeReason(closed, connId, 0).has_value()
                || socket.state() != QAbstractSocket::ConnectedState;
        };
        while (sent < maxBytes && !over()) {
            socket.write(chunk);
            sent += chunk.size();
            // Only as fast as the server reads: the test's own buffer stays one chunk.
            (void)QTest::qWaitFor([&] { return socket.bytesToWrite() == 0 || over(); }, 20000);
        }
        return sent;
    }

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    // 1. A peer that asks for 5 MB history replays again and again and never reads is dropped as
    // a slow consumer; a reader on the same channel is still served.
    void historyReplayToStalledClient()
    {
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxQueueSize = QueueLimit;
        Mtw::ChannelConfig replay = channel(u"replay"_s);
        replay.history = 50;
        replay.historyBytes = 64 * 1024 * 1024;
        config.channels.append(replay);
        QVERIFY(startServer(config));
        QSignalSpy opened(m_server.get(), &Mtw::Server::connectionOpened);
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);

        MtwClient reader, publisher;
        QVERIFY(publisher.open(url()));
        QVERIFY(publishMany(publisher, u"replay"_s, 50, 100 * 1000, u"h"_s));
        // The reader joins after the burst: the server may have taken several of those 100 KB
        // publishes from one read, and their fan-out would then count against the reader's queue
        // all at once, before any is written.
        QVERIFY(reader.open(url()));
        QVERIFY(reader.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"replay"_s}}));

        resetPeakRss();
        const qint64 rssBefore = statusKiB("VmRSS");
        QTcpSocket stalled;
        QVERIFY(openStalledClient(stalled, m_server->port(), QByteArray()));
        QTRY_COMPARE(opened.size(), 3);
        const QString stalledId = lastOpened(opened);
        QVERIFY(stalledId != reader.connId && stalledId != publisher.connId);
        QByteArray requests;
        for (int i = 0; i < 16; ++i) {
            requests += clientFrame(
                0x81,
                rawEnvelope(envelope(u"subscribe"_s,
                                     u"sub%1"_s.arg(i),
                                     {{u"channel"_s, u"replay"_s},
                                      {u"metadata"_s, QJsonObject{{u"history"_s, 50}}}})));
            requests +=
                clientFrame(0x81,
                            rawEnvelope(envelope(
                                u"request"_s,
                                u"req%1"_s.arg(i),
                                {{u"channel"_s, u"replay"_s},
                                 {u"metadata"_s,
                                  QJsonObject{{u"action"_s, u"history"_s}, {u"limit"_s, 50}}}})));
        }
        stalled.write(requests);

        // Each reply is about 5 MB: the first may go into the empty queue, a second can not.
        const auto reason = closeReason(closed, stalledId, 30000);
        qInfo("history replay to a stalled client: RSS %lld KiB before, %lld KiB after the drop, "
              "peak %lld KiB",
              rssBefore,
              statusKiB("VmRSS"),
              statusKiB("VmHWM"));
        QVERIFY2(reason, "the stalled client was never disconnected");
        QCOMPARE(reason->kind, Mtw::DisconnectReason::Kind::Error);
        QVERIFY2(reason->detail.startsWith(u"slow consumer: "_s), qPrintable(reason->detail));
        QVERIFY2(reason->detail.endsWith(u"limit %1"_s.arg(QueueLimit)),
                 qPrintable(reason->detail));

        // The bystanders keep being served, and only the stalled client went.
        const auto later = publisher.call(
            u"publish"_s,
            u"later"_s,
            {{u"channel"_s, u"replay"_s}, {u"payload"_s, textPayload(u"still here"_s)}});
        QVERIFY(later);
        QCOMPARE(typeOf(later->json), u"response"_s);
        QCOMPARE(dataOf(later->json).toObject().value(u"recipients"_s).toInt(), 1);
        QTRY_COMPARE(reader.ofType(u"publish"_s).size(), 1);
        QCOMPARE(reader.ofType(u"publish"_s).constFirst().json.value(u"id"_s).toString(),
                 u"later"_s);
        QVERIFY(reader.call(u"ping"_s, u"alive"_s, {}));
        QCOMPARE(closed.size(), 1);
        QCOMPARE(m_server->connectionCount(), 2);
    }

    // 2. A reply larger than both max_queue_size and max_message_size is refused with 413 (it
    // could never be queued); the connection stays open.
    void oversizeHistoryReplyIs413()
    {
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxQueueSize = QueueLimit;
        config.transport.websocket.maxMessageSize = 1000 * 1000;
        Mtw::ChannelConfig big = channel(u"big"_s);
        big.history = 50;
        big.historyBytes = 64 * 1024 * 1024;
        config.channels.append(big);
        QVERIFY(startServer(config));
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);

        MtwClient publisher, client;
        QVERIFY(publisher.open(url()));
        QVERIFY(publishMany(publisher, u"big"_s, 30, 100 * 1000, u"b"_s)); // 3 MB of history
        QVERIFY(client.open(url()));

        const auto reply = client.call(
            u"request"_s,
            u"all"_s,
            {{u"channel"_s, u"big"_s},
             {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}, {u"limit"_s, 50}}}});
        QVERIFY(reply);
        QCOMPARE(typeOf(reply->json), u"error"_s);
        QCOMPARE(reply->json.value(u"ref_id"_s).toString(), u"all"_s);
        QCOMPARE(errorCode(reply->json), 413);
        QVERIFY2(errorMessage(reply->json).contains(u"transport.websocket.max_queue_size"_s),
                 qPrintable(errorMessage(reply->json)));

        // The connection stays open, and a history that fits is served.
        const auto pong = client.call(u"ping"_s, u"p"_s, {});
        QVERIFY(pong);
        QCOMPARE(typeOf(pong->json), u"pong"_s);
        const auto few = client.call(
            u"request"_s,
            u"few"_s,
            {{u"channel"_s, u"big"_s},
             {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}, {u"limit"_s, 2}}}});
        QVERIFY(few);
        QCOMPARE(typeOf(few->json), u"response"_s);
        QCOMPARE(dataOf(few->json).toObject().value(u"messages"_s).toArray().size(), 2);
        QVERIFY(!client.closed);
        QCOMPARE(closed.size(), 0);
    }

    // A client that reads promptly may ask for a lot at once: ten history replays of ~0.9 MB in
    // one read batch exceed max_queue_size (8 MB) while they wait in Qt's buffer. Before, that
    // dropped the client as a slow consumer; now what waits goes to the kernel first.
    void promptReaderAskingMuchAtOnceIsServed()
    {
        Mtw::Config config = serverConfig();
        Mtw::ChannelConfig rooms = channel(u"room.*"_s);
        rooms.historyBytes = 4 * 1000 * 1000;
        config.channels.append(rooms);
        QVERIFY(startServer(config));
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient publisher, reader;
        QVERIFY(publisher.open(url()));
        QVERIFY(reader.open(url()));
        for (int room = 0; room < 10; ++room) {
            const QString name = u"room.%1"_s.arg(room);
            QVERIFY(reader.call(u"subscribe"_s, u"pre%1"_s.arg(room), {{u"channel"_s, name}}));
            QVERIFY(publishMany(publisher, name, 9, 100 * 1000, u"r%1-"_s.arg(room)));
            QVERIFY(reader.call(u"unsubscribe"_s, u"un%1"_s.arg(room), {{u"channel"_s, name}}));
        }
        for (int room = 0; room < 10; ++room) {
            reader.send(u"subscribe"_s,
                        u"s%1"_s.arg(room),
                        {{u"channel"_s, u"room.%1"_s.arg(room)},
                         {u"metadata"_s, QJsonObject{{u"history"_s, 50}}}});
        }
        for (int room = 0; room < 10; ++room) {
            const auto reply = reader.waitReply(u"s%1"_s.arg(room), 20000);
            QVERIFY2(reply, qPrintable(u"no reply to s%1"_s.arg(room)));
            QCOMPARE(typeOf(reply->json), u"response"_s);
            QCOMPARE(dataOf(reply->json).toObject().value(u"history"_s).toArray().size(), 9);
        }
        QVERIFY(!reader.closed);
        QCOMPARE(closed.size(), 0);
    }

    // A subscribe whose history reply is too large gets 413 and is not subscribed either: no
    // later publish reaches it, presence does not list it.
    void subscribeRefusedWith413IsNotAMember()
    {
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxQueueSize = QueueLimit;
        config.transport.websocket.maxMessageSize = 1000 * 1000;
        Mtw::ChannelConfig big = channel(u"big"_s);
        big.historyBytes = 64 * 1024 * 1024;
        config.channels.append(big);
        QVERIFY(startServer(config));
        MtwClient publisher, client;
        QVERIFY(publisher.open(url()));
        QVERIFY(publishMany(publisher, u"big"_s, 30, 100 * 1000, u"b"_s));
        QVERIFY(client.open(url()));
        const auto refused = client.call(
            u"subscribe"_s,
            u"s"_s,
            {{u"channel"_s, u"big"_s}, {u"metadata"_s, QJsonObject{{u"history"_s, 50}}}});
        QVERIFY(refused);
        QCOMPARE(errorCode(refused->json), 413);
        const auto published =
            publisher.call(u"publish"_s,
                           u"after"_s,
                           {{u"channel"_s, u"big"_s}, {u"payload"_s, textPayload(u"x"_s)}});
        QVERIFY(published);
        QCOMPARE(dataOf(published->json).toObject().value(u"recipients"_s).toInt(), 0);
        const auto presence = client.call(
            u"request"_s,
            u"who"_s,
            {{u"channel"_s, u"big"_s}, {u"metadata"_s, QJsonObject{{u"action"_s, u"presence"_s}}}});
        QVERIFY(presence);
        QCOMPARE(dataOf(presence->json).toObject().value(u"members"_s).toArray().size(), 0);
        // A subscribe without the large replay works.
        const auto plain = client.call(u"subscribe"_s, u"s2"_s, {{u"channel"_s, u"big"_s}});
        QVERIFY(plain);
        QCOMPARE(typeOf(plain->json), u"response"_s);
    }

    // Empty channels waiting out their quiet period cannot lock newcomers out of
    // server.max_channels: at the bound they are reclaimed first.
    void emptyChannelsDoNotExhaustMaxChannels()
    {
        Mtw::Config config = serverConfig();
        config.server.maxChannels = 10;
        QVERIFY(startServer(config)); // history_ttl 300 s: nothing expires during the test
        MtwClient squatter, newcomer;
        QVERIFY(squatter.open(url()));
        QVERIFY(newcomer.open(url()));
        for (int i = 0; i < 10; ++i) {
            QVERIFY(
                squatter.call(u"subscribe"_s, u"s%1"_s.arg(i), {{u"channel"_s, u"sq%1"_s.arg(i)}}));
            QVERIFY(squatter.call(u"unsubscribe"_s,
                                  u"u%1"_s.arg(i),
                                  {{u"channel"_s, u"sq%1"_s.arg(i)}}));
        }
        const auto reply = newcomer.call(u"subscribe"_s, u"n"_s, {{u"channel"_s, u"fresh"_s}});
        QVERIFY(reply);
        QCOMPARE(typeOf(reply->json), u"response"_s);
    }

    // 3. Floods from a client that never reads: what the server answers by itself (WebSocket
    // Pongs from QWebSocket, MTW 0x04 pongs, JSON pongs) counts against max_queue_size, so the
    // flooder is dropped as a slow consumer. rate_limit = 0: the queue bound is what holds.
    void pingFloodIsBounded_data()
    {
        QTest::addColumn<QByteArray>("unit");
        QTest::newRow("WebSocket Ping control frames")
            << clientFrame(0x89, QByteArray(125, 'p')); // FIN + Ping, 125-byte payload
        QTest::newRow("MTW 0x03 pings")
            << clientFrame(0x82, Mtw::encodeFrame(Mtw::FrameType::Ping));
        QTest::newRow("JSON ping envelopes")
            << clientFrame(0x81,
                           rawEnvelope(envelope(u"ping"_s, u"ping-%1"_s.arg(QString(64, u'x')))));
    }

    void pingFloodIsBounded()
    {
        QFETCH(QByteArray, unit);
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxQueueSize = QueueLimit;
        config.transport.websocket.rateLimit = 0;
        QVERIFY(startServer(config));
        QSignalSpy opened(m_server.get(), &Mtw::Server::connectionOpened);
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);

        MtwClient bystander;
        QVERIFY(bystander.open(url()));
        resetPeakRss();
        const qint64 rssBefore = statusKiB("VmRSS");
        QTcpSocket flooder;
        QVERIFY(openStalledClient(flooder, m_server->port(), QByteArray()));
        QTRY_COMPARE(opened.size(), 2);
        const QString flooderId = lastOpened(opened);

        // The kernel buffers take a few MB of answers before the server's queue grows.
        const qint64 sent = floodUntilClosed(flooder, unit, closed, flooderId, 64 * 1024 * 1024);
        const auto reason = closeReason(closed, flooderId, 20000);
        qInfo("flooder %s after %lld bytes (%lld pings); RSS %lld KiB before, %lld KiB "
              "after, peak %lld KiB",
              reason ? "dropped" : "NOT dropped",
              sent,
              sent / unit.size(),
              rssBefore,
              statusKiB("VmRSS"),
              statusKiB("VmHWM"));
        QVERIFY2(reason, qPrintable(u"not disconnected after %1 bytes of pings"_s.arg(sent)));
        QCOMPARE(reason->kind, Mtw::DisconnectReason::Kind::Error);
        QVERIFY2(reason->detail.startsWith(u"slow consumer: "_s), qPrintable(reason->detail));
        QVERIFY2(reason->detail.endsWith(u"limit %1"_s.arg(QueueLimit)),
                 qPrintable(reason->detail));

        const auto pong = bystander.call(u"ping"_s, u"alive"_s, {});
        QVERIFY(pong);
        QCOMPARE(typeOf(pong->json), u"pong"_s);
        QCOMPARE(closed.size(), 1);
    }

    // 4. rate_limit = 1, rate_burst = 5, 20 pings at once: 5 pongs, then 429s, then (after more
    // than rate_burst refusals in a row) Close 1008. At most one token refills per second.
    void rateLimit()
    {
        Mtw::Config config = serverConfig();
        config.transport.websocket.rateLimit = 1;
        config.transport.websocket.rateBurst = 5;
        QVERIFY(startServer(config));
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient client;
        QVERIFY(client.open(url())); // the token bucket starts full
        constexpr int Sent = 20;
        for (int i = 0; i < Sent; ++i)
            client.send(u"ping"_s, u"p%1"_s.arg(i));
        QVERIFY(client.waitClosed(20000));
        QCOMPARE(client.closeCode, 1008);
        QCOMPARE(client.closeReason, u"message rate limit exceeded"_s);
        const auto reason = closeReason(closed, client.connId);
        QVERIFY(reason);
        QCOMPARE(*reason, Mtw::DisconnectReason::error(u"message rate limit exceeded"_s));

        // The replies, in order: one per message up to the one that closed the connection.
        QList<QJsonObject> replies;
        for (const MtwClient::Received &entry : std::as_const(client.log)) {
            if (entry.json.contains(u"ref_id"_s))
                replies.append(entry.json);
        }
        QVERIFY2(replies.size() < Sent, "every message was answered: the connection never closed");
        int pongs = 0;
        int refused = 0;
        for (int i = 0; i < replies.size(); ++i) {
            const QJsonObject &reply = replies.at(i);
            QCOMPARE(reply.value(u"ref_id"_s).toString(), u"p%1"_s.arg(i));
            if (typeOf(reply) == u"pong"_s) {
                ++pongs;
                continue;
            }
            QCOMPARE(typeOf(reply), u"error"_s);
            QCOMPARE(errorCode(reply), 429);
            QVERIFY2(errorMessage(reply).contains(u"rate limit exceeded"_s),
                     qPrintable(errorMessage(reply)));
            ++refused;
        }
        for (int i = 0; i < 5; ++i)
            QCOMPARE(typeOf(replies.at(i)), u"pong"_s); // the burst
        // The close came after more than rate_burst refusals in a row: the last five replies are
        // 429s, and the refused message after them got none.
        QVERIFY(replies.size() >= 10);
        for (int i = replies.size() - 5; i < replies.size(); ++i)
            QCOMPARE(typeOf(replies.at(i)), u"error"_s);
        // Every reply is a pong or a 429; the last five are 429s (checked above).
        qInfo("%d pongs, %d refusals", pongs, refused);
        QVERIFY2(pongs >= 5 && pongs + refused == replies.size(),
                 qPrintable(QString::number(pongs)));
        QVERIFY(refused >= 5);
    }

    // 5a. server.max_channels bounds the channels that exist at once.
    void maxChannels()
    {
        Mtw::Config config = serverConfig();
        config.server.maxChannels = 10;
        QVERIFY(startServer(config));
        MtwClient first, second;
        QVERIFY(first.open(url()));
        QVERIFY(second.open(url()));
        for (int i = 0; i < 10; ++i) {
            const auto reply =
                first.call(u"subscribe"_s, u"s%1"_s.arg(i), {{u"channel"_s, u"c%1"_s.arg(i)}});
            QVERIFY(reply);
            QCOMPARE(typeOf(reply->json), u"response"_s);
        }
        for (MtwClient *client : {&first, &second}) {
            const auto refused =
                client->call(u"subscribe"_s, u"eleventh"_s, {{u"channel"_s, u"c10"_s}});
            QVERIFY(refused);
            QCOMPARE(typeOf(refused->json), u"error"_s);
            QCOMPARE(errorCode(refused->json), 503);
            QVERIFY2(errorMessage(refused->json).contains(u"server.max_channels"_s),
                     qPrintable(errorMessage(refused->json)));
        }
        // An existing channel still works for everyone.
        const auto joined = second.call(u"subscribe"_s, u"join"_s, {{u"channel"_s, u"c3"_s}});
        QVERIFY(joined);
        QCOMPARE(typeOf(joined->json), u"response"_s);
        QCOMPARE(dataOf(joined->json).toObject().value(u"members"_s).toInt(), 2);
        const auto published =
            first.call(u"publish"_s,
                       u"pub"_s,
                       {{u"channel"_s, u"c3"_s}, {u"payload"_s, textPayload(u"hi"_s)}});
        QVERIFY(published);
        QCOMPARE(dataOf(published->json).toObject().value(u"recipients"_s).toInt(), 1);
        QTRY_COMPARE(second.ofType(u"publish"_s, u"c3"_s).size(), 1);
    }

    // 5b. server.max_channels_per_connection bounds one connection's subscriptions; channel names
    // are at most 255 characters.
    void maxChannelsPerConnection()
    {
        Mtw::Config config = serverConfig();
        config.server.maxChannelsPerConnection = 5;
        QVERIFY(startServer(config));
        MtwClient first, second;
        QVERIFY(first.open(url()));
        QVERIFY(second.open(url()));
        for (int i = 0; i < 5; ++i) {
            const auto reply =
                first.call(u"subscribe"_s, u"s%1"_s.arg(i), {{u"channel"_s, u"p%1"_s.arg(i)}});
            QVERIFY(reply);
            QCOMPARE(typeOf(reply->json), u"response"_s);
        }
        const auto refused = first.call(u"subscribe"_s, u"sixth"_s, {{u"channel"_s, u"p5"_s}});
        QVERIFY(refused);
        QCOMPARE(typeOf(refused->json), u"error"_s);
        QCOMPARE(errorCode(refused->json), 429);
        QVERIFY2(errorMessage(refused->json).contains(u"server.max_channels_per_connection"_s),
                 qPrintable(errorMessage(refused->json)));
        // Subscribing again to a channel it is in takes no new slot.
        const auto again = first.call(u"subscribe"_s, u"again"_s, {{u"channel"_s, u"p2"_s}});
        QVERIFY(again);
        QCOMPARE(typeOf(again->json), u"response"_s);
        // Another connection is not affected.
        const auto other = second.call(u"subscribe"_s, u"other"_s, {{u"channel"_s, u"p5"_s}});
        QVERIFY(other);
        QCOMPARE(typeOf(other->json), u"response"_s);
        // A slot freed by an unsubscribe can be used again.
        QVERIFY(first.call(u"unsubscribe"_s, u"leave"_s, {{u"channel"_s, u"p0"_s}}));
        const auto freed = first.call(u"subscribe"_s, u"freed"_s, {{u"channel"_s, u"p5"_s}});
        QVERIFY(freed);
        QCOMPARE(typeOf(freed->json), u"response"_s);

        const auto longest =
            second.call(u"subscribe"_s, u"n255"_s, {{u"channel"_s, QString(255, u'n')}});
        QVERIFY(longest);
        QCOMPARE(typeOf(longest->json), u"response"_s);
        const auto tooLong =
            second.call(u"subscribe"_s, u"n256"_s, {{u"channel"_s, QString(256, u'n')}});
        QVERIFY(tooLong);
        QCOMPARE(typeOf(tooLong->json), u"error"_s);
        QCOMPARE(errorCode(tooLong->json), 400);
        QVERIFY2(errorMessage(tooLong->json).contains(u"at most 255"_s),
                 qPrintable(errorMessage(tooLong->json)));
    }

    // 6. Channels matched only by a pattern are reclaimed once empty and expired; a channel
    // configured by its exact name never is.
    void unusedChannelsAreReclaimed()
    {
        Mtw::Config config = serverConfig();
        config.transport.websocket.rateLimit = 0;
        config.server.maxChannelsPerConnection = 5000;
        Mtw::ChannelConfig tmp = channel(u"tmp.**"_s);
        tmp.historyTtl = 1;
        Mtw::ChannelConfig pinned = channel(u"tmp.pinned"_s);
        pinned.historyTtl = 1;
        config.channels = {pinned, tmp};
        QVERIFY(startServer(config));
        MtwClient client;
        QVERIFY(client.open(url()));

        constexpr int Count = 2000;
        QStringList names;
        for (int i = 0; i < Count; ++i) {
            names.append(u"tmp.%1"_s.arg(i));
            client.send(u"subscribe"_s, u"s%1"_s.arg(i), {{u"channel"_s, names.constLast()}});
            if (i % 10 == 0) { // into the history of some of them
                client.send(
                    u"publish"_s,
                    u"m%1"_s.arg(i),
                    {{u"channel"_s, names.constLast()}, {u"payload"_s, textPayload(u"x"_s)}});
            }
        }
        QVERIFY(client.call(u"subscribe"_s, u"pin"_s, {{u"channel"_s, u"tmp.pinned"_s}}));
        QVERIFY(
            client.call(u"publish"_s,
                        u"pinpub"_s,
                        {{u"channel"_s, u"tmp.pinned"_s}, {u"payload"_s, textPayload(u"x"_s)}}));
        int responses = 0;
        for (const MtwClient::Received &entry : std::as_const(client.log))
            responses += typeOf(entry.json) == u"response"_s ? 1 : 0;
        QCOMPARE(responses, Count + Count / 10 + 2);

        // Listed while still subscribed: a listing after the unsubscribes would race the one-second
        // TTL. Members keep a channel, whatever the clock says.
        const auto listed = listedChannels(client);
        QVERIFY(listed);
        QCOMPARE(listed->size(), Count + 1);
        QVERIFY(listed->contains(u"tmp.pinned"_s));
        for (const QString &name : std::as_const(names))
            QVERIFY2(listed->contains(name), qPrintable(name));

        for (int i = 0; i < Count; ++i)
            client.send(u"unsubscribe"_s, u"u%1"_s.arg(i), {{u"channel"_s, names.at(i)}});
        QVERIFY(client.call(u"unsubscribe"_s, u"unpin"_s, {{u"channel"_s, u"tmp.pinned"_s}}));

        // Once their history has expired and they were quiet for history_ttl, the sweep removes
        // them: none is listed any more, while the configured one stays.
        QStringList remaining;
        const auto onlyPinnedListed = [&] {
            remaining = listedChannels(client).value_or(QStringList{u"(no reply)"_s});
            return remaining == QStringList{u"tmp.pinned"_s};
        };
        QTRY_VERIFY2_WITH_TIMEOUT(onlyPinnedListed(),
                                  qPrintable(u"%1 channels still listed"_s.arg(remaining.size())),
                                  30000);
        QCOMPARE(remaining, QStringList{u"tmp.pinned"_s});
        // Its history has expired too, but the channel is still there to publish to.
        const auto pinnedPublish =
            client.call(u"publish"_s,
                        u"late"_s,
                        {{u"channel"_s, u"tmp.pinned"_s}, {u"payload"_s, textPayload(u"x"_s)}});
        QVERIFY(pinnedPublish);
        QCOMPARE(typeOf(pinnedPublish->json), u"response"_s);
        const auto gone =
            client.call(u"publish"_s,
                        u"gone"_s,
                        {{u"channel"_s, u"tmp.10"_s}, {u"payload"_s, textPayload(u"x"_s)}});
        QVERIFY(gone);
        QCOMPARE(errorCode(gone->json), 404);
    }

    // 7. The `channels` action hides auth channels from anonymous clients and pages by name.
    void channelsAction()
    {
        Mtw::Config config = serverConfig();
        Mtw::ChannelConfig vault = channel(u"vault"_s);
        vault.auth = true;
        config.channels.append(vault);
        QVERIFY(startServer(config));
        MtwClient client;
        QVERIFY(client.open(url()));
        // The auth channel exists (configured): an anonymous history request is refused with 401,
        // not 404.
        const auto secret =
            client.call(u"request"_s,
                        u"secret"_s,
                        {{u"channel"_s, u"vault"_s},
                         {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}}}});
        QVERIFY(secret);
        QCOMPARE(errorCode(secret->json), 401);

        const QStringList names{u"list.a"_s, u"list.b"_s, u"list.c"_s, u"list.d"_s, u"list.e"_s};
        for (const QString &name : names)
            QVERIFY(client.call(u"subscribe"_s, u"sub-"_s + name, {{u"channel"_s, name}}));
        const auto all = listedChannels(client);
        QVERIFY(all);
        QCOMPARE(*all, names);

        int call = 0;
        const auto page = [&](const QJsonObject &extra) {
            QJsonObject metadata = extra;
            metadata.insert(u"action"_s, u"channels"_s);
            return client.call(u"request"_s, u"page%1"_s.arg(++call), {{u"metadata"_s, metadata}});
        };
        const auto namesOf = [](const QJsonObject &data) {
            QStringList out;
            for (const QJsonValue &entry : data.value(u"channels"_s).toArray())
                out.append(entry.toObject().value(u"name"_s).toString());
            return out;
        };
        QString after;
        QList<QStringList> pages;
        for (int i = 0; i < 3; ++i) {
            QJsonObject metadata{{u"limit"_s, 2}};
            if (!after.isEmpty())
                metadata.insert(u"after"_s, after);
            const auto reply = page(metadata);
            QVERIFY(reply);
            QCOMPARE(typeOf(reply->json), u"response"_s);
            const QJsonObject data = dataOf(reply->json).toObject();
            pages.append(namesOf(data));
            if (i < 2) {
                QVERIFY2(data.contains(u"next"_s), qPrintable(QString::number(i)));
                after = data.value(u"next"_s).toString();
                QCOMPARE(after, pages.constLast().constLast());
            } else {
                QVERIFY(!data.contains(u"next"_s)); // the last page
            }
        }
        QCOMPARE(pages,
                 (QList<QStringList>{{u"list.a"_s, u"list.b"_s},
                                     {u"list.c"_s, u"list.d"_s},
                                     {u"list.e"_s}}));

        const QList<QJsonValue> badLimits{0, -1, 1.5, u"2"_s};
        for (const QJsonValue &limit : badLimits) {
            const auto reply = page(QJsonObject{{u"limit"_s, limit}});
            QVERIFY(reply);
            QCOMPARE(typeOf(reply->json), u"error"_s);
            QCOMPARE(errorCode(reply->json), 400);
            QVERIFY2(errorMessage(reply->json).contains(u"metadata.limit"_s),
                     qPrintable(errorMessage(reply->json)));
        }
    }

    // 8. The admin API reads no message over its own limit: 2 MB closes with 1009.
    void adminSocketMessageLimit()
    {
        QVERIFY(startServer(serverConfig()));
        const auto attach = [this](TestClient &admin) {
            QNetworkRequest request(QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(m_server->port())));
            request.setRawHeader("Authorization", "Bearer " + m_server->adminToken().toUtf8());
            admin.socket.open(request);
            return QTest::qWaitFor([&] { return !admin.received.isEmpty() || admin.closed; }, 10000)
                && !admin.received.isEmpty()
                && typeOf(admin.received.constFirst()) == u"snapshot"_s;
        };
        TestClient admin;
        QVERIFY(attach(admin));
        admin.socket.sendTextMessage(QString(2 * 1000 * 1000, u'a'));
        QVERIFY(admin.waitClosed(20000));
        QCOMPARE(admin.closeCode, 1009);

        MtwClient client;
        QVERIFY(client.open(url()));
        const auto pong = client.call(u"ping"_s, u"p"_s, {});
        QVERIFY(pong);
        QCOMPARE(typeOf(pong->json), u"pong"_s);
        TestClient again;
        QVERIFY(attach(again));
    }

    // 8b. An admin client that stops reading is disconnected once its queue is full, rather
    // than left attached with its output silently dropped.
    void adminClientThatStopsReadingIsDropped()
    {
        Mtw::Config config = serverConfig();
        Mtw::ChannelConfig replay = channel(u"replay"_s);
        replay.history = 50;
        replay.historyBytes = 64 * 1024 * 1024;
        config.channels.append(replay);
        QVERIFY(startServer(config));
        MtwClient publisher;
        QVERIFY(publisher.open(url()));
        QVERIFY(publishMany(publisher, u"replay"_s, 50, 100 * 1000, u"h"_s));

        QTcpSocket admin;
        admin.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(admin.waitForConnected(5000));
        admin.write("GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + m_server->adminToken().toUtf8()
                    + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n");
        QByteArray head;
        QVERIFY(QTest::qWaitFor(
            [&] {
                head += admin.readAll();
                return head.contains("\r\n\r\n");
            },
            5000));
        QVERIFY(head.startsWith("HTTP/1.1 101"));
        admin.setReadBufferSize(1024); // from now on it reads nothing
        // Each result is about 5 MB: 20 of them are more than the 64 MB an admin may have queued.
        QByteArray actions;
        for (int i = 0; i < 20; ++i) {
            actions += clientFrame(0x81,
                                   R"({"id":"h)" + QByteArray::number(i)
                                       + R"(","action":"history","channel":"replay","limit":50})");
        }
        admin.write(actions);
        // Once the server has reset the connection, a write fails and the socket is closed. The
        // probe is a Ping, cheap for a server that still reads.
        const auto resetByServer = [&] {
            if (admin.state() == QAbstractSocket::ConnectedState)
                admin.write(clientFrame(0x89, "probe"));
            return admin.state() == QAbstractSocket::UnconnectedState;
        };
        QTRY_VERIFY_WITH_TIMEOUT(resetByServer(), 30000);

        MtwClient client;
        QVERIFY(client.open(url()));
        QVERIFY(client.call(u"ping"_s, u"p"_s, {}));
        TestClient again;
        QNetworkRequest request(QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(m_server->port())));
        request.setRawHeader("Authorization", "Bearer " + m_server->adminToken().toUtf8());
        again.socket.open(request);
        QTRY_VERIFY(!again.received.isEmpty());
        QCOMPARE(typeOf(again.received.constFirst()), u"snapshot"_s);
    }

    // 9. The MTW frame size limit is max_message_size, not a fixed 10 MiB.
    void mtwFrameSizeFollowsMaxMessageSize_data()
    {
        QTest::addColumn<qint64>("maxMessageSize");
        QTest::addColumn<bool>("accepted");
        QTest::newRow("max_message_size 20MB") << qint64(20 * 1000 * 1000) << true;
        QTest::newRow("default 10MB") << qint64(10 * 1000 * 1000) << false;
    }

    void mtwFrameSizeFollowsMaxMessageSize()
    {
        QFETCH(qint64, maxMessageSize);
        QFETCH(bool, accepted);
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxMessageSize = maxMessageSize;
        QVERIFY(startServer(config));
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient reader, publisher(true);
        QVERIFY(reader.open(url()));
        QVERIFY(reader.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"large"_s}}));
        QVERIFY(publisher.open(url()));
        QVERIFY(publisher.call(u"ping"_s, u"binary"_s, {})); // MTW mode from here on

        const QString text(12 * 1024 * 1024, u'm');
        const QJsonObject message =
            envelope(u"publish"_s,
                     u"large"_s,
                     {{u"channel"_s, u"large"_s}, {u"payload"_s, textPayload(text)}});
        QVERIFY(rawEnvelope(message).size() > 12 * 1024 * 1024);
        publisher.sendObject(message);
        if (accepted) {
            const auto reply = publisher.waitReply(u"large"_s, 30000);
            QVERIFY(reply);
            QVERIFY(reply->binary);
            QCOMPARE(typeOf(reply->json), u"response"_s);
            QCOMPARE(dataOf(reply->json).toObject().value(u"recipients"_s).toInt(), 1);
            QTRY_COMPARE_WITH_TIMEOUT(reader.ofType(u"publish"_s).size(), 1, 30000);
            QCOMPARE(dataOf(reader.ofType(u"publish"_s).constFirst().json).toString().size(),
                     text.size());
            QCOMPARE(closed.size(), 0);
        } else {
            QVERIFY(publisher.waitClosed(30000));
            QCOMPARE(publisher.closeCode, 1009);
            QVERIFY(!publisher.waitReply(u"large"_s, 0));
            const auto reason = closeReason(closed, publisher.connId);
            QVERIFY(reason);
            QCOMPARE(*reason, Mtw::DisconnectReason::error(u"message too large"_s));
            QVERIFY(reader.call(u"ping"_s, u"alive"_s, {}));
            QCOMPARE(reader.ofType(u"publish"_s).size(), 0);
        }
    }
};

QTEST_GUILESS_MAIN(tst_Memory)
#include "tst_memory.moc"
