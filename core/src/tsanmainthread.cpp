// SPDX-License-Identifier: MIT
// Built into libmtwcore only with MTW_TSAN (the tsan preset); see cmake/tsan.supp.
#include "transport/epolldispatcher.h"

#include <QCoreApplication>

#include <dlfcn.h>

namespace {

// Debian's libQt6Core is not built with ThreadSanitizer, so TSan cannot see the QMutex that
// orders a posted event (a queued call) between the posting thread and the receiving one, and
// every queued call looks like a race. EpollEventDispatcher tells TSan about that hand-over (a
// release in wakeUp(), an acquire before sendPostedEvents()); the I/O workers use it anyway,
// and running the main thread on it as well makes calls from the workers to the server thread
// visible too. A program that loads Qt GUI keeps Qt's dispatcher (a QGuiApplication needs its
// own), and so does MTW_EVENT_DISPATCHER=qt.
void useEpollDispatcherOnMainThread()
{
    if (qEnvironmentVariable("MTW_EVENT_DISPATCHER") == QLatin1String("qt"))
        return;
    if (void *gui = dlopen("libQt6Gui.so.6", RTLD_NOW | RTLD_NOLOAD)) {
        dlclose(gui);
        return;
    }
    if (QCoreApplication::instance())
        return;
    QCoreApplication::setEventDispatcher(new Mtw::Internal::EpollEventDispatcher);
}

} // namespace

Q_CONSTRUCTOR_FUNCTION(useEpollDispatcherOnMainThread)
