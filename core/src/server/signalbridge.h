// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QObject>

class QSocketNotifier;
class QTimer;

namespace Mtw::Internal {

// Turns SIGINT and SIGTERM (and SIGHUP: reloadRequested) into a Qt signal through a self-pipe
// and a QSocketNotifier, so the handler itself does nothing but write one byte
// (MTW_UNIX_SIGNALS), or, in a portable build, through a flag the handler sets and a timer polls.
// A second SIGINT/SIGTERM exits at once (128 + signo): the operator's way out of a shutdown that
// is taking too long. Lives in the main thread.
class SignalBridge : public QObject
{
    Q_OBJECT

public:
    explicit SignalBridge(QObject *parent = nullptr);
    ~SignalBridge() override;

    // Unix: blocks the three signals in the calling thread (Server::holdSignals()); install()
    // unblocks them once its handlers are in place, so one that came meanwhile is handled then.
    static void hold();
    bool install(); // false (with a warning) when the pipe or handlers cannot be set up

Q_SIGNALS:
    void terminationRequested(int signalNumber);
    void reloadRequested(); // SIGHUP

private:
    void readSignal();

    QSocketNotifier *m_notifier = nullptr; // MTW_UNIX_SIGNALS
    QTimer *m_poll = nullptr;              // the portable fallback
};

} // namespace Mtw::Internal
