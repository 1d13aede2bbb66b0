// SPDX-License-Identifier: MIT
#pragma once

#include <QObject>

class QTimer;

namespace Mtw {

// Tells the service manager what mtwserver is doing, for a systemd unit with Type=notify:
// READY=1 once the server listens, STOPPING=1 when a graceful shutdown starts, and WATCHDOG=1
// at half of WatchdogSec= while the main thread's event loop runs. Through libsystemd's
// sd_notify(), so every call is a no-op when the process was not started with NOTIFY_SOCKET
// (no systemd), and always one in a build without libsystemd (MTW_SYSTEMD=OFF).
// Lives in the main thread.
class SystemdNotifier : public QObject
{
    Q_OBJECT

public:
    explicit SystemdNotifier(QObject *parent = nullptr);

    // Whether this build talks to systemd at all (MTW_SYSTEMD).
    static bool isSupported();

    void ready(const QString &status);
    // Around a configuration reload (SIGHUP, ExecReload=): RELOADING=1 with the monotonic time
    // systemd asks for, then READY=1 again whether the reload applied or was refused (the
    // server goes on serving either way; the status says which).
    void reloading();
    void stopping();
    // Starts the WATCHDOG=1 pings when the service manager asked for them (WATCHDOG_USEC);
    // returns the ping interval in milliseconds, or 0 when there is no watchdog.
    int startWatchdog();

private:
    void notify(const QByteArray &state);

    QTimer *m_watchdog = nullptr;
    bool m_failureReported = false;
};

} // namespace Mtw
