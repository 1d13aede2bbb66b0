// SPDX-License-Identifier: MIT
// mtwserver: the headless front end. Reads the configuration, starts an Mtw::Server and turns
// SIGINT/SIGTERM into a graceful shutdown. No business logic lives here.
#include "admintoken.h"
#include "logoutput.h"
#include "systemdnotify.h"

#include <mtw/buildinfo.h>
#include <mtw/config.h>
#include <mtw/configschema.h>
#include <mtw/server.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>

#include <cstdio>

using namespace Qt::StringLiterals;

namespace {

// Exit codes follow sysexits.h so that service managers and scripts can tell causes apart.
enum ExitCode {
    ExitOk = 0,
    ExitUsage = 64,       // a bad command-line value
    ExitNoInput = 66,     // the config file cannot be read
    ExitBadHost = 68,     // server.host cannot be resolved or is not on this machine
    ExitUnavailable = 69, // the address is already in use
    ExitSoftware = 70,    // anything else that stopped the start
    ExitPermission = 77,  // binding needs privileges
    ExitConfig = 78,      // the configuration is invalid
};

void printLine(FILE *stream, const QString &text)
{
    const QByteArray bytes = text.toUtf8() + '\n';
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stream);
}

struct Options
{
    QCommandLineOption config{u"config"_s, u"Read the configuration from <file>."_s, u"file"_s};
    QCommandLineOption host{u"host"_s,
                            u"Bind address (overrides server.host and MTW_HOST)."_s,
                            u"address"_s};
    QCommandLineOption port{u"port"_s,
                            u"Listen port, 0 for any free port (overrides MTW_PORT)."_s,
                            u"port"_s};
    QCommandLineOption maxConnections{u"max-connections"_s,
                                      u"Connection limit (overrides MTW_MAX_CONNECTIONS)."_s,
                                      u"count"_s};
    QCommandLineOption pluginsDir{
        u"plugins-dir"_s,
        u"Search <dir> for plugins first (overrides server.plugins_dir)."_s,
        u"dir"_s};
    QCommandLineOption logLevel{u"log-level"_s, u"debug, info, warning or error."_s, u"level"_s};
    QCommandLineOption checkConfig{u"check-config"_s,
                                   u"Validate the configuration, print problems, exit 0 or 78."_s};
    QCommandLineOption printConfig{
        u"print-config"_s,
        u"Print the effective configuration as TOML (secrets masked)."_s};
    QCommandLineOption printSchema{
        u"print-schema"_s,
        u"Print the reference table of every configuration key (Markdown), then exit."_s};
    QCommandLineOption adminToken{
        u"admin-token"_s,
        u"Print the admin token that the server running with this configuration (and --port) "
        "generated, then exit."_s};
    QCommandLineOption version{{u"v"_s, u"version"_s},
                               u"Print version, git commit, build date and Qt version."_s};
};

// An integer option within [min, max], or an error line naming the option and the value.
std::optional<int>
intOption(const QCommandLineParser &parser, const QCommandLineOption &option, int min, int max)
{
    bool ok = false;
    const QString value = parser.value(option);
    const int number = value.toInt(&ok);
    if (!ok || number < min || number > max) {
        printLine(stderr,
                  u"mtwserver: --%1: expected an integer %2-%3, got \"%4\""_s
                      .arg(option.names().constLast())
                      .arg(min)
                      .arg(max)
                      .arg(value));
        return std::nullopt;
    }
    return number;
}

// Config file, then MTW_* environment, then command-line flags. Returns an exit code on failure.
std::variant<Mtw::Config, int> resolveConfig(const QCommandLineParser &parser, const Options &o)
{
    Mtw::Config config;
    const QString path = Mtw::findConfigFile(parser.value(o.config), QDir::currentPath());
    if (!path.isEmpty()) {
        const auto loaded = Mtw::loadConfigFile(path);
        if (!loaded) {
            printLine(stderr, u"mtwserver: "_s + loaded.error().message);
            return int(ExitNoInput);
        }
        for (const Mtw::ConfigDiagnostic &diagnostic : loaded->diagnostics)
            printLine(stderr, diagnostic.toString());
        if (loaded->hasErrors()) {
            printLine(stderr,
                      u"mtwserver: %1 has %2 error(s)"_s.arg(path).arg(loaded->errors().size()));
            return int(ExitConfig);
        }
        config = loaded->config;
    }
    if (const auto applied =
            Mtw::applyEnvironmentOverrides(config, QProcessEnvironment::systemEnvironment());
        !applied) {
        printLine(stderr, u"mtwserver: "_s + applied.error().message);
        return int(ExitConfig);
    }
    if (parser.isSet(o.host))
        config.server.host = parser.value(o.host);
    if (parser.isSet(o.port)) {
        const auto port = intOption(parser, o.port, 0, 65535);
        if (!port)
            return int(ExitUsage);
        config.server.port = *port;
    }
    if (parser.isSet(o.maxConnections)) {
        const auto max = intOption(parser, o.maxConnections, 1, 10'000'000);
        if (!max)
            return int(ExitUsage);
        config.server.maxConnections = *max;
    }
    if (parser.isSet(o.pluginsDir))
        config.server.pluginsDir = parser.value(o.pluginsDir);
    if (parser.isSet(o.logLevel)) {
        const QString level = parser.value(o.logLevel);
        static const QStringList levels{u"debug"_s, u"info"_s, u"warning"_s, u"error"_s};
        if (!levels.contains(level)) {
            printLine(
                stderr,
                u"mtwserver: --log-level: expected one of debug, info, warning, error, got \"%1\""_s
                    .arg(level));
            return int(ExitUsage);
        }
        config.logging.level = level;
    }
    return config;
}

// What a reload (SIGHUP, server.watch_config, the admin API's save) reads: the same file, the
// MTW_* environment and the command-line flags as at the start, so a flag such as --port does
// not look like a change of the file.
Mtw::Server::ConfigLoader
reloadLoader(const Mtw::Config &started, const QCommandLineParser &parser, const Options &o)
{
    const bool host = parser.isSet(o.host);
    const bool port = parser.isSet(o.port);
    const bool maxConnections = parser.isSet(o.maxConnections);
    const bool pluginsDir = parser.isSet(o.pluginsDir);
    const bool logLevel = parser.isSet(o.logLevel);
    return [=]() -> Mtw::Result<Mtw::ConfigLoadResult> {
        if (started.sourcePath.isEmpty())
            return Mtw::fail(409,
                             u"there is no configuration file to reload: mtwserver runs on "
                             u"built-in defaults"_s);
        auto loaded = Mtw::loadConfigFile(started.sourcePath);
        if (!loaded || loaded->hasErrors())
            return loaded;
        Mtw::Config &config = loaded->config;
        if (const auto applied =
                Mtw::applyEnvironmentOverrides(config, QProcessEnvironment::systemEnvironment());
            !applied)
            return tl::unexpected(applied.error());
        if (host)
            config.server.host = started.server.host;
        if (port)
            config.server.port = started.server.port;
        if (maxConnections)
            config.server.maxConnections = started.server.maxConnections;
        if (pluginsDir)
            config.server.pluginsDir = started.server.pluginsDir;
        if (logLevel)
            config.logging.level = started.logging.level;
        return loaded;
    };
}

int startExitCode(const Mtw::Error &error)
{
    switch (error.code) {
    case 400:
        return ExitBadHost;
    case 403:
        return ExitPermission;
    case 409:
        return ExitUnavailable;
    case 422: // [server.tls] names files that do not check out
        return ExitConfig;
    default:
        return ExitSoftware;
    }
}

// --admin-token: the generated token of the server that runs with this config and port.
int printAdminToken(const Mtw::Config &config)
{
    if (!config.admin.token.isEmpty()) {
        printLine(stderr,
                  u"mtwserver: admin.token is configured (%1): the admin API uses that value"_s.arg(
                      config.sourcePath.isEmpty() ? u"MTW_* environment"_s : config.sourcePath));
        return ExitUsage;
    }
    const QString path = Mtw::adminTokenPath(config, quint16(config.server.port));
    const auto token = Mtw::readAdminTokenFile(path);
    if (!token) {
        printLine(stderr,
                  u"mtwserver: %1 (is mtwserver running on port %2? pass the same --config and "
                  "--port)"_s.arg(token.error().message)
                      .arg(config.server.port));
        return ExitNoInput;
    }
    printLine(stdout, *token);
    return ExitOk;
}

} // namespace

int main(int argc, char *argv[])
{
    // The glib dispatcher spends most of a broadcast in its socket-notifier bookkeeping
    // (QT_FACTS.md); the plain Unix dispatcher is 4x faster. Must be set before the app object.
    qputenv("QT_NO_GLIB", "1");

    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"mtwserver"_s);
    QCoreApplication::setApplicationVersion(Mtw::versionString());

    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"mtwserver: real-time messaging over WebSocket (pub/sub, history, presence, RPC)."_s);
    parser.addHelpOption();
    const Options o;
    parser.addOptions({o.config,
                       o.host,
                       o.port,
                       o.maxConnections,
                       o.pluginsDir,
                       o.logLevel,
                       o.checkConfig,
                       o.printConfig,
                       o.printSchema,
                       o.adminToken,
                       o.version});
    parser.process(app);

    if (parser.isSet(o.version)) {
        printLine(stdout, Mtw::buildInfo());
        return ExitOk;
    }
    if (parser.isSet(o.printSchema)) { // needs no configuration: it describes every one
        std::fputs(Mtw::ConfigSchema::markdown().toUtf8().constData(), stdout);
        return ExitOk;
    }

    auto resolved = resolveConfig(parser, o);
    if (const int *code = std::get_if<int>(&resolved))
        return *code;
    const Mtw::Config config = std::get<Mtw::Config>(std::move(resolved));

    if (parser.isSet(o.checkConfig)) {
        printLine(stdout,
                  u"configuration OK (%1)"_s.arg(
                      config.sourcePath.isEmpty() ? u"built-in defaults"_s : config.sourcePath));
        return ExitOk;
    }
    if (parser.isSet(o.printConfig)) {
        std::fputs(config.toToml(true).toUtf8().constData(), stdout);
        return ExitOk;
    }
    if (parser.isSet(o.adminToken))
        return printAdminToken(config);

    Mtw::installLogOutput(config.logging);
    // From here on a SIGINT/SIGTERM/SIGHUP (systemd's stop right after READY=1, a script's kill
    // while modules start) waits for exec()'s handlers: it is then a graceful shutdown or a
    // reload, never the default action that ends the process halfway.
    Mtw::Server::holdSignals();
    qInfo().noquote() << Mtw::buildInfo();
    qInfo().noquote() << "configuration:"
                      << (config.sourcePath.isEmpty() ? u"built-in defaults"_s : config.sourcePath);

    Mtw::Server server(config);
    server.setConfigLoader(reloadLoader(config, parser, o));
    if (const auto started = server.start(); !started) {
        printLine(stderr, u"mtwserver: "_s + started.error().message);
        return startExitCode(started.error());
    }

    // A generated admin token goes where only this user can read it, never into the log.
    QString tokenPath;
    if (server.isAdminTokenGenerated()) {
        tokenPath = Mtw::adminTokenPath(config, server.port());
        if (const auto written = Mtw::writeAdminTokenFile(tokenPath, server.adminToken())) {
            qInfo().noquote() << "admin API token written to" << tokenPath
                              << "(mode 0600); print it with: mtwserver --admin-token --port"
                              << server.port();
        } else {
            qWarning().noquote() << "admin API token not saved:" << written.error().message
                                 << "- set admin.token or admin.token_file to use the admin API";
            tokenPath.clear();
        }
    }

    // Type=notify: ready only now that the port is bound and the token file written.
    Mtw::SystemdNotifier notifier;
    QObject::connect(&server,
                     &Mtw::Server::shutdownStarted,
                     &notifier,
                     &Mtw::SystemdNotifier::stopping);
    const QString listening =
        u"listening on %1:%2"_s.arg(server.address().toString()).arg(server.port());
    QObject::connect(&server,
                     &Mtw::Server::configReloadStarted,
                     &notifier,
                     &Mtw::SystemdNotifier::reloading);
    QObject::connect(&server, &Mtw::Server::configReloaded, &notifier, [&notifier, listening] {
        notifier.ready(listening + u"; configuration reloaded"_s);
    });
    QObject::connect(&server,
                     &Mtw::Server::configReloadFailed,
                     &notifier,
                     [&notifier, listening](const QStringList &errors) {
                         notifier.ready(listening
                                        + u"; configuration reload refused (%1 error(s)), the "
                                          "running configuration stays"_s.arg(errors.size()));
                     });
    notifier.ready(listening);
    notifier.startWatchdog();

    const int code = server.exec();
    if (!tokenPath.isEmpty())
        Mtw::removeAdminTokenFile(tokenPath, server.adminToken());
    return code;
}
