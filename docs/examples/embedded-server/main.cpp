// SPDX-License-Identifier: MIT
// A program that embeds mtwserver and compiles its own module in (docs/plugins.md).
//   mtw-embedded-example [config.toml]
// Plugins listed in the config's [[modules]] are loaded as usual, after the built-in module.
#include "greetermodule.h"

#include <mtw/server.h>

#include <QCoreApplication>
#include <QLoggingCategory>

#include <cstdlib>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    // Without glib the event loop fans out to many sockets much faster (see docs/plugins.md);
    // it must be set before the application object exists.
    qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);

    Mtw::ServerBuilder builder;
    if (app.arguments().size() > 1)
        builder.configFile(app.arguments().at(1)); // errors are reported by build()
    builder.host(u"127.0.0.1"_s)
        .port(3000)
        .module(std::make_shared<GreeterModule>(u"Welcome"_s), GreeterModule::metadata());

    auto server = builder.build();
    if (!server) {
        qCritical().noquote() << "cannot build the server:" << server.error().message;
        return EXIT_FAILURE;
    }
    // Starts the modules (the greeter first), listens on 127.0.0.1:3000 and serves until SIGINT
    // or SIGTERM, then shuts down gracefully. Returns 1 when start() failed.
    return (*server)->run();
}
