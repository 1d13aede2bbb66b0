// SPDX-License-Identifier: MIT
// The real mtwserver binary under a fake service manager: NOTIFY_SOCKET names a Unix datagram
// socket this test owns, as systemd does for a Type=notify unit. With MTW_SYSTEMD the server
// says READY=1 once it listens, STOPPING=1 when SIGTERM starts the shutdown, and WATCHDOG=1
// while it runs when WATCHDOG_USEC asks for it; without it (a portable build) nothing arrives
// and the server behaves the same otherwise.
#include "serverprocess.h"

#include <QFileSystemWatcher>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

using namespace Qt::StringLiterals;

namespace {

// The manager's end: a bound, non-blocking datagram socket and what arrived on it.
class NotifySocket
{
public:
    explicit NotifySocket(const QString &path)
        : m_path(path)
    {
        m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_un address = {};
        address.sun_family = AF_UNIX;
        const QByteArray bytes = QFile::encodeName(path);
        if (m_fd < 0 || size_t(bytes.size()) >= sizeof(address.sun_path))
            return;
        std::memcpy(address.sun_path, bytes.constData(), size_t(bytes.size()));
        m_bound = ::bind(m_fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) == 0;
    }
    ~NotifySocket()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    NotifySocket(const NotifySocket &) = delete;
    NotifySocket &operator=(const NotifySocket &) = delete;

    bool isBound() const { return m_bound; }
    QString path() const { return m_path; }

    // Every datagram received so far, in order.
    const QList<QByteArray> &messages()
    {
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof(buffer), 0);
            if (n < 0)
                break;
            m_messages.append(QByteArray(buffer, qsizetype(n)));
        }
        return m_messages;
    }

    // The index of the first message holding `assignment` as one of its lines, or -1.
    qsizetype indexOf(const QByteArray &assignment)
    {
        const QList<QByteArray> &all = messages();
        for (qsizetype i = 0; i < all.size(); ++i) {
            if (all.at(i).split('\n').contains(assignment))
                return i;
        }
        return -1;
    }

    int count(const QByteArray &assignment)
    {
        int n = 0;
        for (const QByteArray &message : messages())
            n += message.split('\n').count(assignment);
        return n;
    }

private:
    QString m_path;
    int m_fd = -1;
    bool m_bound = false;
    QList<QByteArray> m_messages;
};

QStringList local()
{
    return {u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s};
}

} // namespace

class tst_SdNotify : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;

    static void
    setEnvironment(ServerProcess &server, const QString &socketPath, qint64 watchdogUsec)
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"NOTIFY_SOCKET"_s, socketPath);
        env.remove(u"WATCHDOG_PID"_s);
        if (watchdogUsec > 0)
            env.insert(u"WATCHDOG_USEC"_s, QString::number(watchdogUsec));
        else
            env.remove(u"WATCHDOG_USEC"_s);
        server.process.setProcessEnvironment(env);
    }

    // At once, even right after READY=1: mtwserver holds SIGINT, SIGTERM and SIGHUP from before
    // it binds until its event loop has installed the handlers (Server::holdSignals()), so an
    // early one waits instead of ending the process with the default action.
    static void stopWithSigterm(ServerProcess &server)
    {
        ::kill(pid_t(server.process.processId()), SIGTERM);
        QTRY_COMPARE_WITH_TIMEOUT(server.process.state(), QProcess::NotRunning, 10000);
        QCOMPARE(server.process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(server.process.exitCode(), 0);
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    // SIGHUP and SIGTERM sent while the server is still starting (its "configuration:" line is
    // out, the port not yet bound): both wait, and are handled once the event loop runs (a
    // reload, then a graceful shutdown). Neither ends the process with the default action.
    void signalsDuringStartAreHandled()
    {
        for (int round = 0; round < 3; ++round) {
            ServerProcess server;
            // Woken by each write to the log (inotify), not by QTRY's 50 ms steps, so the signals
            // come while start() still loads and starts the modules.
            QFileSystemWatcher watcher({server.logPath()});
            QSignalSpy written(&watcher, &QFileSystemWatcher::fileChanged);
            server.process.setArguments(local());
            server.process.start();
            QVERIFY(server.process.waitForStarted(10000));
            while (!server.allLog().contains(u"configuration:"_s))
                QVERIFY2(written.wait(10000), qPrintable(server.allLog()));
            ::kill(pid_t(server.process.processId()), SIGHUP);
            ::kill(pid_t(server.process.processId()), SIGTERM);
            QTRY_COMPARE_WITH_TIMEOUT(server.process.state(), QProcess::NotRunning, 10000);
            QCOMPARE(server.process.exitStatus(), QProcess::NormalExit);
            QCOMPARE(server.process.exitCode(), 0);
            const QString log = server.allLog();
            QVERIFY2(log.contains(u"SIGHUP received"_s), qPrintable(log));
            QVERIFY2(log.contains(u"signal 15 received: shutting down"_s), qPrintable(log));
        }
    }

    void readyThenStopping()
    {
        NotifySocket manager(m_dir.filePath(u"notify-1"_s));
        QVERIFY(manager.isBound());
        ServerProcess server;
        setEnvironment(server, manager.path(), 0);
        QVERIFY(server.start(local()));
#ifdef MTW_HAVE_SYSTEMD
        QTRY_VERIFY(manager.indexOf("READY=1") >= 0);
        // READY comes once the port is bound: its status names the port the log reported.
        const QByteArray status =
            "STATUS=listening on 127.0.0.1:" + QByteArray::number(server.port);
        QCOMPARE(manager.indexOf(status), manager.indexOf("READY=1"));
        QCOMPARE(manager.indexOf("STOPPING=1"), -1);
        stopWithSigterm(server);
        QVERIFY(manager.indexOf("STOPPING=1") > manager.indexOf("READY=1"));
        QCOMPARE(manager.count("READY=1"), 1);
        QCOMPARE(manager.count("STOPPING=1"), 1);
        QCOMPARE(manager.count("WATCHDOG=1"), 0); // not asked for
#else
        stopWithSigterm(server);
        QVERIFY2(manager.messages().isEmpty(), manager.messages().join('|').constData());
#endif
    }

    void watchdogPingsWhileRunning()
    {
        NotifySocket manager(m_dir.filePath(u"notify-2"_s));
        QVERIFY(manager.isBound());
        ServerProcess server;
        setEnvironment(server, manager.path(), 200'000); // WatchdogSec=200ms: a ping every 100 ms
        QVERIFY(server.start(local()));
#ifdef MTW_HAVE_SYSTEMD
        QTRY_VERIFY(manager.count("WATCHDOG=1") >= 3);
        QVERIFY(manager.indexOf("READY=1") >= 0);
        stopWithSigterm(server);
        // No ping after STOPPING=1: the shutdown is bounded by shutdown_timeout instead.
        const QList<QByteArray> all = manager.messages();
        const qsizetype stopping = manager.indexOf("STOPPING=1");
        QVERIFY(stopping > 0);
        for (qsizetype i = stopping + 1; i < all.size(); ++i)
            QVERIFY2(!all.at(i).split('\n').contains("WATCHDOG=1"), all.at(i).constData());
#else
        QTest::qWait(500);
        stopWithSigterm(server);
        QVERIFY(manager.messages().isEmpty());
#endif
    }

    // systemctl reload (SIGHUP): RELOADING=1 with MONOTONIC_USEC, then READY=1 again, for a
    // good file and for a refused one (the server goes on serving; the status says which).
    void reloadingThenReady()
    {
        NotifySocket manager(m_dir.filePath(u"notify-3"_s));
        QVERIFY(manager.isBound());
        const QString configPath = m_dir.filePath(u"reload.toml"_s);
        const auto writeConfig = [&configPath](const QByteArray &text) {
            QFile file(configPath);
            QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
            file.write(text);
        };
        writeConfig("[logging]\nlevel = \"info\"\n");
        ServerProcess server;
        setEnvironment(server, manager.path(), 0);
        QVERIFY(server.start(local() + QStringList{u"--config"_s, configPath}));
#ifdef MTW_HAVE_SYSTEMD
        QTRY_COMPARE(manager.count("READY=1"), 1);
        writeConfig("[logging]\nlevel = \"debug\"\n");
        ::kill(pid_t(server.process.processId()), SIGHUP);
        QTRY_COMPARE(manager.count("READY=1"), 2);
        const qsizetype reloading = manager.indexOf("RELOADING=1");
        QVERIFY(reloading > 0);
        QVERIFY(manager.messages().at(reloading).contains("\nMONOTONIC_USEC="));
        QVERIFY(manager.messages().constLast().contains("; configuration reloaded"));
        writeConfig("[logging]\nlevel = \"loud\"\n");
        ::kill(pid_t(server.process.processId()), SIGHUP);
        QTRY_COMPARE(manager.count("READY=1"), 3);
        QCOMPARE(manager.count("RELOADING=1"), 2);
        QVERIFY2(
            manager.messages().constLast().contains("configuration reload refused (1 error(s))"),
            manager.messages().constLast().constData());
        stopWithSigterm(server);
        QCOMPARE(manager.count("STOPPING=1"), 1);
#else
        ::kill(pid_t(server.process.processId()), SIGHUP);
        QTRY_VERIFY(server.allLog().contains(u"configuration reloaded"_s));
        stopWithSigterm(server);
        QVERIFY(manager.messages().isEmpty());
#endif
    }
};

QTEST_GUILESS_MAIN(tst_SdNotify)
#include "tst_sdnotify.moc"
