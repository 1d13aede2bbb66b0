// SPDX-License-Identifier: MIT
// The server's write path over real loopback sockets (issue 19): what a worker writes in one
// event-loop pass is handed to the kernel before the worker waits again, without switching each
// socket's write notifier on and off through epoll; accepted sockets have TCP_NODELAY.
#include "protocolclient.h"

#ifdef MTW_EPOLL_DISPATCHER
#  include "transport/epolldispatcher.h"
#endif

#include <QDir>
#include <QtTest>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <memory>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

constexpr int Subscribers = 20;
constexpr int Publishes = 20;

// The TCP sockets of this process whose local port is `port` and that are connected (the
// server's side of each client; the listener has no peer).
QList<int> acceptedSocketsOnPort(quint16 port)
{
    QList<int> found;
    const QStringList entries =
        QDir(u"/proc/self/fd"_s).entryList(QDir::NoDotAndDotDot | QDir::System);
    for (const QString &entry : entries) {
        bool ok = false;
        const int fd = entry.toInt(&ok);
        struct stat info
        { };
        if (!ok || fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode))
            continue;
        sockaddr_storage local{};
        socklen_t length = sizeof local;
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&local), &length) != 0
            || local.ss_family != AF_INET
            || ntohs(reinterpret_cast<sockaddr_in *>(&local)->sin_port) != port) {
            continue;
        }
        sockaddr_storage peer{};
        length = sizeof peer;
        if (getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &length) == 0)
            found.append(fd);
    }
    return found;
}

} // namespace

class tst_WritePath : public QObject
{
    Q_OBJECT

private:
    static quint64 kernelUpdateCount()
    {
#ifdef MTW_EPOLL_DISPATCHER
        return Mtw::Internal::EpollEventDispatcher::kernelUpdateCount();
#else
        return 0;
#endif
    }

    // One worker (every socket in one flush list) and the channel "room".
    static Mtw::Config roomConfig()
    {
        Mtw::Config config = serverConfig();
        config.server.workers = 1;
        config.channels = {channel(u"room"_s)};
        return config;
    }

    // `count` clients subscribed to "room" (all subscribes sent, then every reply awaited).
    static void openMembers(const Mtw::Server &server,
                            int count,
                            std::vector<std::unique_ptr<MtwClient>> &members)
    {
        for (int i = 0; i < count; ++i) {
            auto client = std::make_unique<MtwClient>();
            QVERIFY(client->open(wsUrl(server)));
            client->send(u"subscribe"_s, u"s%1"_s.arg(i), {{u"channel"_s, u"room"_s}});
            members.push_back(std::move(client));
        }
        for (int i = 0; i < count; ++i)
            QVERIFY(members[size_t(i)]->waitReply(u"s%1"_s.arg(i), 10000));
    }

    // One publisher and Subscribers members on one channel, Publishes publishes one at a time;
    // every member must get every publish. Returns the epoll_ctl calls the process made meanwhile
    // (0 without the epoll dispatcher).
    static void broadcast(quint64 *kernelUpdates)
    {
        Mtw::Server server(roomConfig());
        QVERIFY(server.start());
        std::vector<std::unique_ptr<MtwClient>> members;
        openMembers(server, Subscribers, members);
        if (QTest::currentTestFailed())
            return;
        MtwClient publisher;
        QVERIFY(publisher.open(wsUrl(server)));

        const quint64 before = kernelUpdateCount();
        for (int n = 0; n < Publishes; ++n) {
            const auto reply =
                publisher.call(u"publish"_s,
                               u"p%1"_s.arg(n),
                               {{u"channel"_s, u"room"_s}, {u"payload"_s, jsonPayload(n)}});
            QVERIFY(reply);
            QCOMPARE(reply->json.value(u"type"_s).toString(), u"response"_s);
            for (const auto &member : members)
                QTRY_COMPARE_WITH_TIMEOUT(member->ofType(u"publish"_s, u"room"_s).size(),
                                          n + 1,
                                          10000);
        }
        *kernelUpdates = kernelUpdateCount() - before;
        for (const auto &member : members) {
            const auto got = member->ofType(u"publish"_s, u"room"_s);
            for (int n = 0; n < Publishes; ++n)
                QCOMPARE(dataOf(got.at(n).json).toInt(), n);
        }
    }

private Q_SLOTS:
    void cleanup()
    {
        qunsetenv("MTW_EVENT_DISPATCHER");
    }

#ifdef MTW_EPOLL_DISPATCHER
    // Before the fix every delivery switched its socket's write interest on and then off again:
    // two epoll_ctl per delivery (800 here). What is left is the publisher's side (its requests,
    // and, with the TSan build's epoll main thread, the test clients' own writes).
    void broadcastDoesNotToggleWriteInterest()
    {
        quint64 kernelUpdates = 0;
        broadcast(&kernelUpdates);
        if (QTest::currentTestFailed())
            return;
        qInfo("epoll_ctl calls during %d deliveries: %llu",
              Subscribers * Publishes,
              static_cast<unsigned long long>(kernelUpdates));
        QVERIFY2(kernelUpdates <= quint64(4 * Publishes),
                 qPrintable(u"%1 epoll_ctl calls for %2 deliveries"_s.arg(kernelUpdates)
                                .arg(Subscribers * Publishes)));
    }

#endif

    // The portable path: Qt's own dispatcher on the workers delivers everything as well.
    void broadcastWithQtDispatcher()
    {
        qputenv("MTW_EVENT_DISPATCHER", "qt");
        quint64 kernelUpdates = 0;
        broadcast(&kernelUpdates);
    }

    // More recipients than one flush pass takes (Outbound::MaxFlushesPerPass = 256), one publish
    // at a time and then a burst of publishes sent without waiting (several frames per socket
    // before its flush: Qt's buffer): every member gets everything once, in order.
    void moreSocketsThanOnePassAndBursts()
    {
        constexpr int Members = 300;
        constexpr int Single = 3;
        constexpr int Burst = 30;
        Mtw::Server server(roomConfig());
        QVERIFY(server.start());
        std::vector<std::unique_ptr<MtwClient>> members;
        openMembers(server, Members, members);
        if (QTest::currentTestFailed())
            return;
        MtwClient publisher;
        QVERIFY(publisher.open(wsUrl(server)));
        const auto publish = [&publisher](int n) {
            publisher.send(u"publish"_s,
                           u"p%1"_s.arg(n),
                           {{u"channel"_s, u"room"_s}, {u"payload"_s, jsonPayload(n)}});
        };
        for (int n = 0; n < Single; ++n) {
            publish(n);
            QVERIFY(publisher.waitReply(u"p%1"_s.arg(n), 10000));
        }
        for (int n = Single; n < Single + Burst; ++n)
            publish(n);
        for (const auto &member : members)
            QTRY_COMPARE_WITH_TIMEOUT(member->ofType(u"publish"_s, u"room"_s).size(),
                                      Single + Burst,
                                      15000);
        for (const auto &member : members) {
            const auto got = member->ofType(u"publish"_s, u"room"_s);
            for (int n = 0; n < Single + Burst; ++n)
                QCOMPARE(dataOf(got.at(n).json).toInt(), n);
        }
        const auto last = publisher.waitReply(u"p%1"_s.arg(Single + Burst - 1), 10000);
        QVERIFY(last);
        QCOMPARE(dataOf(last->json).toObject().value(u"recipients"_s).toInt(), Members);
    }

    // Small frames are not held back by Nagle's algorithm waiting for the client's delayed ACK.
    void acceptedSocketsHaveNoDelay()
    {
        Mtw::Config config = serverConfig();
        Mtw::Server server(config);
        QVERIFY(server.start());
        MtwClient first;
        MtwClient second;
        QVERIFY(first.open(wsUrl(server)));
        QVERIFY(second.open(wsUrl(server)));
        const QList<int> sockets = acceptedSocketsOnPort(server.port());
        QCOMPARE(sockets.size(), 2);
        for (const int fd : sockets) {
            int value = 0;
            socklen_t length = sizeof value;
            QCOMPARE(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length), 0);
            QCOMPARE(value, 1);
        }
    }
};

QTEST_MAIN(tst_WritePath)
#include "tst_writepath.moc"
