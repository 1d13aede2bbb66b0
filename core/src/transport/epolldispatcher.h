// SPDX-License-Identifier: MIT
#pragma once

#include <QAbstractEventDispatcher>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

struct epoll_event;

namespace Mtw::Internal {

// An event dispatcher for the I/O worker threads, built on epoll(7).
//
// Why: QEventDispatcherUNIX (what Qt uses with QT_NO_GLIB=1) rebuilds a pollfd array of every
// socket notifier and calls ppoll on each loop iteration, O(connections) per wake-up; with
// thousands of sockets per worker that is most of the CPU. Here each notifier change is one
// epoll_ctl (applied lazily, just before waiting, so enable/disable pairs in one iteration cost
// nothing; only a descriptor's last notifier going is applied at once, before Qt closes it) and
// each wake-up costs O(ready sockets).
//
// Semantics follow QEventDispatcherUNIX: level-triggered notifiers activated with
// QEvent::SockAct, QTimerEvent for timers (Coarse handled as Precise, VeryCoarse rounded to
// seconds), posted events sent at the start of every processEvents().
//
// Threading: lives in (and is only used from) the thread it is installed on with
// QThread::setEventDispatcher(), except wakeUp() and interrupt(), which any thread may call.
// Linux only.
class EpollEventDispatcher final : public QAbstractEventDispatcher
{
    Q_OBJECT

public:
    explicit EpollEventDispatcher(QObject *parent = nullptr);
    ~EpollEventDispatcher() override;

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    using QAbstractEventDispatcher::registerTimer;
    void
    registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    void wakeUp() override;
    void interrupt() override;

    // epoll_ctl() calls made by every instance in the process so far (diagnostics and tests).
    static quint64 kernelUpdateCount() { return s_kernelUpdates.load(std::memory_order_relaxed); }

private:
    using Clock = std::chrono::steady_clock;

    // The notifiers of one descriptor share one epoll registration.
    struct FdEntry
    {
        QSocketNotifier *notifiers[3] = {nullptr, nullptr, nullptr}; // by QSocketNotifier::Type
        std::uint32_t generation = 0;   // tags epoll events; bumped whenever the set empties
        std::uint32_t kernelEvents = 0; // what epoll has registered (0: not registered)
        std::uint32_t kernelGeneration = 0;
        bool dirty = false; // queued in m_dirtyFds
    };

    struct Timer
    {
        QObject *object = nullptr;
        qint64 interval = 0; // milliseconds (VeryCoarse: rounded to whole seconds)
        Qt::TimerType type = Qt::PreciseTimer;
        Clock::time_point due;
        std::uint64_t serial = 0; // tells a re-registered id apart within one pass
        bool firing = false;      // its handler is running: no recursive activation
    };

    void markDirty(int fd, FdEntry &entry);
    void syncEpoll();
    int dispatchSocketEvent(std::uint64_t tag, std::uint32_t events);
    int activateTimers();
    int waitTimeoutMs(QEventLoop::ProcessEventsFlags flags) const;
    bool consumeWakeUp();

    int epollCtl(int op, int fd, epoll_event *event);

    static inline std::atomic<quint64> s_kernelUpdates{0};
    int m_epollFd = -1;
    int m_wakeFd = -1;
    std::atomic<bool> m_wakeUpPending{false};
    std::atomic<bool> m_interrupted{false};

    std::unordered_map<int, FdEntry> m_fds;
    std::vector<int> m_dirtyFds;
    std::uint32_t m_nextGeneration = 1;

    std::unordered_map<int, Timer> m_timers;
    std::set<std::pair<Clock::time_point, int>> m_timerQueue; // (due, id), earliest first
    std::uint64_t m_nextSerial = 1;
};

} // namespace Mtw::Internal
