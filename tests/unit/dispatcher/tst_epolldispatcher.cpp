// SPDX-License-Identifier: MIT
// EpollEventDispatcher in a real QThread, driven from the test (main) thread. Objects under test
// live in the worker thread; results come back through runIn() (a blocking queued call, which
// itself exercises posted events and cross-thread wake-ups) or atomics polled with QTRY_.
#include "transport/epolldispatcher.h"
#include "transport/tsanannotations.h"

#include <QAbstractEventDispatcher>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

using Mtw::Internal::EpollEventDispatcher;
namespace Tsan = Mtw::Internal::Tsan;
using namespace std::chrono_literals;
using namespace Qt::StringLiterals;

namespace {

// A timer target whose handler runs an arbitrary function (lives in the worker thread).
class TimerTarget : public QObject
{
public:
    std::function<void(TimerTarget *, int)> onTimer;
    std::vector<int> fired; // timer ids, in order

protected:
    void timerEvent(QTimerEvent *event) override
    {
        fired.push_back(event->timerId());
        if (onTimer)
            onTimer(this, event->timerId());
    }
};

void writeByte(int fd)
{
    QCOMPARE(::write(fd, "x", 1), ssize_t(1));
}

struct SocketPair
{
    int fds[2] = {-1, -1};
    SocketPair() { ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds); }
    ~SocketPair()
    {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    int readable() const
    {
        int n = 0;
        ::ioctl(fds[0], FIONREAD, &n);
        return n;
    }
};

// A kernel timer (timerfd, CLOCK_MONOTONIC), independent of the dispatcher under test: armed
// for `ms` before a Qt timer of a longer interval is started, it must have expired by the time
// that timer fires. This checks that timers never fire early without the test timing anything.
class KernelTimer
{
public:
    explicit KernelTimer(int ms)
        : m_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC))
    {
        itimerspec spec{};
        spec.it_value.tv_sec = ms / 1000;
        spec.it_value.tv_nsec = long(ms % 1000) * 1'000'000L;
        ::timerfd_settime(m_fd, 0, &spec, nullptr);
    }
    ~KernelTimer() { ::close(m_fd); }
    KernelTimer(const KernelTimer &) = delete;
    KernelTimer &operator=(const KernelTimer &) = delete;

    bool expired()
    {
        std::uint64_t expirations = 0;
        if (::read(m_fd, &expirations, sizeof expirations) == ssize_t(sizeof expirations))
            m_expired = m_expired || expirations > 0;
        return m_expired;
    }

private:
    int m_fd;
    bool m_expired = false;
};

} // namespace

class TestEpollDispatcher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void installed();
    void queuedInvocationsInOrder();
    void wakeUpFromOtherThreads();
    void wakeUpAloneEndsTheWait();
    void singleShotTimersInOrder_data();
    void singleShotTimersInOrder();
    void repeatingTimer();
    void veryCoarseTimerRoundsToSeconds();
    void killTimerInOwnHandler();
    void timerNotReenteredFromNestedLoop();
    void timerKillsAnotherDueInSamePass();
    void timerDeletesOwnerOfAnotherDueTimer();
    void processEventsWithoutWaitDoesNotBlock();
    void excludeSocketNotifiers();
    void tcpEcho();
    void thousandSockets();
    void notifierDeletedDuringSameBatch();
    void quitReturnsPromptly();

private:
    void runIn(const std::function<void()> &function)
    {
        // The caller wakes up through a QSemaphore inside libQt6Core that ThreadSanitizer cannot
        // see: tell it that what `function` did comes before what follows here.
        QMetaObject::invokeMethod(
            m_context,
            [&function, this] {
                function();
                Tsan::release(m_context);
            },
            Qt::BlockingQueuedConnection);
        Tsan::acquire(m_context);
    }

    QThread *m_thread = nullptr;
    QObject *m_context = nullptr; // lives in m_thread
    std::atomic<bool> m_waiting{false};
};

void TestEpollDispatcher::initTestCase()
{
    // thousandSockets needs ~2,000 descriptors.
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

void TestEpollDispatcher::init()
{
    m_thread = new QThread;
    auto *dispatcher = new EpollEventDispatcher;
    m_thread->setEventDispatcher(dispatcher);
    m_context = new QObject;
    m_context->moveToThread(m_thread);
    // As in the server: deferred deletes still run in the thread after its loop has stopped.
    QObject::connect(m_thread, &QThread::finished, m_context, &QObject::deleteLater);
    // Each test starts with the worker waiting. While it starts up it may take a posted event
    // in the instant before the poster's wakeUp(), an order ThreadSanitizer cannot see
    // (cmake/tsan.supp); once it waits, only that wakeUp() ends the wait.
    m_waiting = false;
    const QMetaObject::Connection waiting = QObject::connect(
        dispatcher,
        &QAbstractEventDispatcher::aboutToBlock,
        dispatcher,
        [this] { m_waiting = true; },
        Qt::DirectConnection);
    m_thread->start();
    QTRY_VERIFY(m_waiting.load());
    QObject::disconnect(waiting);
}

void TestEpollDispatcher::cleanup()
{
    m_thread->quit();
    QVERIFY(m_thread->wait(5000));
    delete m_thread;
    m_thread = nullptr;
    m_context = nullptr;
}

void TestEpollDispatcher::installed()
{
    QAbstractEventDispatcher *dispatcher = nullptr;
    runIn([&] { dispatcher = QAbstractEventDispatcher::instance(); });
    QVERIFY(qobject_cast<EpollEventDispatcher *>(dispatcher));
    QCOMPARE(m_thread->eventDispatcher(), dispatcher);
}

void TestEpollDispatcher::queuedInvocationsInOrder()
{
    std::vector<int> seen; // touched only in the worker thread until the final runIn
    for (int i = 0; i < 1000; ++i)
        QMetaObject::invokeMethod(
            m_context,
            [&seen, i] { seen.push_back(i); },
            Qt::QueuedConnection);
    std::vector<int> copy;
    runIn([&] { copy = seen; }); // posted after the 1,000: runs after them
    QCOMPARE(int(copy.size()), 1000);
    for (int i = 0; i < 1000; ++i)
        QCOMPARE(copy[i], i);
}

void TestEpollDispatcher::wakeUpFromOtherThreads()
{
    // The worker is blocked in epoll_wait (no timers); only wake-ups can deliver these.
    std::atomic<int> delivered{0};
    constexpr int Threads = 4, PerThread = 5000;
    std::vector<std::thread> posters;
    for (int t = 0; t < Threads; ++t) {
        posters.emplace_back([&] {
            for (int i = 0; i < PerThread; ++i) {
                QMetaObject::invokeMethod(
                    m_context,
                    [&delivered] { delivered.fetch_add(1); },
                    Qt::QueuedConnection);
            }
        });
    }
    for (std::thread &poster : posters)
        poster.join();
    QTRY_COMPARE_WITH_TIMEOUT(delivered.load(), Threads * PerThread, 10000);
}

void TestEpollDispatcher::wakeUpAloneEndsTheWait()
{
    auto *dispatcher = m_thread->eventDispatcher();
    std::atomic<int> awakes{0};
    std::atomic<int> blocks{0};
    std::atomic<int> blocksAtAwake{0}; // blocks as it was when the last awake came
    QMetaObject::Connection awake;
    QMetaObject::Connection block;
    runIn([&] {
        awake = QObject::connect(
            dispatcher,
            &QAbstractEventDispatcher::awake,
            dispatcher,
            [&] {
                blocksAtAwake.store(blocks.load());
                awakes.fetch_add(1);
            },
            Qt::DirectConnection);
        block = QObject::connect(
            dispatcher,
            &QAbstractEventDispatcher::aboutToBlock,
            dispatcher,
            [&blocks] { blocks.fetch_add(1); },
            Qt::DirectConnection);
    });
    // Nothing is posted and no timer runs: only the eventfd can end each blocking wait. The
    // worker emits awake before it reads the eventfd, and a wakeUp() until then is coalesced
    // with the one being consumed (its posted event, if it had one, is sent at the start of the
    // next pass): so each round waits until the worker is about to block again.
    for (int round = 0; round < 100; ++round) {
        const int before = awakes.load();
        dispatcher->wakeUp();
        QTRY_VERIFY_WITH_TIMEOUT(awakes.load() > before, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(blocks.load() > blocksAtAwake.load(), 5000);
    }
    runIn([&] {
        QObject::disconnect(awake);
        QObject::disconnect(block);
    });
}

void TestEpollDispatcher::singleShotTimersInOrder_data()
{
    QTest::addColumn<Qt::TimerType>("type");
    QTest::newRow("precise") << Qt::PreciseTimer;
    QTest::newRow("coarse") << Qt::CoarseTimer;
}

// Timers fire in the order they fall due, not in the order they were started: the shorter
// interval first. None fires early: a kernel timer armed for 3/4 of its interval just before it
// was started has always expired when it fires.
void TestEpollDispatcher::singleShotTimersInOrder()
{
    QFETCH(Qt::TimerType, type);
    QStringList fired;   // touched only in the worker thread until the final runIn
    QStringList tooSoon; // fired before their kernel timer expired
    std::vector<std::unique_ptr<KernelTimer>> references;
    std::atomic<int> count{0};
    runIn([&] {
        // Started longest first: every pair is out of order. 100 ms between due times leaves a
        // wide margin for the microseconds between these calls.
        for (int interval : {300, 200, 100, 0}) {
            references.push_back(std::make_unique<KernelTimer>(interval * 3 / 4));
            KernelTimer *reference = references.back().get();
            QTimer::singleShot(interval, type, m_context, [&, interval, reference] {
                fired.append(QString::number(interval));
                if (interval > 0 && !reference->expired())
                    tooSoon.append(QString::number(interval));
                count.fetch_add(1);
            });
        }
    });
    QTRY_COMPARE_WITH_TIMEOUT(count.load(), 4, 30000);
    QStringList order, early;
    runIn([&] {
        order = fired;
        early = tooSoon;
    });
    QCOMPARE(order, QStringList({u"0"_s, u"100"_s, u"200"_s, u"300"_s}));
    QCOMPARE(early, QStringList());
}

// A repeating timer: ticks no sooner than its interval, reschedules itself before delivery, and
// once stopped never ticks again.
void TestEpollDispatcher::repeatingTimer()
{
    std::atomic<int> ticks{0};
    std::atomic<int> ticksAtSentinel{-1};
    std::atomic<int> remaining{-2};
    std::atomic<bool> fifthTooSoon{true};
    KernelTimer reference(80); // five 20 ms intervals take 100 ms at least
    runIn([&] {
        auto *timer = new QTimer(m_context);
        timer->setTimerType(Qt::PreciseTimer);
        timer->setInterval(20);
        QObject::connect(timer, &QTimer::timeout, m_context, [&, timer] {
            if (ticks.fetch_add(1) + 1 != 5)
                return;
            fifthTooSoon = !reference.expired();
            remaining = timer->remainingTime(); // rescheduled before delivery
            timer->stop();
            timer->deleteLater();
            // Due two and a half intervals after the stop: a timer still running would tick
            // before it (timers fire in the order they fall due).
            QTimer::singleShot(50, Qt::PreciseTimer, m_context, [&] {
                ticksAtSentinel = ticks.load();
            });
        });
        timer->start();
    });
    QTRY_VERIFY_WITH_TIMEOUT(ticksAtSentinel.load() >= 0, 30000);
    QVERIFY(!fifthTooSoon.load());
    QVERIFY2(remaining >= 0 && remaining <= 20, qPrintable(QString::number(remaining)));
    QCOMPARE(ticksAtSentinel.load(), 5);
    QCOMPARE(ticks.load(), 5);
}

void TestEpollDispatcher::veryCoarseTimerRoundsToSeconds()
{
    QList<QAbstractEventDispatcher::TimerInfo> infos;
    int remaining = 0;
    int unknown = 0;
    runIn([&] {
        auto *dispatcher = QAbstractEventDispatcher::instance();
        TimerTarget target;
        const int id = target.startTimer(1400ms, Qt::VeryCoarseTimer);
        target.startTimer(50ms, Qt::PreciseTimer);
        infos = dispatcher->registeredTimers(&target);
        remaining = dispatcher->remainingTime(id);
        unknown = dispatcher->remainingTime(999999);
    }); // target's destructor unregisters both
    QCOMPARE(infos.size(), 2);
    std::sort(infos.begin(), infos.end(), [](auto a, auto b) { return a.interval < b.interval; });
    QCOMPARE(infos[0].interval, 50);
    QCOMPARE(infos[1].interval, 1000);
    QCOMPARE(infos[1].timerType, Qt::VeryCoarseTimer);
    QVERIFY(remaining > 900 && remaining <= 1000);
    QCOMPARE(unknown, -1);
}

void TestEpollDispatcher::killTimerInOwnHandler()
{
    std::atomic<bool> sentinel{false};
    std::vector<int> fired;
    TimerTarget *target = nullptr;
    runIn([&] {
        target = new TimerTarget;
        target->onTimer = [](TimerTarget *self, int id) { self->killTimer(id); };
        target->startTimer(0ms); // due on every pass unless the kill works
        QTimer::singleShot(50, m_context, [&] { sentinel = true; });
    });
    QTRY_VERIFY(sentinel.load());
    runIn([&] {
        fired = target->fired;
        delete target;
    });
    QCOMPARE(int(fired.size()), 1);
}

void TestEpollDispatcher::timerNotReenteredFromNestedLoop()
{
    std::atomic<int> nestedFires{-1}, total{0};
    TimerTarget *target = nullptr;
    runIn([&] {
        target = new TimerTarget;
        target->onTimer = [&](TimerTarget *self, int) {
            if (total.fetch_add(1) != 0)
                return;
            // A nested loop in the handler: this timer (due every 5 ms) must not re-enter.
            QEventLoop loop;
            QTimer::singleShot(50, &loop, &QEventLoop::quit);
            loop.exec();
            nestedFires = int(self->fired.size()) - 1;
        };
        target->startTimer(5ms);
    });
    QTRY_VERIFY(total.load() >= 3); // and it keeps firing afterwards
    runIn([&] { delete target; });  // its handler refers to this stack frame
    QCOMPARE(nestedFires.load(), 0);
}

void TestEpollDispatcher::timerKillsAnotherDueInSamePass()
{
    std::atomic<bool> sentinel{false};
    std::vector<int> fired;
    TimerTarget *target = nullptr;
    runIn([&] {
        target = new TimerTarget;
        // Five timers due in one pass. Whichever fires first kills the others and registers a
        // replacement under the id of the last one still to come in this pass (Qt's allocator
        // rarely reuses ids this fast, so the test does it by hand): the replacement is due
        // 10 ms later and must not fire in this pass; the killed ones must not fire at all.
        // A 5 ms marker started just before the replacement is due before it: the replacement
        // firing in a later pass finds the marker fired; in the same pass, it would not.
        target->onTimer = [](TimerTarget *self, int id) {
            if (self->fired.size() == 2)
                self->setProperty("markerFirst", self->property("markerFired").toBool());
            if (self->fired.size() != 1)
                return;
            const auto ids = self->property("ids").value<QList<int>>();
            for (int other : ids) {
                if (other != id)
                    self->killTimer(other);
            }
            self->killTimer(id);
            const int reused = ids.constLast() != id ? ids.constLast() : ids.constFirst();
            QTimer::singleShot(5, Qt::PreciseTimer, self, [self] {
                self->setProperty("markerFired", true);
            });
            QAbstractEventDispatcher::instance()->registerTimer(reused, 10, Qt::PreciseTimer, self);
            self->setProperty("replacement", reused);
        };
        QList<int> ids;
        for (int i = 0; i < 5; ++i)
            ids.append(target->startTimer(5ms));
        target->setProperty("ids", QVariant::fromValue(ids));
        std::this_thread::sleep_for(20ms); // setup: make all five due in the same pass
        QTimer::singleShot(200, m_context, [&] { sentinel = true; });
    });
    QTRY_VERIFY(sentinel.load());
    int replacement = 0;
    bool markerFirst = false;
    runIn([&] {
        fired = target->fired;
        replacement = target->property("replacement").toInt();
        markerFirst = target->property("markerFirst").toBool();
        // Registered behind QObject's back: unregister it before ~QObject.
        QAbstractEventDispatcher::instance()->unregisterTimers(target);
        delete target;
    });
    QVERIFY(fired.size() >= 2);
    QCOMPARE(fired[1], replacement);
    QVERIFY2(markerFirst, "the replacement fired in the pass that registered it");
    for (std::size_t i = 2; i < fired.size(); ++i)
        QCOMPARE(fired[i], replacement); // repeating, but nothing else
}

void TestEpollDispatcher::timerDeletesOwnerOfAnotherDueTimer()
{
    std::atomic<int> fired{0};
    std::atomic<bool> sentinel{false};
    runIn([&] {
        auto *a = new TimerTarget;
        auto *b = new TimerTarget;
        a->onTimer = [&, b](TimerTarget *self, int id) {
            fired.fetch_add(1);
            delete b; // its due timer is unregistered by ~QObject in mid-pass
            self->killTimer(id);
            self->deleteLater();
        };
        b->onTimer = [&, a](TimerTarget *self, int id) {
            fired.fetch_add(1);
            delete a;
            self->killTimer(id);
            self->deleteLater();
        };
        a->startTimer(5ms);
        b->startTimer(5ms);
        std::this_thread::sleep_for(20ms);
        QTimer::singleShot(50, m_context, [&] { sentinel = true; });
    });
    QTRY_VERIFY(sentinel.load());
    QCOMPARE(fired.load(), 1);
}

// Without WaitForMoreEvents, processEvents() handles what is ready and returns. Nothing else
// can wake this thread while runIn() holds it, so a call that waited would return only when
// the far timer fired: that it did not fire shows that neither call waited.
void TestEpollDispatcher::processEventsWithoutWaitDoesNotBlock()
{
    bool first = true, second = false;
    std::size_t farFired = 1, targetFired = 0;
    runIn([&] {
        auto *dispatcher = QAbstractEventDispatcher::instance();
        TimerTarget far;
        far.startTimer(10s);                              // must not be waited for
        dispatcher->processEvents(QEventLoop::AllEvents); // drain anything pending
        first = dispatcher->processEvents(QEventLoop::AllEvents);
        TimerTarget target;
        target.startTimer(0ms);
        second = dispatcher->processEvents(QEventLoop::AllEvents);
        farFired = far.fired.size();
        targetFired = target.fired.size();
    });
    QVERIFY(!first);                       // nothing was ready
    QVERIFY(second);                       // the zero timer was
    QCOMPARE(targetFired, std::size_t(1)); // and fired
    QCOMPARE(farFired, std::size_t(0));    // the far one was never waited for
}

void TestEpollDispatcher::excludeSocketNotifiers()
{
    int activations = -1, iterations = 0;
    bool timerFired = false;
    runIn([&] {
        SocketPair pair;
        writeByte(pair.fds[1]);
        QSocketNotifier notifier(pair.fds[0], QSocketNotifier::Read);
        int count = 0;
        QObject::connect(&notifier, &QSocketNotifier::activated, m_context, [&] { ++count; });
        QTimer::singleShot(20, m_context, [&] { timerFired = true; });
        auto *dispatcher = QAbstractEventDispatcher::instance();
        // Readable all along, yet excluded: the wait must end on the timer, not spin.
        while (!timerFired) {
            dispatcher->processEvents(QEventLoop::WaitForMoreEvents
                                      | QEventLoop::ExcludeSocketNotifiers);
            ++iterations;
        }
        activations = count;
        dispatcher->processEvents(QEventLoop::AllEvents);
        QCOMPARE(count, 1); // level-triggered: still there once notifiers are included
    });
    QCOMPARE(activations, 0);
    QVERIFY2(iterations < 10, qPrintable(QString::number(iterations)));
}

void TestEpollDispatcher::tcpEcho()
{
    // 4 MB each way: many partial writes, so the write notifier is toggled many times.
    const QByteArray payload = QByteArray(4 * 1024 * 1024, 'e') + "end";
    std::atomic<bool> echoed{false}, serverSawDisconnect{false}, clientDisconnected{false};
    std::atomic<qint64> written{0};
    QByteArray received;
    QTcpServer *server = nullptr;
    QTcpSocket *client = nullptr;
    runIn([&] {
        server = new QTcpServer;
        QVERIFY(server->listen(QHostAddress::LocalHost, 0));
        QObject::connect(server, &QTcpServer::newConnection, server, [&] {
            QTcpSocket *peer = server->nextPendingConnection();
            QObject::connect(peer, &QTcpSocket::readyRead, peer, [peer] {
                peer->write(peer->readAll());
            });
            QObject::connect(peer, &QTcpSocket::disconnected, peer, [peer, &serverSawDisconnect] {
                serverSawDisconnect = true;
                peer->deleteLater();
            });
        });
        client = new QTcpSocket;
        QObject::connect(client, &QTcpSocket::connected, client, [&] { client->write(payload); });
        QObject::connect(client, &QTcpSocket::bytesWritten, client, [&](qint64 n) {
            written += n;
        });
        QObject::connect(client, &QTcpSocket::readyRead, client, [&] {
            received += client->readAll();
            if (received.size() == payload.size()) {
                echoed = true;
                client->disconnectFromHost();
            }
        });
        QObject::connect(client, &QTcpSocket::disconnected, client, [&] {
            clientDisconnected = true;
        });
        client->connectToHost(QHostAddress::LocalHost, server->serverPort());
    });
    QTRY_VERIFY_WITH_TIMEOUT(echoed.load(), 20000);
    QTRY_VERIFY(serverSawDisconnect.load());
    QTRY_VERIFY(clientDisconnected.load());
    QCOMPARE(written.load(), qint64(payload.size()));
    runIn([&] {
        QVERIFY(received == payload);
        delete client;
        delete server;
    });
}

void TestEpollDispatcher::thousandSockets()
{
    constexpr int Count = 1000;
    std::atomic<int> accepted{0}, replies{0}, wrong{0}, closed{0};
    std::vector<std::unique_ptr<QTcpSocket>> clients;
    QTcpServer *server = nullptr;
    runIn([&] {
        server = new QTcpServer;
        server->setListenBacklogSize(Count * 2);
        QVERIFY(server->listen(QHostAddress::LocalHost, 0));
        QObject::connect(server, &QTcpServer::newConnection, server, [&] {
            while (QTcpSocket *peer = server->nextPendingConnection()) {
                accepted.fetch_add(1);
                QObject::connect(peer, &QTcpSocket::readyRead, peer, [peer] {
                    peer->write(peer->readAll());
                });
                QObject::connect(peer, &QTcpSocket::disconnected, peer, [peer, &closed] {
                    closed.fetch_add(1);
                    peer->deleteLater();
                });
            }
        });
        for (int i = 0; i < Count; ++i) {
            clients.push_back(std::make_unique<QTcpSocket>());
            QTcpSocket *client = clients.back().get();
            const QByteArray message = QByteArray::number(i) + '\n';
            QObject::connect(client, &QTcpSocket::connected, client, [client, message] {
                client->write(message);
            });
            QObject::connect(client, &QTcpSocket::readyRead, client, [&, client, message] {
                if (!client->canReadLine())
                    return;
                (client->readLine() == message ? replies : wrong).fetch_add(1);
            });
            client->connectToHost(QHostAddress::LocalHost, server->serverPort());
        }
    });
    QTRY_COMPARE_WITH_TIMEOUT(replies.load(), Count, 30000);
    QCOMPARE(accepted.load(), Count);
    QCOMPARE(wrong.load(), 0);
    runIn([&] {
        for (auto &client : clients)
            client->disconnectFromHost();
    });
    QTRY_COMPARE_WITH_TIMEOUT(closed.load(), Count, 30000);
    runIn([&] {
        clients.clear();
        delete server;
    });
}

void TestEpollDispatcher::notifierDeletedDuringSameBatch()
{
    // Eight readable sockets come back from one epoll_wait. The first handler deletes the other
    // notifiers, closes their descriptors and opens new ones, which reuse the numbers: nothing
    // of the stale batch may reach a deleted notifier or the newcomers.
    constexpr int Count = 8;
    int activations = 0, spurious = 0, newcomerActivations = 0;
    runIn([&] {
        std::vector<std::unique_ptr<SocketPair>> pairs;
        std::vector<std::unique_ptr<QSocketNotifier>> notifiers;
        std::vector<std::unique_ptr<SocketPair>> newPairs;
        std::vector<std::unique_ptr<QSocketNotifier>> newNotifiers;
        bool done = false;
        for (int i = 0; i < Count; ++i) {
            pairs.push_back(std::make_unique<SocketPair>());
            writeByte(pairs.back()->fds[1]);
            notifiers.push_back(
                std::make_unique<QSocketNotifier>(pairs.back()->fds[0], QSocketNotifier::Read));
            QObject::connect(
                notifiers.back().get(),
                &QSocketNotifier::activated,
                m_context,
                [&, i] {
                    ++activations;
                    if (done)
                        return;
                    done = true;
                    for (int j = 0; j < Count; ++j) {
                        if (j == i)
                            continue;
                        notifiers[j].reset();
                        pairs[j].reset();
                    }
                    for (int j = 0; j < Count - 1; ++j) {
                        newPairs.push_back(std::make_unique<SocketPair>());
                        SocketPair *pair = newPairs.back().get();
                        newNotifiers.push_back(
                            std::make_unique<QSocketNotifier>(pair->fds[0], QSocketNotifier::Read));
                        QObject::connect(newNotifiers.back().get(),
                                         &QSocketNotifier::activated,
                                         m_context,
                                         [&, pair] {
                                             ++newcomerActivations;
                                             if (pair->readable() == 0)
                                                 ++spurious;
                                             char c;
                                             while (::read(pair->fds[0], &c, 1) == 1) {
                                             }
                                         });
                    }
                });
        }
        auto *dispatcher = QAbstractEventDispatcher::instance();
        dispatcher->processEvents(QEventLoop::AllEvents); // the batch
        QCOMPARE(activations, 1);
        QCOMPARE(newcomerActivations, 0);
        // The newcomers work: make each readable once.
        for (auto &pair : newPairs)
            writeByte(pair->fds[1]);
        for (int i = 0; i < 10 && newcomerActivations < Count - 1; ++i)
            dispatcher->processEvents(QEventLoop::AllEvents);
        notifiers.clear(); // before the pairs: a notifier must not outlive its descriptor
        newNotifiers.clear();
    });
    QCOMPARE(newcomerActivations, Count - 1);
    QCOMPARE(spurious, 0);
}

// quit() from another thread wakes a loop blocked on a far timer: the loop ends before the
// timer fires (it never does), rather than when it fires.
void TestEpollDispatcher::quitReturnsPromptly()
{
    std::atomic<bool> timerFired{false};
    runIn([&] {
        auto *target = new TimerTarget;
        target->setParent(m_context);
        target->onTimer = [&timerFired](TimerTarget *, int) { timerFired = true; };
        target->startTimer(60s); // the loop is blocked on it when quit() arrives
    });
    m_thread->quit();
    QVERIFY(m_thread->wait(30000)); // generous, and still half the timer's interval
    QVERIFY(!timerFired.load());
    // cleanup() quits again: harmless.
}

QTEST_GUILESS_MAIN(TestEpollDispatcher)
#include "tst_epolldispatcher.moc"
