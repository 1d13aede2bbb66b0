// SPDX-License-Identifier: MIT
// mtwadmin: the desktop admin of mtwserver. Runs a server in-process or attaches to one over
// its admin API. No logic lives here beyond the application object and the command line.
#include "logcapture.h"
#include "mainwindow.h"

#include <mtw/buildinfo.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>

#include <cstdio>

using namespace Qt::StringLiterals;

namespace {

// --help and --version are answered before QApplication exists: they must work without a
// display (QApplication aborts there with nothing but Qt's platform-plugin message).
// Returns -1 to go on and start the window.
int handleCommandLine(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"mtwadmin"_s);
    QCoreApplication::setApplicationVersion(Mtw::versionString());
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"The desktop admin of mtwserver: run a server here (File > Run Server Here) or attach "
        "to a running one over its admin API (File > Connect to Server). Needs a display; Qt's "
        "own options (-platform, -style, ...) are accepted too."_s);
    const QCommandLineOption help = parser.addHelpOption();
    const QCommandLineOption version = parser.addVersionOption();
    // Qt's GUI options (-platform offscreen, -reverse, ...) belong to QApplication: read as
    // long options they are unknown here and ignored, and "-reverse" is not "-r -e -v ...".
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    parser.parse(QCoreApplication::arguments());
    if (parser.isSet(help))
        parser.showHelp(0); // exits
    if (parser.isSet(version)) {
        std::printf("mtwadmin %s\n%s\n",
                    qPrintable(Mtw::versionString()),
                    qPrintable(Mtw::buildInfo()));
        return 0;
    }
    return -1;
}

} // namespace

int main(int argc, char *argv[])
{
    if (const int exitCode = handleCommandLine(argc, argv); exitCode >= 0)
        return exitCode;

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
