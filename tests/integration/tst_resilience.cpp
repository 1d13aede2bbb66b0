// SPDX-License-Identifier: MIT
// The real mtwserver binary under an attacker's and an operator's worst day (issue 9): a client
// that resets thousands of upgrades must not lock anybody out, and a SIGTERM with traffic in
// flight must not lose a publish the server acknowledged. Process tests, so that
// MTW_TEST_SERVER_BIN can point them at another build to show they fail there.
#include "serverprocess.h"
#include "testclient.h"

#include <QJsonArray>
#include <QSet>
#include <QTemporaryDir>
#include <QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

using namespace Qt::StringLiterals;

namespace {

// The end of a server log, or the start of a sanitizer's report in it (the report and not only
// the last lines of its stacks: a sanitizer stops the server, which is why nothing answers).
QString logTail(const QString &log)
{
    const qsizetype report = log.indexOf(u"WARNING: ThreadSanitizer"_s);
    if (report >= 0)
        return log.mid(report, 8000);
    return log.right(3000);
}

const QByteArray UpgradeRequest = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n";

// One attacker's connection, in plain POSIX calls so that nothing buffers or delays: connect,
// send `request`, optionally read the response head, then close with SO_LINGER 0 (the kernel
// sends a RST, the way a killed or hostile client leaves). Returns the response head read.
QByteArray connectSendReset(quint16 port, QByteArrayView request, bool readHead)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return "socket() failed";
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    QByteArray head;
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) == 0) {
        (void)::send(fd, request.data(), size_t(request.size()), MSG_NOSIGNAL);
        const timeval timeout{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        char buffer[512];
        while (readHead && !head.contains("\r\n\r\n")) {
            const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got <= 0)
                break;
            head.append(buffer, got);
        }
    } else {
        head = "connect() failed";
    }
    const linger hard{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd);
    return head;
}

QString writeConfig(const QTemporaryDir &dir, const QString &text)
{
    const QString path = dir.filePath(u"mtw.toml"_s);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return {};
    file.write(text.toUtf8());
    return path;
}

QJsonObject envelope(const QString &type, const QString &id, QJsonObject fields = {})
{
    fields.insert(u"id"_s, id);
    fields.insert(u"type"_s, type);
    if (!fields.contains(u"payload"_s))
        fields.insert(u"payload"_s, QJsonObject{{u"kind"_s, u"None"_s}});
    fields.insert(u"timestamp"_s, 1711843200000.0);
    return fields;
}

// One subscriber: the ids of every publish it received, in order.
struct Subscriber
{
    TestClient client;
    QList<QString> ids() const
    {
        QList<QString> out;
        for (const QJsonObject &message : client.received) {
            if (message.value(u"type"_s).toString() == u"publish"_s)
                out.append(message.value(u"id"_s).toString());
        }
        return out;
    }
};

} // namespace

class tst_Resilience : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void resetStormLeaksNoSlot();
    void shutdownLosesNothingAcknowledged();
};

// Before: an upgrade reset before or right at the 101 leaked its max_connections slot for good
// (the slot was found again by peer address:port, which the reset clears), and with the
// defaults one client doing this in a loop got everybody a 503.
void tst_Resilience::resetStormLeaksNoSlot()
{
    constexpr int MaxConnections = 20;
    constexpr int Resets = 3000;
    QTemporaryDir dir;
    const QString config = writeConfig(dir, u"[server]\nworkers = 2\n"_s);
    ServerProcess server;
    QVERIFY2(server.start({u"--config"_s,
                           config,
                           u"--host"_s,
                           u"127.0.0.1"_s,
                           u"--port"_s,
                           u"0"_s,
                           u"--max-connections"_s,
                           QString::number(MaxConnections)}),
             qPrintable(server.allLog()));

    int upgraded = 0;
    int unanswered = 0; // resets at the 101 in a row that got no response head at all
    for (int i = 0; i < Resets; ++i) {
        // In runs: back-to-back resets are what collided in the old bookkeeping.
        switch (i * 3 / Resets) {
        case 0: // the whole request, then gone before the server answers
            connectSendReset(server.port, UpgradeRequest, false);
            break;
        case 1: { // gone right as the 101 arrives
            const QByteArray head = connectSendReset(server.port, UpgradeRequest, true);
            upgraded += head.startsWith("HTTP/1.1 101") ? 1 : 0;
            // A server that stopped answering upgrades is the failure itself: say so now
            // rather than wait out a receive timeout a thousand times.
            unanswered = head.contains("\r\n\r\n") ? 0 : unanswered + 1;
            QVERIFY2(
                unanswered < 3,
                qPrintable(
                    u"upgrade %1: no response within 5 s, three times in a row; log:\n%2"_s.arg(i)
                        .arg(logTail(server.allLog()))));
            break;
        }
        case 2: // half a request
            connectSendReset(server.port, UpgradeRequest.first(40), false);
            break;
        }
        if (i % 64 == 0)
            server.drainLog();
    }
    // The storm did reach the upgrade path (a reset slot may be in release when the next
    // upgrade comes, which then gets a 503).
    qInfo("%d of %d resets at the 101 were upgraded first", upgraded, Resets / 3);
    QVERIFY(upgraded > Resets / 6);

    // Now the real clients: every one of max_connections gets in. A slot of the storm may still
    // be in release for a moment, so each client retries; a leaked slot never comes back.
    std::vector<std::unique_ptr<TestClient>> clients;
    const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(server.port));
    for (int i = 0; i < MaxConnections; ++i) {
        QVERIFY2(QTest::qWaitFor(
                     [&] {
                         auto client = std::make_unique<TestClient>();
                         if (!client->open(url))
                             return false;
                         clients.push_back(std::move(client));
                         return true;
                     },
                     20000),
                 qPrintable(u"client %1 of %2 refused after the reset storm; log:\n%3"_s.arg(i + 1)
                                .arg(MaxConnections)
                                .arg(server.allLog().right(2000))));
    }
    // And the limit still holds: one more is refused with 503.
    QTcpSocket extra;
    extra.connectToHost(QHostAddress::LocalHost, server.port);
    QVERIFY(extra.waitForConnected(5000));
    extra.write(UpgradeRequest);
    QByteArray response;
    QVERIFY(QTest::qWaitFor(
        [&] {
            response += extra.readAll();
            return response.contains("\r\n\r\n");
        },
        5000));
    QVERIFY2(response.startsWith("HTTP/1.1 503"), response.constData());
    QVERIFY(!server.allLog().contains(u"unknown origin"_s));
}

// Before: 50 subscribers, a publisher streaming, SIGTERM: in 2 of 5 rounds 1,800 to 3,475
// deliveries the server had acknowledged after the SIGTERM never reached the subscribers of one
// worker. The rule: an acknowledged publish reaches every member it was accepted for, or it is
// refused (503) and not acknowledged.
void tst_Resilience::shutdownLosesNothingAcknowledged()
{
    // 20 rounds: the bug this guards lost deliveries in 2 rounds of 5. Under a sanitizer (CI's
    // ASan and TSan runs, several times slower) 8, which at that rate still fail 98% of the time.
    const int Rounds = qEnvironmentVariableIsEmpty("MTW_TEST_SANITIZER") ? 20 : 8;
    constexpr int Subscribers = 50;
    constexpr int Window = 64; // publishes in flight
    constexpr int AckedBeforeTerm = 300;
    const QString channel = u"stream.shutdown"_s;
    QTemporaryDir dir;
    // No rate limit: the publisher streams as fast as the server acknowledges.
    const QString config = writeConfig(
        dir,
        u"[server]\nworkers = 2\nshutdown_timeout = 20\n[transport.websocket]\nrate_limit = 0\n"_s);

    qint64 lostTotal = 0;
    qint64 refusedTotal = 0;
    qint64 ackedTotal = 0;
    int badExits = 0;    // rounds where mtwserver did not exit 0 after the SIGTERM
    int wrongCloses = 0; // subscribers closed otherwise than with 1001
    for (int round = 0; round < Rounds; ++round) {
        ServerProcess server;
        QVERIFY2(
            server.start({u"--config"_s, config, u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s}),
            qPrintable(server.allLog()));
        const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(server.port));

        // Consecutive connections alternate between the two workers.
        std::vector<std::unique_ptr<Subscriber>> subscribers;
        for (int i = 0; i < Subscribers; ++i) {
            auto subscriber = std::make_unique<Subscriber>();
            QVERIFY(subscriber->client.open(url));
            subscriber->client.sendJson(
                envelope(u"subscribe"_s, u"s"_s, {{u"channel"_s, channel}}));
            QVERIFY(!subscriber->client.reply(u"s"_s).isEmpty());
            subscribers.push_back(std::move(subscriber));
        }

        TestClient publisher;
        QVERIFY(publisher.open(url));
        QSet<QString> acked;
        int refused = 0;
        int sent = 0;
        const auto publishNext = [&] {
            const QString id = u"r%1-m%2"_s.arg(round).arg(sent++);
            publisher.sendJson(
                envelope(u"publish"_s,
                         id,
                         {{u"channel"_s, channel},
                          {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, id}}}}));
        };
        connect(&publisher.socket,
                &QWebSocket::textMessageReceived,
                this,
                [&](const QString &text) {
                    const QJsonObject reply = QJsonDocument::fromJson(text.toUtf8()).object();
                    const QString type = reply.value(u"type"_s).toString();
                    if (type == u"response"_s)
                        acked.insert(reply.value(u"ref_id"_s).toString());
                    else if (type == u"error"_s)
                        ++refused;
                    else
                        return;
                    if (!publisher.closed)
                        publishNext(); // one more for each answer: the window stays full
                });
        for (int i = 0; i < Window; ++i)
            publishNext();

        QVERIFY(QTest::qWaitFor([&] { return acked.size() >= AckedBeforeTerm; }, 20000));
        server.process.terminate(); // SIGTERM, with Window publishes in flight
        QTRY_VERIFY_WITH_TIMEOUT(publisher.closed, 30000);
        for (const auto &subscriber : subscribers)
            QTRY_VERIFY_WITH_TIMEOUT(subscriber->client.closed, 30000);
        QTRY_COMPARE_WITH_TIMEOUT(server.process.state(), QProcess::NotRunning, 30000);
        const bool clean =
            server.process.exitStatus() == QProcess::NormalExit && server.process.exitCode() == 0;
        if (!clean && badExits++ == 0) // the first one says why
            qWarning().noquote() << "mtwserver exited with" << server.process.exitCode()
                                 << "after the SIGTERM; log:\n"
                                 << logTail(server.allLog());
        for (const auto &subscriber : subscribers)
            wrongCloses += subscriber->client.closeCode == 1001 ? 0 : 1;

        for (const auto &subscriber : subscribers) {
            const QList<QString> received = subscriber->ids();
            const QSet<QString> got(received.cbegin(), received.cend());
            QCOMPARE(got.size(), received.size()); // nothing twice
            for (const QString &id : std::as_const(acked))
                lostTotal += got.contains(id) ? 0 : 1;
        }
        refusedTotal += refused;
        ackedTotal += acked.size();
    }
    qInfo("%d rounds: %lld publishes acknowledged, %lld refused while shutting down, "
          "%lld acknowledged deliveries lost, %d bad exits, %d subscribers closed without 1001",
          Rounds,
          ackedTotal,
          refusedTotal,
          lostTotal,
          badExits,
          wrongCloses);
    QCOMPARE(lostTotal, 0);
    QCOMPARE(badExits, 0);
    QCOMPARE(wrongCloses, 0);
}

QTEST_GUILESS_MAIN(tst_Resilience)
#include "tst_resilience.moc"
