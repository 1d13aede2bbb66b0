// SPDX-License-Identifier: MIT
// Mtw::Server in-process over real loopback sockets: HTTP routes, the upgrade, the opening ack,
// limits applied before the upgrade, and graceful shutdown.
#include "testclient.h"

#include <mtw/server.h>
#include <mtw/ulid.h>

#include <QtTest>

using namespace Qt::StringLiterals;

class tst_Server : public QObject
{
    Q_OBJECT

private:
    static Mtw::Config testConfig()
    {
        Mtw::Config config;
        config.server.host = u"127.0.0.1"_s;
        config.server.port = 0;
        config.server.workers = 2;
        config.server.shutdownTimeout = 5;
        return config;
    }

    QUrl wsUrl(const Mtw::Server &server, const QString &path = u"/ws"_s) const
    {
        return QUrl(u"ws://127.0.0.1:%1%2"_s.arg(server.port()).arg(path));
    }

private Q_SLOTS:
    void statusAnswersOk()
    {
        Mtw::Server server(testConfig());
        QVERIFY(server.start());
        QVERIFY(server.port() != 0);
        const QByteArray response =
            rawHttp(server.port(), "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY2(response.startsWith("HTTP/1.1 200 OK\r\n"), response.constData());
        QVERIFY(response.endsWith("\r\n\r\nok"));
    }

    void httpErrors_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::addColumn<QByteArray>("statusLine");
        QTest::newRow("unknown path") << QByteArray("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
                                      << QByteArray("HTTP/1.1 404 Not Found");
        QTest::newRow("ws path without upgrade")
            << QByteArray("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
            << QByteArray("HTTP/1.1 426 Upgrade Required");
        QTest::newRow("POST") << QByteArray(
            "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                              << QByteArray("HTTP/1.1 405 Method Not Allowed");
        QTest::newRow("not HTTP") << QByteArray("HELLO\r\n\r\n")
                                  << QByteArray("HTTP/1.1 400 Bad Request");
        QTest::newRow("upgrade on other path") << QByteArray(
            "GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                                               << QByteArray("HTTP/1.1 404 Not Found");
    }

    void httpErrors()
    {
        QFETCH(QByteArray, request);
        QFETCH(QByteArray, statusLine);
        Mtw::Server server(testConfig());
        QVERIFY(server.start());
        const QByteArray response = rawHttp(server.port(), request);
        QVERIFY2(response.startsWith(statusLine + "\r\n"), response.constData());
    }

    void openingAck_data()
    {
        QTest::addColumn<QString>("path");
        QTest::newRow("configured path") << u"/ws"_s;
        QTest::newRow("root with query") << u"/?token=abc&api_key=k"_s;
    }

    void openingAck()
    {
        QFETCH(QString, path);
        Mtw::Server server(testConfig());
        QVERIFY(server.start());
        QSignalSpy opened(&server, &Mtw::Server::connectionOpened);
        TestClient client;
        QVERIFY(client.open(wsUrl(server, path)));
        QCOMPARE(client.texts.size(), 1);
        const QJsonObject ack = client.received.constFirst();
        QCOMPARE(ack.value(u"type"_s).toString(), u"ack"_s);
        QVERIFY(Mtw::isValidUlid(ack.value(u"id"_s).toString()));
        QVERIFY(!ack.contains(u"ref_id"_s));
        QVERIFY(ack.value(u"timestamp"_s).isDouble());
        QCOMPARE(ack.value(u"payload"_s).toObject().value(u"kind"_s).toString(), u"Json"_s);
        QCOMPARE(ack.value(u"metadata"_s).toObject().value(u"conn_id"_s).toString(), client.connId);
        QTRY_COMPARE(opened.size(), 1);
        QCOMPARE(opened.at(0).at(0).toString(), client.connId);
        QTRY_COMPARE(server.connectionCount(), 1);
    }

    void subprotocolSelected()
    {
        Mtw::Server server(testConfig());
        QVERIFY(server.start());
        TestClient client;
        QWebSocketHandshakeOptions options;
        options.setSubprotocols({u"other"_s, u"mtw.v1"_s});
        client.socket.open(wsUrl(server), options);
        QTRY_VERIFY(!client.received.isEmpty());
        QCOMPARE(client.socket.subprotocol(), u"mtw.v1"_s);
    }

    void maxConnectionsRefusedWith503()
    {
        Mtw::Config config = testConfig();
        config.server.maxConnections = 2;
        Mtw::Server server(config);
        QVERIFY(server.start());
        TestClient a, b;
        QVERIFY(a.open(wsUrl(server)));
        QVERIFY(b.open(wsUrl(server)));
        const QByteArray response = rawHttp(
            server.port(),
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        QVERIFY2(response.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), response.constData());
        // A slot frees up when a client leaves.
        a.socket.close();
        QTRY_COMPARE(server.connectionCount(), 1);
        TestClient c;
        QVERIFY(c.open(wsUrl(server)));
    }

    // A client that never finishes its request head is held as a pending handshake, not
    // answered, until handshake_timeout; then it is dropped without a word and its slot is free.
    void handshakeTimeoutClosesSilentSocket()
    {
        Mtw::Config config = testConfig();
        config.server.workers = 1; // one worker takes connections in the order they came
        config.transport.websocket.handshakeTimeout = 2;
        config.transport.websocket.maxPendingHandshakesPerIp = 1;
        Mtw::Server server(config);
        QVERIFY(server.start());
        // The drop says why, at info level, from the worker.
        QTest::ignoreMessage(QtInfoMsg, "handshake timeout for 127.0.0.1");
        QTcpSocket silent;
        silent.connectToHost(QHostAddress::LocalHost, server.port());
        QVERIFY(silent.waitForConnected(5000));
        silent.write("GET /ws HTTP/1.1\r\nHost: x\r\n"); // never finishes the head
        silent.flush();

        // Held, not refused: the only slot of this address is taken, so the next connection
        // from it is turned away. (Asked right away, long before the 2 s deadline can pass.)
        const QByteArray probe = rawHttp(server.port(), "GET /status HTTP/1.1\r\n\r\n");
        QVERIFY2(probe.startsWith("HTTP/1.1 429 Too Many Requests"), probe.constData());

        // Then dropped, with no response at all (an HTTP error would have a status line)...
        QTRY_COMPARE_WITH_TIMEOUT(silent.state(), QAbstractSocket::UnconnectedState, 30000);
        QCOMPARE(silent.readAll(), QByteArray());
        // ...which gave the slot back.
        const QByteArray after = rawHttp(server.port(), "GET /status HTTP/1.1\r\n\r\n");
        QVERIFY2(after.startsWith("HTTP/1.1 200 OK"), after.constData());
    }

    void pendingHandshakesLimitedPerAddress()
    {
        Mtw::Config config = testConfig();
        config.server.workers = 1;
        config.transport.websocket.maxPendingHandshakesPerIp = 2;
        Mtw::Server server(config);
        QVERIFY(server.start());
        QTcpSocket first, second;
        for (QTcpSocket *socket : {&first, &second}) {
            socket->connectToHost(QHostAddress::LocalHost, server.port());
            QVERIFY(socket->waitForConnected(2000));
            socket->write("GET /ws HTTP/1.1\r\n");
            socket->flush();
        }
        const QByteArray third = rawHttp(server.port(), "GET /status HTTP/1.1\r\n\r\n");
        QVERIFY2(third.startsWith("HTTP/1.1 429 Too Many Requests"), third.constData());
        first.abort();
        QTRY_VERIFY(
            rawHttp(server.port(), "GET /status HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 200"));
    }

    void originsRestricted()
    {
        Mtw::Config config = testConfig();
        config.transport.websocket.allowedOrigins = {u"https://good.example"_s};
        Mtw::Server server(config);
        QVERIFY(server.start());
        const QByteArray head =
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        const QByteArray bad =
            rawHttp(server.port(), head + "Origin: https://evil.example\r\n\r\n");
        QVERIFY2(bad.startsWith("HTTP/1.1 403"), bad.constData());
        QNetworkRequest request(wsUrl(server));
        request.setRawHeader("Origin", "https://good.example");
        TestClient good;
        good.socket.open(request);
        QTRY_VERIFY(!good.received.isEmpty());
    }

    void portInUseIsAClearError()
    {
        Mtw::Server first(testConfig());
        QVERIFY(first.start());
        Mtw::Config config = testConfig();
        config.server.port = first.port();
        Mtw::Server second(config);
        const auto started = second.start();
        QVERIFY(!started);
        QCOMPARE(started.error().code, 409);
        QVERIFY2(started.error().message.contains(u"already in use"_s),
                 qPrintable(started.error().message));
        QVERIFY(started.error().message.contains(QString::number(first.port())));
    }

    void gracefulShutdownClosesWith1001()
    {
        Mtw::Server server(testConfig());
        QVERIFY(server.start());
        QSignalSpy closed(&server, &Mtw::Server::connectionClosed);
        QSignalSpy finished(&server, &Mtw::Server::finished);
        TestClient a, b, c;
        for (TestClient *client : {&a, &b, &c})
            QVERIFY(client->open(wsUrl(server)));
        server.shutdown();
        QVERIFY(finished.wait(5000));
        for (TestClient *client : {&a, &b, &c}) {
            QVERIFY(client->waitClosed());
            QCOMPARE(client->closeCode, 1001);
        }
        QCOMPARE(closed.size(), 3);
        for (const QList<QVariant> &args : closed) {
            QCOMPARE(args.at(1).value<Mtw::DisconnectReason>().kind,
                     Mtw::DisconnectReason::Kind::ServerShutdown);
        }
        QVERIFY(!server.isRunning());
        // Nothing listens any more.
        QTcpSocket probe;
        probe.connectToHost(QHostAddress::LocalHost, server.port());
        QVERIFY(!probe.waitForConnected(1000));
    }

    void shutdownTimeoutForcesStalledPeers()
    {
        // Two subscribers stop reading while megabytes are queued for them: their close frames
        // wait behind that output. Once the shutdown has begun, one of them reads again: the
        // server was waiting for it, so it gets everything and then its Close 1001. The other
        // never reads: only shutdown_timeout ends the wait for it, after everyone else.
        Mtw::Config config = testConfig();
        config.server.shutdownTimeout = 3; // ample time for the reader to catch up
        config.transport.websocket.maxQueueSize = 256 * 1024 * 1024;
        Mtw::Server server(config);
        QVERIFY(server.start());
        QSignalSpy opened(&server, &Mtw::Server::connectionOpened);
        QSignalSpy finished(&server, &Mtw::Server::finished);
        QSignalSpy closed(&server, &Mtw::Server::connectionClosed);
        QTcpSocket stalled;
        QVERIFY(openStalledClient(stalled, server.port(), "flood"));
        QTcpSocket catchingUp;
        QVERIFY(openStalledClient(catchingUp, server.port(), "flood"));
        QTRY_COMPARE(opened.size(), 2);
        const QString stalledId = opened.at(0).at(0).toString();
        const QString catchingUpId = opened.at(1).at(0).toString();
        TestClient publisher;
        QVERIFY(publisher.open(wsUrl(server)));
        const QString big(512 * 1024, u'x');
        for (int i = 0; i < 40; ++i) {
            publisher.sendEnvelope(
                u"publish"_s,
                u"p%1"_s.arg(i),
                {{u"channel"_s, u"flood"_s},
                 {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, big}}}});
        }
        QVERIFY(!publisher.reply(u"p39"_s, 10000).isEmpty());
        qsizetype closedAtFinish = -1;
        connect(&server, &Mtw::Server::finished, this, [&] { closedAtFinish = closed.size(); });
        // The cause of the last close, said once the timeout has passed.
        QTest::ignoreMessage(QtWarningMsg,
                             "shutdown_timeout of 3 s reached: dropping the remaining connections");
        server.shutdown();

        // Reading again only now, after the shutdown began.
        QByteArray stream;
        catchingUp.setReadBufferSize(0);
        const auto readAll = [&] {
            stream += catchingUp.readAll();
            return catchingUp.state() == QAbstractSocket::UnconnectedState;
        };
        connect(&catchingUp, &QTcpSocket::readyRead, this, readAll);
        QTRY_VERIFY_WITH_TIMEOUT(readAll(), 30000);
        // Everything queued before the shutdown, then the close frame, then the end.
        QCOMPARE(stream.count(R"("type":"publish")"), 40);
        const QByteArray reason = "server shutdown";
        QVERIFY2(
            stream.endsWith(QByteArray("\x88") + char(2 + reason.size()) + "\x03\xe9" + reason),
            stream.right(32).toHex().constData());

        // Bounded by shutdown_timeout, well before the 60 s at which a closing socket is cut
        // off anyway.
        QVERIFY(finished.wait(30000));
        QCOMPARE(publisher.closeCode, 1001);
        QCOMPARE(closed.size(), 3);
        QCOMPARE(closed.at(2).at(0).toString(), stalledId); // the last one: forced
        QCOMPARE(closedAtFinish, 3);                        // finished() came after it
        QStringList gracefully{closed.at(0).at(0).toString(), closed.at(1).at(0).toString()};
        gracefully.sort();
        QStringList expected{publisher.connId, catchingUpId};
        expected.sort();
        QCOMPARE(gracefully, expected);
        for (const QList<QVariant> &args : std::as_const(closed)) {
            QCOMPARE(args.at(1).value<Mtw::DisconnectReason>(),
                     Mtw::DisconnectReason::serverShutdown());
        }
    }
};

QTEST_GUILESS_MAIN(tst_Server)
#include "tst_server.moc"
