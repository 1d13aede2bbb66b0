// SPDX-License-Identifier: MIT
// mtwadmin: the desktop admin of mtwserver. Runs a server in-process or attaches to one over
// its admin API. No logic lives here beyond the application object.
#include "logcapture.h"
#include "mainwindow.h"

#include <mtw/buildinfo.h>

#include <QApplication>
#include <QIcon>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    Mtw::installLogCapture();
    QApplication::setOrganizationName(u"mtw"_s);
    QApplication::setApplicationName(u"mtwadmin"_s);
    QApplication::setApplicationDisplayName(u"mtwadmin"_s);
    QApplication::setApplicationVersion(Mtw::versionString());
    QApplication::setDesktopFileName(u"mtwadmin"_s);
    QApplication::setWindowIcon(QIcon(u":/icons/mtwadmin.svg"_s));

    Mtw::MainWindow window;
    window.show();
    return app.exec();
}
