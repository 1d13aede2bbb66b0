// SPDX-License-Identifier: MIT
#include "server/signalbridge.h"

#include <QSocketNotifier>
#include <QtGlobal>

#ifdef Q_OS_UNIX
#  include <sys/socket.h>
#  include <unistd.h>

#  include <csignal>
#endif

namespace Mtw::Internal {

#ifdef Q_OS_UNIX
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
#endif

SignalBridge::SignalBridge(QObject *parent)
    : QObject(parent)
{ }

SignalBridge::~SignalBridge()
{
#ifdef Q_OS_UNIX
    if (m_notifier) {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        std::signal(SIGHUP, SIG_DFL);
        ::close(g_signalPipe[0]);
        ::close(g_signalPipe[1]);
        g_signalPipe[0] = g_signalPipe[1] = -1;
    }
#endif
}

bool SignalBridge::install()
{
#ifdef Q_OS_UNIX
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_signalPipe) != 0) {
        qWarning("cannot create the signal pipe: SIGINT/SIGTERM will end the process abruptly, "
                 "SIGHUP does not reload");
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
    return true;
#else
    return false;
#endif
}

void SignalBridge::readSignal()
{
#ifdef Q_OS_UNIX
    char byte = 0;
    if (::read(g_signalPipe[1], &byte, 1) != 1)
        return;
    if (int(byte) == SIGHUP)
        Q_EMIT reloadRequested();
    else
        Q_EMIT terminationRequested(int(byte));
#endif
}

} // namespace Mtw::Internal
