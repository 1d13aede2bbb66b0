// SPDX-License-Identifier: MIT
// Helpers shared by the two halves of EpollEventDispatcher (sockets and wake-ups; timers).
#pragma once

#include "transport/logging.h"

#include <QObject>
#include <QThread>

#include <chrono>

namespace Mtw::Internal::EpollDetail {

// Milliseconds until `due`, rounded up so that a wait never ends before a timer is due.
inline qint64 msUntil(std::chrono::steady_clock::time_point due,
                      std::chrono::steady_clock::time_point now)
{
    if (due <= now)
        return 0;
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               due - now + std::chrono::milliseconds(1) - std::chrono::nanoseconds(1))
        .count();
}

inline bool calledFromOwnThread(const QObject *dispatcher, const char *function)
{
    if (Q_LIKELY(dispatcher->thread() == QThread::currentThread()))
        return true;
    qCWarning(lcTransport,
              "EpollEventDispatcher::%s: called from another thread; ignored",
              function);
    return false;
}

} // namespace Mtw::Internal::EpollDetail
