// SPDX-License-Identifier: MIT
// The real mtwserver binary: command line, configuration handling, exit codes, signals.
#include "serverprocess.h"
#include "testclient.h"

#include <QTemporaryDir>
#include <QtTest>

#include <csignal>

using namespace Qt::StringLiterals;

class tst_MtwServer : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;

    QString writeFile(const QString &name, const QByteArray &content)
    {
        const QString path = m_dir.filePath(name);
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            return {};
        file.write(content);
        return path;
    }

    static QStringList local(QStringList extra = {})
    {
        return QStringList{u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s} + extra;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void version()
    {
        const ProcessResult result = runServer({u"--version"_s});
        QCOMPARE(result.exitCode, 0);
        QVERIFY2(result.out.startsWith(u"mtwserver 0."_s), qPrintable(result.out));
        QVERIFY(result.out.contains(u"commit "_s));
        QVERIFY(result.out.contains(u"built "_s));
        QVERIFY(result.out.contains(u"Qt 6."_s));
    }

    void checkConfigGood()
    {
        const QString path = writeFile(u"good.toml"_s, "[server]\nport = 9000\n");
        const ProcessResult result = runServer({u"--check-config"_s, u"--config"_s, path});
        QCOMPARE(result.exitCode, 0);
        QVERIFY2(result.out.contains(u"configuration OK"_s), qPrintable(result.out));
    }

    void checkConfigBad()
    {
        const QString path =
            writeFile(u"bad.toml"_s, "[server]\nport = \"eighty\"\nmax_connections = -1\n");
        const ProcessResult result = runServer({u"--check-config"_s, u"--config"_s, path});
        QCOMPARE(result.exitCode, 78);
        // Both problems, each with file:line:column and the key path.
        QVERIFY2(result.err.contains(
                     path + u":2:8: server.port: expected an integer 0-65535, got \"eighty\""_s),
                 qPrintable(result.err));
        QVERIFY2(result.err.contains(u":3:"_s) && result.err.contains(u"server.max_connections"_s),
                 qPrintable(result.err));
    }

    void brokenTomlSyntax()
    {
        const QString path = writeFile(u"syntax.toml"_s, "[server\nport = 1\n");
        const ProcessResult result = runServer({u"--check-config"_s, u"--config"_s, path});
        QCOMPARE(result.exitCode, 78);
        QVERIFY2(result.err.contains(path + u":1:"_s), qPrintable(result.err));
    }

    void missingConfigFile()
    {
        const ProcessResult result = runServer({u"--config"_s, m_dir.filePath(u"absent.toml"_s)});
        QCOMPARE(result.exitCode, 66);
        QVERIFY2(result.err.contains(u"absent.toml"_s), qPrintable(result.err));
        QCOMPARE(result.err.count(u'\n'), 1); // one clear line
    }

    void badCommandLineValue()
    {
        const ProcessResult result = runServer({u"--port"_s, u"99999"_s});
        QCOMPARE(result.exitCode, 64);
        QVERIFY2(result.err.contains(u"--port: expected an integer 0-65535, got \"99999\""_s),
                 qPrintable(result.err));
    }

    void badHost()
    {
        const ProcessResult result =
            runServer({u"--host"_s, u"203.0.113.77"_s, u"--port"_s, u"0"_s});
        QCOMPARE(result.exitCode, 68);
        QVERIFY2(result.err.contains(u"203.0.113.77"_s), qPrintable(result.err));
    }

    void portInUse()
    {
        ServerProcess first;
        QVERIFY(first.start(local()));
        const ProcessResult result =
            runServer({u"--host"_s, u"127.0.0.1"_s, u"--port"_s, QString::number(first.port)});
        QCOMPARE(result.exitCode, 69);
        QVERIFY2(result.err.contains(u"already in use"_s), qPrintable(result.err));
    }

    void environmentAndFlagPrecedence()
    {
        // File says 7001, MTW_PORT says 7002, --port wins over both; --print-config shows the result.
        const QString path = writeFile(u"prec.toml"_s,
                                       "[server]\nport = 7001\nmax_connections = 5\n"
                                       "[[modules]]\nname = \"mtw-auth-jwt\"\n"
                                       "config = { secret = \"${MTW_TEST_SECRET}\" }\n");
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"MTW_PORT"_s, u"7002"_s);
        env.insert(u"MTW_MAX_CONNECTIONS"_s, u"6"_s);
        env.insert(u"MTW_TEST_SECRET"_s, u"hunter2"_s);
        ProcessResult result = runServer({u"--config"_s, path, u"--print-config"_s}, env);
        QCOMPARE(result.exitCode, 0);
        QVERIFY2(result.out.contains(u"port = 7002"_s), qPrintable(result.out));
        QVERIFY(result.out.contains(u"max_connections = 6"_s));
        QVERIFY2(!result.out.contains(u"hunter2"_s), "secrets must be masked");
        QVERIFY(result.out.contains(u"***"_s));

        result = runServer({u"--config"_s, path, u"--port"_s, u"7003"_s, u"--print-config"_s}, env);
        QVERIFY2(result.out.contains(u"port = 7003"_s), qPrintable(result.out));

        env.insert(u"MTW_PORT"_s, u"http"_s);
        result = runServer({u"--config"_s, path, u"--check-config"_s}, env);
        QCOMPARE(result.exitCode, 78);
        QVERIFY2(result.err.contains(u"MTW_PORT"_s) && result.err.contains(u"\"http\""_s),
                 qPrintable(result.err));
    }

    void discoversConfigInWorkingDirectory()
    {
        QTemporaryDir dir;
        QFile file(dir.filePath(u"mtw.toml"_s));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[server]\nport = 7123\n");
        file.close();
        const ProcessResult result =
            runServer({u"--print-config"_s}, QProcessEnvironment::systemEnvironment(), dir.path());
        QCOMPARE(result.exitCode, 0);
        QVERIFY2(result.out.contains(u"port = 7123"_s), qPrintable(result.out));
    }

    void statusAndAckOverTheRealBinary()
    {
        ServerProcess server;
        QVERIFY(server.start(local()));
        const QByteArray status = rawHttp(server.port, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY2(status.startsWith("HTTP/1.1 200 OK") && status.endsWith("ok"), status.constData());
        TestClient client;
        QVERIFY(client.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port))));
        QCOMPARE(client.received.constFirst().value(u"type"_s).toString(), u"ack"_s);
    }

    void sigtermClosesClientsWith1001AndExitsZero()
    {
        ServerProcess server;
        QVERIFY(server.start(local()));
        TestClient a, b;
        QVERIFY(a.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port))));
        QVERIFY(b.open(QUrl(u"ws://127.0.0.1:%1/"_s.arg(server.port))));
        ::kill(pid_t(server.process.processId()), SIGTERM);
        QVERIFY(a.waitClosed());
        QVERIFY(b.waitClosed());
        QCOMPARE(a.closeCode, 1001);
        QCOMPARE(b.closeCode, 1001);
        QTRY_COMPARE_WITH_TIMEOUT(server.process.state(), QProcess::NotRunning, 10000);
        QCOMPARE(server.process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(server.process.exitCode(), 0);
        QVERIFY(server.allLog().contains(u"shutdown complete"_s));
    }

    void secondSignalForcesExit()
    {
        // A subscriber that stopped reading with megabytes queued holds the graceful path
        // (shutdown_timeout 30 s); the second SIGINT must end the process at once.
        const QString path = writeFile(u"slow.toml"_s,
                                       "[server]\nshutdown_timeout = 30\n"
                                       "[transport.websocket]\nmax_queue_size = \"256MB\"\n");
        ServerProcess server;
        QVERIFY(server.start(local({u"--config"_s, path})));
        QTcpSocket stalled;
        QVERIFY(openStalledClient(stalled, server.port, "flood"));
        TestClient publisher;
        QVERIFY(publisher.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port))));
        const QString big(512 * 1024, u'x');
        for (int i = 0; i < 40; ++i) {
            publisher.sendEnvelope(
                u"publish"_s,
                u"p%1"_s.arg(i),
                {{u"channel"_s, u"flood"_s},
                 {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, big}}}});
        }
        QVERIFY(!publisher.reply(u"p39"_s, 10000).isEmpty());
        const pid_t pid = pid_t(server.process.processId());
        ::kill(pid, SIGINT);
        QTRY_VERIFY(server.allLog().contains(u"signal 2 received"_s));
        QVERIFY(publisher.waitClosed());
        QCOMPARE(server.process.state(), QProcess::Running); // still flushing to the stalled peer
        ::kill(pid, SIGINT);
        QTRY_COMPARE_WITH_TIMEOUT(server.process.state(), QProcess::NotRunning, 2000);
        QCOMPARE(server.process.exitCode(), 128 + SIGINT);
    }
};

QTEST_GUILESS_MAIN(tst_MtwServer)
#include "tst_mtwserver.moc"
