// SPDX-License-Identifier: MIT
#include "systemdnotify.h"

#include <QTimer>

#ifdef MTW_HAVE_SYSTEMD
#  include <systemd/sd-daemon.h>
#endif

#include <cstdint>
#include <cstring>
#include <ctime>

namespace Mtw {

SystemdNotifier::SystemdNotifier(QObject *parent)
    : QObject(parent)
{ }

bool SystemdNotifier::isSupported()
{
#ifdef MTW_HAVE_SYSTEMD
    return true;
#else
    return false;
#endif
}

void SystemdNotifier::ready(const QString &status)
{
    notify("READY=1\nSTATUS=" + status.toUtf8());
}

void SystemdNotifier::reloading()
{
#ifdef MTW_HAVE_SYSTEMD
    timespec now = {};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const quint64 usec = quint64(now.tv_sec) * 1000000 + quint64(now.tv_nsec) / 1000;
    notify("RELOADING=1\nMONOTONIC_USEC=" + QByteArray::number(usec)
           + "\nSTATUS=reloading the configuration");
#endif
}

void SystemdNotifier::stopping()
{
    if (m_watchdog)
        m_watchdog->stop(); // a shutdown is bounded by server.shutdown_timeout, not the watchdog
    notify("STOPPING=1\nSTATUS=shutting down");
}

int SystemdNotifier::startWatchdog()
{
#ifdef MTW_HAVE_SYSTEMD
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    // Half the timeout, as sd_watchdog_enabled(3) recommends, so that one late ping is not fatal.
    const int intervalMs = int(qBound<std::uint64_t>(1, usec / 2000, 24ULL * 3600 * 1000));
    if (!m_watchdog) {
        m_watchdog = new QTimer(this);
        connect(m_watchdog, &QTimer::timeout, this, [this] { notify("WATCHDOG=1"); });
    }
    m_watchdog->start(intervalMs);
    notify("WATCHDOG=1");
    return intervalMs;
#else
    return 0;
#endif
}

void SystemdNotifier::notify(const QByteArray &state)
{
#ifdef MTW_HAVE_SYSTEMD
    // 0: no NOTIFY_SOCKET (not started by systemd). Negative: the socket is there but the
    // message did not go; said once, since the manager will act on the missing state.
    const int sent = sd_notify(0, state.constData());
    if (sent < 0 && !m_failureReported) {
        m_failureReported = true;
        qWarning("sd_notify failed (%s): systemd may not see this server's state",
                 std::strerror(-sent));
    }
#else
    Q_UNUSED(state);
#endif
}

} // namespace Mtw
