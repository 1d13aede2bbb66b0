// SPDX-License-Identifier: MIT
#include "logcapture.h"

#include <mtw/logbus.h>

#include <QCoreApplication>
#include <QThread>
#include <QtGlobal>

#include <cstring>

namespace Mtw {

namespace {

QtMessageHandler g_previous = nullptr;

void capture(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    // The in-process server runs in its own threads; what the GUI thread logs (mtwadmin, Qt's
    // widgets and platform plugin) is not the server's log.
    const QCoreApplication *app = QCoreApplication::instance();
    const bool guiThread = app && QThread::currentThread() == app->thread();
    if (!guiThread && (!context.category || std::strncmp(context.category, "mtwadmin", 8) != 0))
        LogBus::post(type, context.category, message);
    if (g_previous)
        g_previous(type, context, message);
}

} // namespace

void installLogCapture()
{
    static bool installed = false;
    if (installed)
        return;
    installed = true;
    g_previous = qInstallMessageHandler(capture);
}

} // namespace Mtw
