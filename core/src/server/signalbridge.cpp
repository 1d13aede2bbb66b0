// SPDX-License-Identifier: MIT
#include "server/signalbridge.h"

#include <QSocketNotifier>
#include <QTimer>
#include <QtGlobal>

#include <csignal>
#include <cstdlib>

// MTW_UNIX_SIGNALS (CMake, Unix unless MTW_PORTABLE): a self-pipe wakes the event loop at once.
// Otherwise the portable fallback: a standard C handler sets a flag that a timer in the main
// thread polls, which is what the C runtime offers everywhere (Ctrl+C arrives as SIGINT on
// Windows too).
#ifdef MTW_UNIX_SIGNALS
#  include <sys/socket.h>
#  include <unistd.h>
#endif
#ifdef Q_OS_UNIX
#  include <pthread.h>
#endif

namespace Mtw::Internal {

#ifdef MTW_UNIX_SIGNALS
namespace {

int g_signalPipe[2] = {-1, -1};
volatile sig_atomic_t g_signalCount = 0;

extern "C" void onTerminationSignal(int signalNumber)
{
    g_signalCount = g_signalCount + 1;
    if (g_signalCount > 1)
        _exit(128 + signalNumber);
    const char byte = char(signalNumber);
    [[maybe_unused]] const ssize_t written = ::write(g_signalPipe[0], &byte, 1);
}

// SIGHUP asks for a configuration reload: never counted towards a forced exit.
extern "C" void onReloadSignal(int signalNumber)
{
    const char byte = char(signalNumber);
    [[maybe_unused]] const ssize_t written = ::write(g_signalPipe[0], &byte, 1);
}

} // namespace
#else
namespace {

volatile std::sig_atomic_t g_pendingSignal = 0;
volatile std::sig_atomic_t g_pendingReload = 0;
volatile std::sig_atomic_t g_signalCount = 0;

extern "C" void onTerminationSignal(int signalNumber)
{
    g_signalCount = g_signalCount + 1;
    if (g_signalCount > 1)
        std::_Exit(128 + signalNumber);
    g_pendingSignal = signalNumber;
    // Some C runtimes (Microsoft's) reset the handler before calling it.
    std::signal(signalNumber, onTerminationSignal);
}

#  ifdef SIGHUP // not on Windows
// SIGHUP asks for a configuration reload: never counted towards a forced exit.
extern "C" void onReloadSignal(int signalNumber)
{
    g_pendingReload = 1;
    std::signal(signalNumber, onReloadSignal);
}
#  endif

// How long a signal may wait for the main thread to notice it.
constexpr int PollIntervalMs = 100;

} // namespace
#endif

#ifdef Q_OS_UNIX
namespace {

void maskSignals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(how, &set, nullptr);
}

} // namespace
#endif

void SignalBridge::hold()
{
#ifdef Q_OS_UNIX
    maskSignals(SIG_BLOCK);
#endif
}

SignalBridge::SignalBridge(QObject *parent)
    : QObject(parent)
{ }

SignalBridge::~SignalBridge()
{
#ifdef MTW_UNIX_SIGNALS
    if (m_notifier) {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        std::signal(SIGHUP, SIG_DFL);
        ::close(g_signalPipe[0]);
        ::close(g_signalPipe[1]);
        g_signalPipe[0] = g_signalPipe[1] = -1;
    }
#else
    if (m_poll) {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
#  ifdef SIGHUP
        std::signal(SIGHUP, SIG_DFL);
#  endif
        g_pendingSignal = 0;
        g_pendingReload = 0;
        g_signalCount = 0;
    }
#endif
}

bool SignalBridge::install()
{
#ifdef MTW_UNIX_SIGNALS
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_signalPipe) != 0) {
        qWarning("cannot create the signal pipe: SIGINT/SIGTERM will end the process abruptly, "
                 "SIGHUP does not reload");
        maskSignals(SIG_UNBLOCK);
        return false;
    }
    m_notifier = new QSocketNotifier(g_signalPipe[1], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SignalBridge::readSignal);

    struct sigaction action = {};
    action.sa_handler = onTerminationSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    struct sigaction reload = action;
    reload.sa_handler = onReloadSignal;
    sigaction(SIGHUP, &reload, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    maskSignals(SIG_UNBLOCK); // held since Server::holdSignals(): a pending one is handled now
    return true;
#else
    g_pendingSignal = 0;
    g_pendingReload = 0;
    g_signalCount = 0;
    if (std::signal(SIGINT, onTerminationSignal) == SIG_ERR
        || std::signal(SIGTERM, onTerminationSignal) == SIG_ERR) {
        qWarning(
            "cannot install the signal handlers: SIGINT/SIGTERM will end the process abruptly");
#  ifdef Q_OS_UNIX
        maskSignals(SIG_UNBLOCK);
#  endif
        return false;
    }
#  ifdef SIGPIPE
    std::signal(SIGPIPE, SIG_IGN);
#  endif
#  ifdef SIGHUP
    std::signal(SIGHUP, onReloadSignal);
#  endif
    m_poll = new QTimer(this);
    connect(m_poll, &QTimer::timeout, this, &SignalBridge::readSignal);
    m_poll->start(PollIntervalMs);
#  ifdef Q_OS_UNIX
    maskSignals(SIG_UNBLOCK); // held since Server::holdSignals(): a pending one is handled now
#  endif
    return true;
#endif
}

void SignalBridge::readSignal()
{
#ifdef MTW_UNIX_SIGNALS
    char byte = 0;
    if (::read(g_signalPipe[1], &byte, 1) != 1)
        return;
    if (int(byte) == SIGHUP)
        Q_EMIT reloadRequested();
    else
        Q_EMIT terminationRequested(int(byte));
#else
    if (g_pendingReload) {
        g_pendingReload = 0;
        Q_EMIT reloadRequested();
    }
    if (const int signalNumber = g_pendingSignal; signalNumber != 0) {
        g_pendingSignal = 0;
        Q_EMIT terminationRequested(signalNumber);
    }
#endif
}

} // namespace Mtw::Internal
