// SPDX-License-Identifier: MIT
// Limits and disconnect paths over real sockets: oversize messages, slow consumers, ping
// timeouts, and the DisconnectReason that Server::connectionClosed reports for every way a
// connection can end (PROTOCOL.md §1, §3, §6).
#include "protocolclient.h"

#include <QtTest>

#include <algorithm>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

enum class Ending {
    ClientClose,
    DisconnectMessage,
    TcpEof,
    TcpAbort,
    ProtocolErrors,
    Oversize,
    BadWebSocketFrame,
    InvalidUtf8,
    FragmentedOversize,
    ServerShutdown,
};

// A masked client frame (zero masking key) whose first byte is `head` (FIN, RSV, opcode).
QByteArray clientFrame(quint8 head, const QByteArray &payload)
{
    QByteArray frame = maskedTextFrame(payload);
    frame[0] = char(head);
    return frame;
}

// The client's half of an upgraded connection that speaks raw frames (or nothing at all).
bool openRawClient(QTcpSocket &socket, quint16 port)
{
    return openStalledClient(socket, port, QByteArray());
}

// An upgraded connection that records the server's frames as they come, Pings and the close
// frame included, in order. It answers Pings when told to, and never answers a close.
struct RawPeer
{
    QTcpSocket socket;
    QList<ServerFrame> frames;
    bool answerPings = false;
    QByteArray buffer;

    bool open(quint16 port)
    {
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (!socket.waitForConnected(5000))
            return false;
        socket.write(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        if (!QTest::qWaitFor(
                [this] {
                    buffer += socket.readAll();
                    return buffer.contains("\r\n\r\n");
                },
                10000)
            || !buffer.startsWith("HTTP/1.1 101")) {
            return false;
        }
        buffer.remove(0, buffer.indexOf("\r\n\r\n") + 4); // frames may follow in the same read
        QObject::connect(&socket, &QTcpSocket::readyRead, &socket, [this] { read(); });
        read();
        return true;
    }

    void read()
    {
        buffer += socket.readAll();
        for (const ServerFrame &frame : takeServerFrames(buffer)) {
            frames.append(frame);
            if (frame.opcode == ServerFrame::Ping && answerPings)
                socket.write(clientFrame(0x8A, frame.payload)); // FIN + Pong, same payload
        }
    }

    int count(quint8 opcode) const
    {
        return int(std::count_if(frames.cbegin(), frames.cend(), [opcode](const ServerFrame &f) {
            return f.opcode == opcode;
        }));
    }
};

} // namespace

Q_DECLARE_METATYPE(Ending)

class tst_Limits : public QObject
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

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    void oversizeMessageClosesWith1009_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::newRow("text") << false;
        QTest::newRow("binary") << true;
    }

    void oversizeMessageClosesWith1009()
    {
        QFETCH(bool, binary);
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxMessageSize = 2048;
        QVERIFY(startServer(config));
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
        MtwClient client(binary);
        QVERIFY(client.open(url()));

        // Just under the limit is fine.
        const QJsonObject small =
            envelope(u"request"_s,
                     u"small"_s,
                     {{u"payload"_s,
                       QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, QString(1800, u'a')}}}});
        client.sendObject(small);
        const auto echo = client.waitReply(u"small"_s);
        QVERIFY(echo);
        QCOMPARE(dataOf(echo->json).toString(), QString(1800, u'a'));

        client.send(u"request"_s,
                    u"big"_s,
                    {{u"payload"_s,
                      QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, QString(4096, u'b')}}}});
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 1009);
        QVERIFY(!client.waitReply(u"big"_s, 0));
        const auto reason = closeReason(closed, client.connId);
        QVERIFY(reason);
        QCOMPARE(*reason, Mtw::DisconnectReason::error(u"message too large"_s));
    }

    void slowConsumerIsDropped()
    {
        constexpr qint64 QueueLimit = 64 * 1024;
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxQueueSize = QueueLimit;
        QVERIFY(startServer(config));
        QSignalSpy opened(m_server.get(), &Mtw::Server::connectionOpened);
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);

        QTcpSocket stalled;
        QVERIFY(openStalledClient(stalled, m_server->port(), "flood"));
        QTRY_COMPARE(opened.size(), 1);
        const QString stalledId = opened.at(0).at(0).toString();
        MtwClient reader, publisher;
        QVERIFY(reader.open(url()));
        QVERIFY(reader.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"flood"_s}}));
        QVERIFY(publisher.open(url()));

        // Each message waits until the normal reader has it, so that only the stalled peer's
        // queue can grow. The kernel buffers take a few MB before the server's queue grows.
        const QString chunk(128 * 1024, u'x');
        int published = 0;
        int afterDrop = -1;
        while (published < 400 && afterDrop < 5) {
            const QString id = u"f%1"_s.arg(published);
            const auto reply = publisher.call(
                u"publish"_s,
                id,
                {{u"channel"_s, u"flood"_s},
                 {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, chunk}}}});
            QVERIFY2(reply, qPrintable(u"no reply to %1"_s.arg(id)));
            QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
            ++published;
            QTRY_COMPARE(reader.ofType(u"publish"_s).size(), published);
            if (afterDrop >= 0) {
                // Once the server has reported it gone, the stalled peer is no recipient.
                QCOMPARE(dataOf(reply->json).toObject().value(u"recipients"_s).toInt(), 1);
                ++afterDrop;
            } else if (closeReason(closed, stalledId, 0)) {
                afterDrop = 0;
            } else {
                QCOMPARE(dataOf(reply->json).toObject().value(u"recipients"_s).toInt(), 2);
            }
        }
        QVERIFY2(afterDrop == 5, "the stalled subscriber was never dropped");
        qInfo("stalled subscriber dropped after %d messages of %lld bytes",
              published - 5,
              qint64(chunk.size()));
        const auto reason = closeReason(closed, stalledId, 0);
        QCOMPARE(reason->kind, Mtw::DisconnectReason::Kind::Error);
        QVERIFY2(reason->detail.startsWith(u"slow consumer"_s), qPrintable(reason->detail));
        QVERIFY2(reason->detail.endsWith(u"limit %1"_s.arg(QueueLimit)),
                 qPrintable(reason->detail));

        // The normal reader got everything, in order; nobody else was disconnected.
        const QList<MtwClient::Received> got = reader.ofType(u"publish"_s);
        for (int i = 0; i < published; ++i)
            QCOMPARE(got.at(i).json.value(u"id"_s).toString(), u"f%1"_s.arg(i));
        QCOMPARE(closed.size(), 1);
        QVERIFY(reader.socket.isValid());
        QVERIFY(publisher.socket.isValid());
        QTRY_COMPARE(m_server->connectionCount(), 2);
    }

    // A peer that answers no Ping is closed with 1008 "ping timeout", once two intervals passed
    // without a Pong: after the Pings it ignored, with a close frame, reason Timeout. A peer that
    // answers its Pings outlasts more of them than the silent one could, and stays.
    void pingTimeout()
    {
        Mtw::Config config = serverConfig();
        config.transport.websocket.pingInterval = 1;
        QVERIFY(startServer(config));
        QSignalSpy opened(m_server.get(), &Mtw::Server::connectionOpened);
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);

        RawPeer silent; // reads everything, answers neither Pings nor the close frame
        QVERIFY(silent.open(m_server->port()));
        QTRY_COMPARE(opened.size(), 1);
        const QString silentId = opened.at(0).at(0).toString();
        RawPeer responsive; // on the other worker
        responsive.answerPings = true;
        QVERIFY(responsive.open(m_server->port()));
        QTRY_COMPARE(opened.size(), 2);
        const QString responsiveId = opened.at(1).at(0).toString();

        const auto reason = closeReason(closed, silentId, 60000);
        QVERIFY(reason);
        QCOMPARE(*reason, Mtw::DisconnectReason::timeout());
        // The server hung up after its close frame: once the socket is at its end, the close
        // frame is the last thing it said, and it said it once.
        QTRY_COMPARE_WITH_TIMEOUT(silent.socket.state(), QAbstractSocket::UnconnectedState, 60000);
        silent.read();
        QVERIFY(!silent.frames.isEmpty());
        const ServerFrame last = silent.frames.constLast();
        QCOMPARE(last.opcode, quint8(ServerFrame::Close));
        QCOMPARE(last.closeCode(), 1008);
        QCOMPARE(last.closeReason(), QByteArray("ping timeout"));
        QCOMPARE(silent.count(ServerFrame::Close), 1);
        QVERIFY(silent.buffer.isEmpty());
        // Before that, the Pings it ignored. The limit (two intervals and a half, 2.5 s) is
        // checked on the 1 s ping timer: the peer was given at least two Pings to answer, and
        // no more than three, the most that fit into the limit.
        const int ignored = silent.count(ServerFrame::Ping);
        qInfo("silent peer closed after %d unanswered pings", ignored);
        QVERIFY2(ignored >= 2 && ignored <= 3, qPrintable(QString::number(ignored)));

        // The Pongs keep the other one: a fourth Ping is one more than an unanswering peer
        // ever gets, and it still is served.
        QTRY_VERIFY_WITH_TIMEOUT(responsive.count(ServerFrame::Ping) >= 4
                                     || responsive.count(ServerFrame::Close) > 0,
                                 60000);
        QCOMPARE(responsive.count(ServerFrame::Close), 0);
        QCOMPARE(responsive.socket.state(), QAbstractSocket::ConnectedState);
        responsive.socket.write(
            clientFrame(0x81,
                        R"({"id":"alive","type":"ping","payload":{"kind":"None"},"timestamp":1})"));
        QTRY_VERIFY(std::any_of(responsive.frames.cbegin(),
                                responsive.frames.cend(),
                                [](const ServerFrame &frame) {
                                    return frame.opcode == ServerFrame::Text
                                        && frame.payload.contains(R"("ref_id":"alive")");
                                }));
        QCOMPARE(closed.size(), 1);
        QVERIFY(!closeReason(closed, responsiveId, 0));
        QCOMPARE(m_server->connectionCount(), 1);
    }

    void disconnectReasons_data()
    {
        QTest::addColumn<Ending>("ending");
        QTest::addColumn<int>("closeCode"); // -1: not checked (raw TCP client)
        QTest::addColumn<Mtw::DisconnectReason>("reason");
        QTest::newRow("client close frame")
            << Ending::ClientClose << 1000 << Mtw::DisconnectReason::normal();
        QTest::newRow("disconnect message")
            << Ending::DisconnectMessage << 1000 << Mtw::DisconnectReason::normal();
        QTest::newRow("TCP EOF without close frame")
            << Ending::TcpEof << -1 << Mtw::DisconnectReason::normal();
        QTest::newRow("TCP reset") << Ending::TcpAbort << -1 << Mtw::DisconnectReason::normal();
        QTest::newRow("too many protocol errors")
            << Ending::ProtocolErrors << 1008
            << Mtw::DisconnectReason::error(u"too many protocol errors"_s);
        QTest::newRow("oversize") << Ending::Oversize << 1009
                                  << Mtw::DisconnectReason::error(u"message too large"_s);
        QTest::newRow("bad WebSocket frame")
            << Ending::BadWebSocketFrame << -1
            << Mtw::DisconnectReason::error(u"WebSocket protocol error"_s);
        QTest::newRow("invalid UTF-8 in a text message")
            << Ending::InvalidUtf8 << -1
            << Mtw::DisconnectReason::error(u"invalid UTF-8 in a text message"_s);
        QTest::newRow("oversize in fragments")
            << Ending::FragmentedOversize << -1
            << Mtw::DisconnectReason::error(u"message too large"_s);
        QTest::newRow("server shutdown")
            << Ending::ServerShutdown << 1001 << Mtw::DisconnectReason::serverShutdown();
    }

    void disconnectReasons()
    {
        QFETCH(Ending, ending);
        QFETCH(int, closeCode);
        QFETCH(Mtw::DisconnectReason, reason);
        Mtw::Config config = serverConfig();
        config.transport.websocket.maxProtocolErrors = 2;
        config.transport.websocket.maxMessageSize = 1024;
        QVERIFY(startServer(config));
        QSignalSpy opened(m_server.get(), &Mtw::Server::connectionOpened);
        QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);

        const bool raw = ending == Ending::TcpEof || ending == Ending::TcpAbort
            || ending == Ending::BadWebSocketFrame || ending == Ending::InvalidUtf8
            || ending == Ending::FragmentedOversize;
        MtwClient client;
        QTcpSocket rawSocket;
        if (raw)
            QVERIFY(openRawClient(rawSocket, m_server->port()));
        else
            QVERIFY(client.open(url()));
        QTRY_COMPARE(opened.size(), 1);
        const QString connId = opened.at(0).at(0).toString();
        // A bystander on the other worker is not affected.
        MtwClient bystander;
        QVERIFY(bystander.open(url()));

        switch (ending) {
        case Ending::ClientClose:
            client.socket.close();
            break;
        case Ending::DisconnectMessage:
            client.send(u"disconnect"_s, u"bye"_s);
            break;
        case Ending::TcpEof:
            rawSocket.disconnectFromHost();
            break;
        case Ending::TcpAbort:
            rawSocket.abort();
            break;
        case Ending::ProtocolErrors:
            client.socket.sendTextMessage(u"nope"_s);
            client.socket.sendTextMessage(u"nope"_s);
            break;
        case Ending::Oversize:
            client.socket.sendTextMessage(QString(2000, u'z'));
            break;
        case Ending::BadWebSocketFrame:
            // RSV1 set without a negotiated extension: a protocol error (RFC 6455 §5.2).
            rawSocket.write(QByteArray("\xC1\x80\0\0\0\0", 6));
            break;
        case Ending::InvalidUtf8:
            rawSocket.write(clientFrame(0x81, QByteArray("ok \xff\xfe", 5)));
            break;
        case Ending::FragmentedOversize:
            // Each frame is within max_message_size (1024); the message is not.
            rawSocket.write(clientFrame(0x01, QByteArray(800, 'a'))); // text, not FIN
            rawSocket.write(clientFrame(0x80, QByteArray(800, 'a'))); // FIN continuation
            break;
        case Ending::ServerShutdown:
            m_server->shutdown();
            break;
        }

        const auto got = closeReason(closed, connId);
        QVERIFY(got);
        QCOMPARE(*got, reason);
        if (closeCode >= 0) {
            QVERIFY(client.waitClosed());
            QCOMPARE(client.closeCode, closeCode);
        }
        if (ending == Ending::ServerShutdown) {
            QVERIFY(bystander.waitClosed());
            QCOMPARE(*closeReason(closed, bystander.connId), reason);
        } else {
            QCOMPARE(closed.size(), 1);
            QVERIFY(bystander.call(u"ping"_s, u"p"_s, {}));
        }
    }
};

QTEST_GUILESS_MAIN(tst_Limits)
#include "tst_limits.moc"
