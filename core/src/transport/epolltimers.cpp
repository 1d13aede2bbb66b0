// SPDX-License-Identifier: MIT
// EpollEventDispatcher, second half: Qt's timers, kept in a map by due time.
#include "transport/epolldispatcher.h"
#include "transport/epolldispatcher_p.h"

#include <QCoreApplication>

#include <climits>

namespace Mtw::Internal {

using namespace EpollDetail;
using namespace std::chrono;

void EpollEventDispatcher::registerTimer(int timerId,
                                         qint64 interval,
                                         Qt::TimerType timerType,
                                         QObject *object)
{
    if (timerId < 1 || interval < 0 || !object) {
        qCWarning(lcTransport, "EpollEventDispatcher::registerTimer: invalid arguments");
        return;
    }
    if (!calledFromOwnThread(this, "registerTimer"))
        return;
    unregisterTimer(timerId); // ids are unique; be safe against a stale one
    Timer timer;
    timer.object = object;
    timer.type = timerType;
    // Coarse timers are as precise as precise ones; very coarse ones round to whole seconds.
    timer.interval = timerType == Qt::VeryCoarseTimer ? (interval + 500) / 1000 * 1000 : interval;
    timer.due = Clock::now() + milliseconds(timer.interval);
    timer.serial = m_nextSerial++;
    m_timerQueue.emplace(timer.due, timerId);
    m_timers.emplace(timerId, timer);
}

bool EpollEventDispatcher::unregisterTimer(int timerId)
{
    if (!calledFromOwnThread(this, "unregisterTimer"))
        return false;
    const auto it = m_timers.find(timerId);
    if (it == m_timers.end())
        return false;
    m_timerQueue.erase({it->second.due, timerId});
    m_timers.erase(it);
    return true;
}

bool EpollEventDispatcher::unregisterTimers(QObject *object)
{
    if (!calledFromOwnThread(this, "unregisterTimers"))
        return false;
    // O(timers), like Qt; QObject only calls this when the object still has running timers.
    bool found = false;
    for (auto it = m_timers.begin(); it != m_timers.end();) {
        if (it->second.object != object) {
            ++it;
            continue;
        }
        m_timerQueue.erase({it->second.due, it->first});
        it = m_timers.erase(it);
        found = true;
    }
    return found;
}

QList<QAbstractEventDispatcher::TimerInfo>
EpollEventDispatcher::registeredTimers(QObject *object) const
{
    QList<TimerInfo> list;
    for (const auto &[id, timer] : m_timers) {
        if (timer.object == object)
            list.append(TimerInfo(id, int(timer.interval), timer.type));
    }
    return list;
}

int EpollEventDispatcher::remainingTime(int timerId)
{
    const auto it = m_timers.find(timerId);
    if (it == m_timers.end())
        return -1;
    return int(std::min<qint64>(msUntil(it->second.due, Clock::now()), INT_MAX));
}

// Fires every timer that is due now, once. The due set is taken first: a handler may stop,
// start or delete any timer (ids are reused), so each one is looked up again by id and
// registration serial before it fires.
int EpollEventDispatcher::activateTimers()
{
    const Clock::time_point now = Clock::now();
    if (m_timerQueue.empty() || m_timerQueue.begin()->first > now)
        return 0;
    std::vector<std::pair<int, std::uint64_t>> due;
    for (const auto &[when, id] : m_timerQueue) {
        if (when > now)
            break;
        due.emplace_back(id, m_timers.at(id).serial);
    }

    int fired = 0;
    for (const auto &[id, serial] : due) {
        auto it = m_timers.find(id);
        if (it == m_timers.end() || it->second.serial != serial || it->second.firing)
            continue;
        Timer &timer = it->second;
        // Reschedule before delivery, as Qt does: the handler sees the next remainingTime().
        m_timerQueue.erase({timer.due, id});
        timer.due += milliseconds(timer.interval);
        if (timer.due < now) // fell behind: skip the missed intervals
            timer.due = now + milliseconds(timer.interval);
        m_timerQueue.emplace(timer.due, id);
        timer.firing = true;

        QTimerEvent event(id);
        QCoreApplication::sendEvent(timer.object, &event);
        ++fired;

        it = m_timers.find(id);
        if (it != m_timers.end() && it->second.serial == serial)
            it->second.firing = false;
    }
    return fired;
}

} // namespace Mtw::Internal
