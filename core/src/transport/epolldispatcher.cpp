// SPDX-License-Identifier: MIT
#include "transport/epolldispatcher.h"

#include "transport/epolldispatcher_p.h"
#include "transport/logging.h"
#include "transport/tsanannotations.h"

#include <QCoreApplication>
#include <QSocketNotifier>
#include <QThread>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace Mtw::Internal {

namespace {

using namespace std::chrono;
using namespace EpollDetail;

// epoll_event.data of the wake-up eventfd; socket events carry (generation << 32) | fd, and no
// descriptor is 0xffffffff.
constexpr std::uint64_t WakeUpTag = ~std::uint64_t(0);
constexpr int MaxEventsPerWait = 256;

// The conditions that activate each QSocketNotifier::Type, as in QEventDispatcherUNIX.
constexpr std::uint32_t ActivatingEvents[3] = {
    EPOLLIN | EPOLLHUP | EPOLLERR,  // Read
    EPOLLOUT | EPOLLHUP | EPOLLERR, // Write
    EPOLLPRI | EPOLLHUP | EPOLLERR, // Exception
};
constexpr std::uint32_t RequestedEvents[3] = {EPOLLIN, EPOLLOUT, EPOLLPRI};

std::uint64_t socketTag(int fd, std::uint32_t generation)
{
    return (std::uint64_t(generation) << 32) | std::uint32_t(fd);
}

#ifdef MTW_TSAN_ANNOTATIONS
// QCoreApplication::notifyInternal2() runs this before every event it sends, posted ones
// included. sendPostedEvents() also delivers events posted while it runs, after the acquire
// in processEvents(); acquiring again before each event covers those (see wakeUp()).
bool acquirePostedEventsBeforeDelivery(void ** /*receiver, event, result*/)
{
    Tsan::acquire(QAbstractEventDispatcher::instance());
    return false; // not consumed: deliver as usual
}
#endif

} // namespace

EpollEventDispatcher::EpollEventDispatcher(QObject *parent)
    : QAbstractEventDispatcher(parent)
    , m_epollFd(epoll_create1(EPOLL_CLOEXEC))
    , m_wakeFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = WakeUpTag;
    // Like QEventDispatcherUNIX without its thread pipe, a loop without these cannot work at all.
    if (m_epollFd < 0 || m_wakeFd < 0 || epollCtl(EPOLL_CTL_ADD, m_wakeFd, &event) != 0)
        qFatal("EpollEventDispatcher: cannot create epoll/eventfd descriptors: %s",
               strerror(errno));
#ifdef MTW_TSAN_ANNOTATIONS
    [[maybe_unused]] static const bool hooked =
        QInternal::registerCallback(QInternal::EventNotifyCallback,
                                    acquirePostedEventsBeforeDelivery);
#endif
}

EpollEventDispatcher::~EpollEventDispatcher()
{
    // QThreadPrivate::finish() deletes the dispatcher after the thread's last events (deferred
    // deletes included): what the thread did is ordered before QThread::wait() returns, through
    // Qt's own QThread mutex. ServerPrivate::stopWorkers() acquires this after wait().
    Tsan::release(thread());
    ::close(m_wakeFd);
    ::close(m_epollFd);
}

bool EpollEventDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    m_interrupted.store(false, std::memory_order_relaxed);
    // Qt takes the posted events off this thread's queue under a QMutex of its own that TSan
    // cannot see; the poster's wakeUp() released what it did before posting.
    Tsan::acquire(this);
    QCoreApplication::sendPostedEvents(nullptr, 0);
    if (m_interrupted.load(std::memory_order_acquire))
        return false;

    const int timeout = waitTimeoutMs(flags);
    const bool mayBlock = timeout != 0;
    if (mayBlock)
        Q_EMIT aboutToBlock();

    int processed = 0;
    if (!(flags & QEventLoop::ExcludeSocketNotifiers)) {
        syncEpoll();
        // On the stack: a handler may run a nested event loop, which re-enters here.
        epoll_event events[MaxEventsPerWait];
        const int count = epoll_wait(m_epollFd, events, MaxEventsPerWait, timeout);
        const int waitError = count < 0 ? errno : 0;
        if (mayBlock)
            Q_EMIT awake();
        if (waitError && waitError != EINTR)
            qCWarning(lcTransport, "epoll_wait: %s", strerror(waitError));
        for (int i = 0; i < count; ++i) {
            if (events[i].data.u64 == WakeUpTag)
                processed += consumeWakeUp() ? 1 : 0;
            else
                processed += dispatchSocketEvent(events[i].data.u64, events[i].events);
        }
    } else {
        // Sockets stay registered in the epoll set and would keep it ready: wait on the
        // wake-up descriptor alone (timers are still honoured through the timeout).
        pollfd wake{m_wakeFd, POLLIN, 0};
        const int count = ::poll(&wake, 1, timeout);
        if (mayBlock)
            Q_EMIT awake();
        if (count > 0)
            processed += consumeWakeUp() ? 1 : 0;
    }

    if (!(flags & QEventLoop::X11ExcludeTimers))
        processed += activateTimers();
    return processed > 0;
}

int EpollEventDispatcher::waitTimeoutMs(QEventLoop::ProcessEventsFlags flags) const
{
    if (!(flags & QEventLoop::WaitForMoreEvents))
        return 0;
    if (flags & QEventLoop::X11ExcludeTimers)
        return -1;
    // The earliest timer whose handler is not running: one that is running (a nested loop in
    // its handler) is not activated again, so it must not cut the wait short either.
    for (const auto &[due, id] : m_timerQueue) {
        if (m_timers.at(id).firing)
            continue;
        return int(std::min<qint64>(msUntil(due, Clock::now()), INT_MAX));
    }
    return -1;
}

bool EpollEventDispatcher::consumeWakeUp()
{
    // Read first, then clear the flag: a wakeUp() in between is then at worst coalesced into
    // this one (its posted event is sent at the start of the next processEvents), never lost.
    eventfd_t value = 0;
    const bool woken = eventfd_read(m_wakeFd, &value) == 0;
    m_wakeUpPending.store(false, std::memory_order_release);
    return woken;
}

void EpollEventDispatcher::wakeUp()
{
    // Any thread (QCoreApplication::postEvent calls this for every posted event).
    // Right after the event is appended, so this covers what the poster did before posting
    // (see processEvents()); a receiver already in sendPostedEvents() may still deliver it in
    // the instant before this, which cmake/tsan.supp allows for.
    Tsan::release(this);
    if (!m_wakeUpPending.exchange(true, std::memory_order_acq_rel))
        eventfd_write(m_wakeFd, 1);
}

void EpollEventDispatcher::interrupt()
{
    m_interrupted.store(true, std::memory_order_release);
    wakeUp();
}

// --- socket notifiers ---------------------------------------------------------------------

void EpollEventDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
    if (!calledFromOwnThread(this, "registerSocketNotifier"))
        return;
    const int fd = int(notifier->socket());
    const int type = int(notifier->type());
    FdEntry &entry = m_fds[fd];
    const bool wasEmpty = !entry.notifiers[0] && !entry.notifiers[1] && !entry.notifiers[2];
    if (entry.notifiers[type] && entry.notifiers[type] != notifier)
        qCWarning(lcTransport,
                  "QSocketNotifier: multiple socket notifiers for socket %d, type %d",
                  fd,
                  type);
    entry.notifiers[type] = notifier;
    // A fresh generation makes events already fetched for an earlier user of this descriptor
    // number (closed and reused during the same batch) stale.
    if (wasEmpty) {
        entry.generation = m_nextGeneration;
        if (++m_nextGeneration == 0)
            m_nextGeneration = 1;
    }
    markDirty(fd, entry);
}

void EpollEventDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
    if (!calledFromOwnThread(this, "unregisterSocketNotifier"))
        return;
    const int fd = int(notifier->socket());
    const auto it = m_fds.find(fd);
    if (it == m_fds.end())
        return;
    QSocketNotifier *&slot = it->second.notifiers[int(notifier->type())];
    if (slot != notifier)
        return;
    slot = nullptr; // from now on dispatchSocketEvent() cannot reach it, even in this batch
    FdEntry &entry = it->second;
    if (!entry.notifiers[0] && !entry.notifiers[1] && !entry.notifiers[2]) {
        // The last notifier goes: Qt closes the descriptor right after this, and another thread
        // may get the same number from accept() at once. Deregister it now, while it is still
        // ours, rather than in syncEpoll() on a number that may no longer be.
        if (entry.kernelEvents)
            epollCtl(EPOLL_CTL_DEL, fd, nullptr);
        m_fds.erase(it); // a stale m_dirtyFds entry is skipped by syncEpoll()
        return;
    }
    markDirty(fd, entry);
}

void EpollEventDispatcher::markDirty(int fd, FdEntry &entry)
{
    if (entry.dirty)
        return;
    entry.dirty = true;
    m_dirtyFds.push_back(fd);
}

// Applies the notifier changes since the last wait: one epoll_ctl per descriptor whose wanted
// events changed. QAbstractSocket enables the write notifier for every write and disables it
// once flushed; deferring the update to here folds such pairs into nothing.
void EpollEventDispatcher::syncEpoll()
{
    for (const int fd : m_dirtyFds) {
        const auto it = m_fds.find(fd);
        if (it == m_fds.end())
            continue;
        FdEntry &entry = it->second;
        entry.dirty = false;
        std::uint32_t wanted = 0;
        for (int type = 0; type < 3; ++type) {
            if (entry.notifiers[type])
                wanted |= RequestedEvents[type];
        }
        if (wanted == 0) {
            // Fails harmlessly if the descriptor is already closed (the kernel dropped it).
            if (entry.kernelEvents)
                epollCtl(EPOLL_CTL_DEL, fd, nullptr);
            m_fds.erase(it);
            continue;
        }
        if (wanted == entry.kernelEvents && entry.generation == entry.kernelGeneration)
            continue;
        epoll_event event{};
        event.events = wanted;
        event.data.u64 = socketTag(fd, entry.generation);
        int result = epollCtl(entry.kernelEvents ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
        // The descriptor was closed and its number reused behind our back, or vice versa.
        if (result != 0 && errno == ENOENT)
            result = epollCtl(EPOLL_CTL_ADD, fd, &event);
        else if (result != 0 && errno == EEXIST)
            result = epollCtl(EPOLL_CTL_MOD, fd, &event);
        if (result != 0) {
            // EPERM: a regular file, which epoll cannot watch (poll would call it always ready).
            qCWarning(lcTransport,
                      "epoll_ctl(%d): %s; its socket notifiers will not fire",
                      fd,
                      strerror(errno));
            entry.kernelEvents = 0;
            continue;
        }
        entry.kernelEvents = wanted;
        entry.kernelGeneration = entry.generation;
    }
    m_dirtyFds.clear();
}

int EpollEventDispatcher::epollCtl(int op, int fd, epoll_event *event)
{
    s_kernelUpdates.fetch_add(1, std::memory_order_relaxed);
    return epoll_ctl(m_epollFd, op, fd, event);
}

int EpollEventDispatcher::dispatchSocketEvent(std::uint64_t tag, std::uint32_t events)
{
    const int fd = int(std::uint32_t(tag));
    const auto generation = std::uint32_t(tag >> 32);
    int activated = 0;
    for (int type = 0; type < 3; ++type) {
        if (!(events & ActivatingEvents[type]))
            continue;
        // Looked up again for every notifier: the previous handler may have disabled or deleted
        // any notifier, closed the descriptor or run a nested loop that erased the entry.
        const auto it = m_fds.find(fd);
        if (it == m_fds.end() || it->second.generation != generation)
            return activated;
        QSocketNotifier *notifier = it->second.notifiers[type];
        if (!notifier)
            continue;
        QEvent event(QEvent::SockAct);
        QCoreApplication::sendEvent(notifier, &event);
        ++activated;
    }
    return activated;
}

} // namespace Mtw::Internal
