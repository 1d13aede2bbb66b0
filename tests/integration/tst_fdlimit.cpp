// SPDX-License-Identifier: MIT
// The real mtwserver binary under a low open-file limit (prlimit): the start-up diagnostics, no
// busy loop once accept() runs out of descriptors, existing clients still served, and recovery as
// soon as descriptors are free again.
#include "serverprocess.h"
#include "testclient.h"

#include <QElapsedTimer>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <unistd.h>

#include <memory>
#include <vector>

using namespace Qt::StringLiterals;

namespace {

// Small enough to run out after a few dozen clients, big enough for the server's own descriptors.
constexpr int Limit = 64;

// CPU seconds (user + system, all threads) that process `pid` has used; -1 when unreadable.
double cpuSeconds(qint64 pid)
{
    QFile file(u"/proc/%1/stat"_s.arg(pid));
    if (!file.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray stat = file.readAll();
    // The command name (field 2) may contain spaces; fields 14 and 15 are utime and stime.
    const QList<QByteArray> fields = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.size() < 13)
        return -1;
    return double(fields.at(11).toLongLong() + fields.at(12).toLongLong())
        / double(::sysconf(_SC_CLK_TCK));
}

// A GET /status sent without waiting: whatever the server answers is collected in `response`.
// Lives in the test's thread.
class Knock : public QObject
{
public:
    explicit Knock(quint16 port)
    {
        connect(&socket, &QTcpSocket::connected, this, [this] {
            socket.write("GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        });
        connect(&socket, &QTcpSocket::readyRead, this, [this] { response += socket.readAll(); });
        socket.connectToHost(QHostAddress::LocalHost, port);
    }

    QTcpSocket socket;
    QByteArray response;
};

} // namespace

class tst_FdLimit : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_prlimit;
    QString m_config;

    // Starts mtwserver through prlimit with the open-file limit soft:hard; two I/O workers, so
    // that the descriptors it needs for itself do not depend on the machine's core count.
    bool startLimited(ServerProcess &server, int soft, int hard, QStringList extra = {})
    {
        server.process.setProgram(m_prlimit);
        return server.start(QStringList{u"--nofile=%1:%2"_s.arg(soft).arg(hard),
                                        QStringLiteral(MTW_BIN_DIR "/mtwserver"),
                                        u"--config"_s,
                                        m_config,
                                        u"--host"_s,
                                        u"127.0.0.1"_s,
                                        u"--port"_s,
                                        u"0"_s}
                            + extra);
    }

    static int countLines(const QString &log, const QString &text)
    {
        int count = 0;
        for (const QStringView line : QStringTokenizer(log, u'\n'))
            count += line.contains(text) ? 1 : 0;
        return count;
    }

    static bool pingPong(TestClient &client, const QString &id)
    {
        client.sendEnvelope(u"ping"_s, id);
        return client.reply(id, 10000).value(u"type"_s).toString() == u"pong"_s;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_prlimit = QStandardPaths::findExecutable(u"prlimit"_s);
        if (m_prlimit.isEmpty())
            QFAIL(
                "prlimit is not installed (it is part of util-linux: apt-get install util-linux)");
        QVERIFY(m_dir.isValid());
        m_config = m_dir.filePath(u"fdlimit.toml"_s);
        QFile file(m_config);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[server]\nworkers = 2\n");
    }

    void startupRaisesTheSoftLimit()
    {
        ServerProcess server;
        QVERIFY(startLimited(server, 100, 400, {u"--max-connections"_s, u"10"_s}));
        const QString log = server.allLog();
        QVERIFY2(log.contains(u"file descriptor limit: 400 (raised from 100)"_s), qPrintable(log));
        QVERIFY2(!log.contains(u"ulimit -n"_s), qPrintable(log)); // 10 connections fit
        QFile limits(u"/proc/%1/limits"_s.arg(server.process.processId()));
        QVERIFY(limits.open(QIODevice::ReadOnly));
        const QString table = QString::fromUtf8(limits.readAll()).simplified();
        QVERIFY2(table.contains(u"Max open files 400 400"_s), qPrintable(table));
    }

    void startupWarnsWhenMaxConnectionsCannotFit()
    {
        ServerProcess server;
        QVERIFY(startLimited(server, Limit, Limit));
        const QString log = server.allLog();
        QVERIFY2(log.contains(u"file descriptor limit: %1"_s.arg(Limit)), qPrintable(log));
        const QStringList warnings = log.split(u'\n').filter(u"warning mtw.server"_s);
        const QStringList needs = warnings.filter(u"server.max_connections = 10000"_s);
        QCOMPARE(needs.size(), 1);
        const QString &line = needs.constFirst();
        QVERIFY2(line.contains(u"limit is %1"_s.arg(Limit)), qPrintable(line));
        QVERIFY2(line.contains(u"ulimit -n"_s) && line.contains(u"LimitNOFILE="_s),
                 qPrintable(line));
    }

    void outOfDescriptorsPausesAcceptsAndRecovers()
    {
        ServerProcess server;
        QVERIFY(startLimited(server, Limit, Limit));
        const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(server.port));

        // Clients one by one until the server cannot take another; the first one refused is
        // answered (503) or left in the backlog, and either way its open() fails.
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < Limit; ++i) {
            auto client = std::make_unique<TestClient>();
            if (!client->open(url))
                break;
            clients.push_back(std::move(client));
        }
        QVERIFY2(clients.size() >= 20 && clients.size() < size_t(Limit),
                 qPrintable(u"%1 clients were accepted"_s.arg(clients.size())));

        // A few seconds of saturation with new clients knocking all the time; the server must
        // sleep through it instead of retrying accept() in a loop.
        const qint64 pid = server.process.processId();
        const double cpuBefore = cpuSeconds(pid);
        QVERIFY(cpuBefore >= 0);
        std::vector<std::unique_ptr<Knock>> knocks;
        QElapsedTimer wall;
        wall.start();
        QVERIFY(QTest::qWaitFor(
            [&] {
                if (qint64(knocks.size()) < wall.elapsed() / 100)
                    knocks.push_back(std::make_unique<Knock>(server.port));
                return wall.elapsed() >= 3000;
            },
            20000));
        const double cpuUsed = cpuSeconds(pid) - cpuBefore;
        const double seconds = double(wall.elapsed()) / 1000.0;
        qInfo("server CPU during %.2f s of saturation: %.3f s (%.1f%% of one core)",
              seconds,
              cpuUsed,
              100.0 * cpuUsed / seconds);
        QVERIFY2(
            cpuUsed < 0.25 * seconds,
            qPrintable(
                u"the server used %1 s of CPU in %2 s while out of descriptors"_s.arg(cpuUsed).arg(
                    seconds)));

        // One warning for the whole burst, however many accepts failed.
        QCOMPARE(countLines(server.allLog(), u"out of file descriptors"_s), 1);

        // Connected clients are served throughout.
        QVERIFY(pingPong(*clients.front(), u"first"_s));
        QVERIFY(pingPong(*clients.back(), u"last"_s));

        // Waiting clients get a prompt 503 instead of hanging in the backlog.
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(knocks.cbegin(),
                                             knocks.cend(),
                                             [](const auto &knock) {
                                                 return knock->response.startsWith("HTTP/1.1 503");
                                             }),
                                 10000);

        // Free some descriptors: /status and new clients work again at once.
        clients.resize(clients.size() - 10);
        QTRY_VERIFY_WITH_TIMEOUT(
            rawHttp(server.port, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n").endsWith("\r\n\r\nok"),
            15000);
        TestClient newcomer;
        QVERIFY(newcomer.open(url));
        QVERIFY(pingPong(newcomer, u"new"_s));
        QVERIFY(pingPong(*clients.front(), u"again"_s));
        // The end of the shortage is logged once accepts have worked for a quiet period.
        QTRY_COMPARE_WITH_TIMEOUT(countLines(server.allLog(), u"accepting connections again"_s),
                                  1,
                                  15000);
        QCOMPARE(countLines(server.allLog(), u"out of file descriptors"_s), 1);
    }
};

QTEST_GUILESS_MAIN(tst_FdLimit)
#include "tst_fdlimit.moc"
