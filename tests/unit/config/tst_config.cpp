// SPDX-License-Identifier: MIT
// parseConfig(): defaults, every key, every error class with its exact position and message,
// unknown-key warnings and ${VAR} expansion inside the file.

#include <mtw/config.h>
#include <mtw/configschema.h>

#include <QTest>

using namespace Qt::Literals::StringLiterals;
using Mtw::Config;

namespace {

QProcessEnvironment envFrom(const QStringList &vars)
{
    QProcessEnvironment env;
    for (const QString &var : vars) {
        const qsizetype eq = var.indexOf(QLatin1Char('='));
        env.insert(var.left(eq), var.mid(eq + 1));
    }
    return env;
}

QStringList diagnosticStrings(const Mtw::ConfigLoadResult &result)
{
    QStringList list;
    for (const Mtw::ConfigDiagnostic &diagnostic : result.diagnostics)
        list.append(diagnostic.toString());
    return list;
}

// The member behind each dotted key, as the schema reads it; "modules" and "channels" count the
// entries.
QVariant valueAt(const Config &c, const QString &key)
{
    if (key == u"modules"_s)
        return int(c.modules.size());
    if (key == u"channels"_s)
        return int(c.channels.size());
    return Mtw::ConfigSchema::value(c, key);
}

} // namespace

class tst_Config : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults_data();
    void defaults();
    void emptyTextIsDefaultConfig();
    void keys_data();
    void keys();
    void entryDefaults();
    void errors_data();
    void errors();
    void severalErrorsInOnePass();
    void warnings_data();
    void warnings();
    void expansion_data();
    void expansion();
    void moduleConfig();
    void moduleConfigSubTables();
};

void tst_Config::defaults_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QVariant>("expected");
    const auto row = [](const QString &key, const QVariant &value) {
        QTest::newRow(qPrintable(key)) << key << value;
    };
    row(u"server.host"_s, u"0.0.0.0"_s);
    row(u"server.port"_s, 8080);
    row(u"server.max_connections"_s, 10000);
    row(u"server.workers"_s, 0);
    row(u"server.shutdown_timeout"_s, 10);
    row(u"server.plugins_dir"_s, QString());
    row(u"server.decision_timeout_ms"_s, 1000);
    row(u"transport.default"_s, u"websocket"_s);
    row(u"transport.websocket.path"_s, u"/ws"_s);
    row(u"transport.websocket.ping_interval"_s, 30);
    row(u"transport.websocket.max_message_size"_s, qint64(10000000));
    row(u"transport.websocket.handshake_timeout"_s, 10);
    row(u"transport.websocket.max_queue_size"_s, qint64(8000000));
    row(u"transport.websocket.allowed_origins"_s, QStringList());
    row(u"transport.websocket.max_pending_handshakes_per_ip"_s, 256);
    row(u"transport.websocket.max_protocol_errors"_s, 10);
    row(u"transport.http.enabled"_s, false);
    row(u"transport.http.prefix"_s, u"/api"_s);
    row(u"transport.http.api_key"_s, QString());
    row(u"transport.http.insecure"_s, false);
    row(u"transport.http.max_body_size"_s, qint64(1000000));
    row(u"transport.http.keepalive_timeout"_s, 30);
    row(u"codec.default"_s, u"json"_s);
    row(u"codec.binary_channels"_s, QStringList());
    row(u"logging.level"_s, u"info"_s);
    row(u"logging.format"_s, u"text"_s);
    row(u"logging.rules"_s, QString());
    row(u"admin.enabled"_s, true);
    row(u"admin.path"_s, u"/admin"_s);
    row(u"admin.token"_s, QString());
    row(u"modules"_s, 0);
    row(u"channels"_s, 0);
}

void tst_Config::defaults()
{
    QFETCH(QString, key);
    QFETCH(QVariant, expected);
    const auto result = Mtw::parseConfig(QString(), u"mtw.toml"_s, QProcessEnvironment());
    QVERIFY(result.diagnostics.isEmpty());
    const QVariant actual = valueAt(result.config, key);
    QVERIFY2(actual.isValid(), qPrintable(u"no getter for "_s + key));
    QCOMPARE(actual.typeId(), expected.typeId());
    QCOMPARE(actual, expected);
}

void tst_Config::emptyTextIsDefaultConfig()
{
    const auto result = Mtw::parseConfig(u"# nothing but a comment\n"_s, u"mtw.toml"_s, {});
    QCOMPARE(diagnosticStrings(result), QStringList());
    QVERIFY(!result.hasErrors());
    QVERIFY(result.config == Config{});
    QVERIFY(result.config.sourcePath.isEmpty());
}

void tst_Config::keys_data()
{
    QTest::addColumn<QString>("toml");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QVariant>("expected");
    const auto row = [](const QString &key, const QString &toml, const QVariant &value) {
        QTest::newRow(qPrintable(key + u" "_s + toml.section(QLatin1Char('\n'), -1)))
            << toml << key << value;
    };
    row(u"server.host"_s, u"[server]\nhost = \"127.0.0.1\""_s, u"127.0.0.1"_s);
    row(u"server.port"_s, u"[server]\nport = 0"_s, 0);
    row(u"server.port"_s, u"[server]\nport = 65535"_s, 65535);
    row(u"server.max_connections"_s, u"[server]\nmax_connections = 1"_s, 1);
    row(u"server.workers"_s, u"[server]\nworkers = 64"_s, 64);
    row(u"server.shutdown_timeout"_s, u"[server]\nshutdown_timeout = 0"_s, 0);
    row(u"server.plugins_dir"_s, u"[server]\nplugins_dir = \"/opt/p\""_s, u"/opt/p"_s);
    row(u"server.decision_timeout_ms"_s, u"[server]\ndecision_timeout_ms = 10"_s, 10);
    row(u"server.decision_timeout_ms"_s, u"[server]\ndecision_timeout_ms = 60000"_s, 60000);
    row(u"transport.default"_s, u"[transport]\ndefault = \"websocket\""_s, u"websocket"_s);
    row(u"transport.websocket.path"_s, u"[transport.websocket]\npath = \"/\""_s, u"/"_s);
    row(u"transport.websocket.ping_interval"_s, u"[transport.websocket]\nping_interval = 0"_s, 0);
    row(u"transport.websocket.max_message_size"_s,
        u"[transport.websocket]\nmax_message_size = \"1GiB\""_s,
        qint64(1073741824));
    row(u"transport.websocket.max_message_size"_s,
        u"[transport.websocket]\nmax_message_size = 1024"_s,
        qint64(1024));
    row(u"transport.websocket.handshake_timeout"_s,
        u"[transport.websocket]\nhandshake_timeout = 1"_s,
        1);
    row(u"transport.websocket.max_queue_size"_s,
        u"[transport.websocket]\nmax_queue_size = \"2 TB\""_s,
        qint64(2000000000000));
    row(u"transport.websocket.allowed_origins"_s,
        u"[transport.websocket]\nallowed_origins = [\"https://a\", \"https://b\"]"_s,
        QStringList{u"https://a"_s, u"https://b"_s});
    row(u"transport.websocket.max_pending_handshakes_per_ip"_s,
        u"[transport.websocket]\nmax_pending_handshakes_per_ip = 1"_s,
        1);
    row(u"transport.websocket.max_protocol_errors"_s,
        u"[transport.websocket]\nmax_protocol_errors = 3"_s,
        3);
    row(u"transport.websocket.path"_s, u"transport = { websocket = { path = \"/i\" } }"_s, u"/i"_s);
    row(u"codec.default"_s, u"[codec]\ndefault = \"binary\""_s, u"binary"_s);
    row(u"codec.binary_channels"_s,
        u"[codec]\nbinary_channels = [\"3d-sync\"]"_s,
        QStringList{u"3d-sync"_s});
    row(u"logging.level"_s, u"[logging]\nlevel = \"debug\""_s, u"debug"_s);
    row(u"logging.format"_s, u"[logging]\nformat = \"json\""_s, u"json"_s);
    row(u"logging.rules"_s, u"[logging]\nrules = \"mtw.*=true\""_s, u"mtw.*=true"_s);
    row(u"admin.enabled"_s, u"[admin]\nenabled = false"_s, false);
    row(u"admin.path"_s, u"[admin]\npath = \"/ops\""_s, u"/ops"_s);
    row(u"admin.token"_s, u"[admin]\ntoken = \"${TOK:-s3cret}\""_s, u"s3cret"_s);
    row(u"modules"_s, u"[[modules]]\nname = \"a\"\n[[modules]]\nname = \"b\""_s, 2);
    row(u"channels"_s, u"channels = [{ name = \"a\" }, { name = \"b.**\" }]"_s, 2);
}

void tst_Config::keys()
{
    QFETCH(QString, toml);
    QFETCH(QString, key);
    QFETCH(QVariant, expected);
    const auto result = Mtw::parseConfig(toml, u"mtw.toml"_s, {});
    QCOMPARE(diagnosticStrings(result), QStringList());
    QCOMPARE(valueAt(result.config, key), expected);
}

void tst_Config::entryDefaults()
{
    const auto result = Mtw::parseConfig(u"# entries\n"
                                         "[[modules]]\nname = \"m\"\n\n"
                                         "[[channels]]\nname = \"chat.*\"\n"_s,
                                         u"mtw.toml"_s,
                                         {});
    QCOMPARE(diagnosticStrings(result), QStringList());
    QCOMPARE(result.config.modules.size(), 1);
    Mtw::ModuleConfig module;
    module.name = u"m"_s;
    module.line = 2;
    QVERIFY(result.config.modules.first() == module);

    QCOMPARE(result.config.channels.size(), 1);
    Mtw::ChannelConfig channel;
    channel.name = u"chat.*"_s;
    channel.line = 5;
    QVERIFY(result.config.channels.first() == channel);
    QCOMPARE(result.config.channels.first().history, 50);
    QCOMPARE(result.config.channels.first().codec, QString()); // unset: codec.default applies
}

void tst_Config::errors_data()
{
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QString>("toml");
    QTest::addColumn<QString>("expected");

    const auto row = [](const char *name, const QString &toml, const QString &expected) {
        QTest::newRow(name) << QStringList() << toml << expected;
    };
    // Type mismatches.
    row("port as word",
        u"[server]\nport = \"eighty\""_s,
        u"mtw.toml:2:8: server.port: expected an integer 0-65535, got \"eighty\""_s);
    row("port as float",
        u"[server]\nport = 80.5"_s,
        u"mtw.toml:2:8: server.port: expected an integer 0-65535, got 80.5"_s);
    row("port as whole float",
        u"[server]\nport = 80.0"_s,
        u"mtw.toml:2:8: server.port: expected an integer 0-65535, got 80.0"_s);
    row("bool as number",
        u"[admin]\nenabled = 3"_s,
        u"mtw.toml:2:11: admin.enabled: expected a boolean, got 3"_s);
    row("bool as word",
        u"[[channels]]\nname = \"a\"\npresence = \"yes\""_s,
        u"mtw.toml:3:12: channels[0].presence: expected a boolean, got \"yes\""_s);
    row("string as number",
        u"[server]\nhost = 8080"_s,
        u"mtw.toml:2:8: server.host: expected a string, got 8080"_s);
    row("string as array",
        u"[logging]\nrules = [\"a\"]"_s,
        u"mtw.toml:2:9: logging.rules: expected a string, got an array"_s);
    row("section as number", u"server = 3"_s, u"mtw.toml:1:10: server: expected a table, got 3"_s);
    row("subsection as string",
        u"[transport]\nwebsocket = \"/ws\""_s,
        u"mtw.toml:2:13: transport.websocket: expected a table, got \"/ws\""_s);
    row("array of tables as table",
        u"[modules]\nname = \"a\""_s,
        u"mtw.toml:1:1: modules: expected an array of tables ([[modules]]), got a table"_s);
    row("array element not a table",
        u"channels = [1]"_s,
        u"mtw.toml:1:13: channels[0]: expected a table, got 1"_s);
    row("string list as string",
        u"[codec]\nbinary_channels = \"a\""_s,
        u"mtw.toml:2:19: codec.binary_channels: expected an array of strings, got \"a\""_s);
    row("string list element",
        u"[codec]\nbinary_channels = [\"a\", 3]"_s,
        u"mtw.toml:2:25: codec.binary_channels[1]: expected a string, got 3"_s);
    row("module config not a table",
        u"[[modules]]\nname = \"a\"\nconfig = 3"_s,
        u"mtw.toml:3:10: modules[0].config: expected a table, got 3"_s);
    row("integer as written (hex)",
        u"[server]\nport = 0x1ffff"_s,
        u"mtw.toml:2:8: server.port: expected an integer 0-65535, got 0x1FFFF"_s);
    // Ranges.
    row("port too large",
        u"[server]\nport = 70000"_s,
        u"mtw.toml:2:8: server.port: expected an integer 0-65535, got 70000"_s);
    row("port negative",
        u"[server]\nport = -1"_s,
        u"mtw.toml:2:8: server.port: expected an integer 0-65535, got -1"_s);
    row("max_connections zero",
        u"[server]\nmax_connections = 0"_s,
        u"mtw.toml:2:19: server.max_connections: expected an integer >= 1, got 0"_s);
    row("workers",
        u"[server]\nworkers = 65"_s,
        u"mtw.toml:2:11: server.workers: expected an integer 0-64, got 65"_s);
    row("shutdown_timeout",
        u"[server]\nshutdown_timeout = -5"_s,
        u"mtw.toml:2:20: server.shutdown_timeout: expected an integer 0-86400, got -5"_s);
    row("beyond int",
        u"[server]\nmax_connections = 99999999999"_s,
        u"mtw.toml:2:19: server.max_connections: expected an integer >= 1, got 99999999999"_s);
    row("history",
        u"[[channels]]\nname = \"a\"\nhistory = 100001"_s,
        u"mtw.toml:3:11: channels[0].history: expected an integer 0-100000, got 100001"_s);
    row("max_members",
        u"[[channels]]\nname = \"a\"\nmax_members = -1"_s,
        u"mtw.toml:3:15: channels[0].max_members: expected an integer >= 0, got -1"_s);
    row("decision_timeout_ms too small",
        u"[server]\ndecision_timeout_ms = 9"_s,
        u"mtw.toml:2:23: server.decision_timeout_ms: expected an integer 10-60000, got 9"_s);
    row("decision_timeout_ms too large",
        u"[server]\ndecision_timeout_ms = 60001"_s,
        u"mtw.toml:2:23: server.decision_timeout_ms: expected an integer 10-60000, got 60001"_s);
    row("handshake_timeout",
        u"[transport.websocket]\nhandshake_timeout = 0"_s,
        u"mtw.toml:2:21: transport.websocket.handshake_timeout: expected an integer 1-86400, got 0"_s);
    // Seconds become milliseconds in timers: values that would overflow are refused by name.
    row("ping_interval overflow",
        u"[transport.websocket]\nping_interval = 2147484"_s,
        u"mtw.toml:2:17: transport.websocket.ping_interval: expected an integer 0-86400, got 2147484"_s);
    row("handshake_timeout overflow",
        u"[transport.websocket]\nhandshake_timeout = 8589935"_s,
        u"mtw.toml:2:21: transport.websocket.handshake_timeout: expected an integer 1-86400, got 8589935"_s);
    row("history_ttl",
        u"[[channels]]\nname = \"a\"\nhistory_ttl = -1"_s,
        u"mtw.toml:3:15: channels[0].history_ttl: expected an integer 0-86400, got -1"_s);
    row("max_channels zero",
        u"[server]\nmax_channels = 0"_s,
        u"mtw.toml:2:16: server.max_channels: expected an integer >= 1, got 0"_s);
    row("max_channels_per_connection zero",
        u"[server]\nmax_channels_per_connection = 0"_s,
        u"mtw.toml:2:31: server.max_channels_per_connection: expected an integer >= 1, got 0"_s);
    row("rate_burst zero",
        u"[transport.websocket]\nrate_burst = 0"_s,
        u"mtw.toml:2:14: transport.websocket.rate_burst: expected an integer >= 1, got 0"_s);
    row("trusted proxy not an address",
        u"[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"nginx\"]"_s,
        u"mtw.toml:2:34: server.trusted_proxies[1]: expected an IP address or a CIDR range such as "
        "\"10.0.0.0/8\" or \"::1\", got \"nginx\""_s);
    row("trusted proxy bad prefix",
        u"[server]\ntrusted_proxies = [\"10.0.0.0/33\"]"_s,
        u"mtw.toml:2:20: server.trusted_proxies[0]: expected an IP address or a CIDR range such as "
        "\"10.0.0.0/8\" or \"::1\", got \"10.0.0.0/33\""_s);
    row("empty host",
        u"[server]\nhost = \"\""_s,
        u"mtw.toml:2:8: server.host: expected a non-empty string, got \"\""_s);
    // Enumerations.
    row("codec",
        u"[codec]\ndefault = \"xml\""_s,
        u"mtw.toml:2:11: codec.default: expected one of \"json\", \"binary\", got \"xml\""_s);
    row("channel codec",
        u"[[channels]]\nname = \"a\"\ncodec = \"JSON\""_s,
        u"mtw.toml:3:9: channels[0].codec: expected one of \"json\", \"binary\", got \"JSON\""_s);
    row("transport",
        u"[transport]\ndefault = \"tcp\""_s,
        u"mtw.toml:2:11: transport.default: expected \"websocket\", got \"tcp\""_s);
    // Known, but not implemented in this version: refused with the reason, never ignored.
    row("transport planned",
        u"[transport]\ndefault = \"http\""_s,
        u"mtw.toml:2:11: transport.default: expected \"websocket\", got \"http\": the HTTP "
        "transport is planned, not implemented in this version"_s);
    row("transport.http prefix",
        u"[transport.http]\nprefix = \"api\""_s,
        u"mtw.toml:2:10: transport.http.prefix: expected a path starting with \"/\", got \"api\""_s);
    row("transport.http keepalive_timeout",
        u"[transport.http]\nkeepalive_timeout = 0"_s,
        u"mtw.toml:2:21: transport.http.keepalive_timeout: expected an integer 1-86400, got 0"_s);
    // [[agents]] (docs/agents.md): every key is checked.
    row("agent without provider",
        u"\n[[agents]]\nname = \"a\""_s,
        u"mtw.toml:2:1: agents[0].provider: required key is missing"_s);
    row("agent name",
        u"[[agents]]\nname = \"a b\"\nprovider = \"p\""_s,
        u"mtw.toml:2:8: agents[0].name: expected a name of 1 to 64 letters, digits, \"-\", \"_\" "
        "or \".\", got \"a b\""_s);
    row("agent max_concurrent",
        u"[[agents]]\nname = \"a\"\nprovider = \"p\"\nmax_concurrent = 0"_s,
        u"mtw.toml:4:18: agents[0].max_concurrent: expected an integer 1-1000, got 0"_s);
    row("agent channel",
        u"[[agents]]\nname = \"a\"\nprovider = \"p\"\nchannels = [\"a..b\"]"_s,
        u"mtw.toml:4:13: agents[0].channels[0]: expected a channel name or pattern (dot-separated "
        "segments, \"*\" for one segment, a final \"**\" for the rest), got \"a..b\""_s);
    // [orchestrator] (docs/agents.md#orchestrator): the strategy, and a pipeline of known agents
    // given with strategy "pipeline" only.
    row("orchestrator strategy",
        u"[orchestrator]\nstrategy = \"random\""_s,
        u"mtw.toml:2:12: orchestrator.strategy: expected one of \"channel-based\", "
        u"\"round-robin\", "
        "\"fan-out\", \"pipeline\", got \"random\""_s);
    row("orchestrator pipeline names an unknown agent",
        u"[[agents]]\nname = \"a\"\nprovider = \"p\"\n\n[orchestrator]\nstrategy = \"pipeline\"\n"
        "pipeline = [\"a\", \"zz\"]"_s,
        u"mtw.toml:7:18: orchestrator.pipeline[1]: no [[agents]] entry is named \"zz\""_s);
    row("orchestrator pipeline without its strategy",
        u"[[agents]]\nname = \"a\"\nprovider = \"p\"\n\n[orchestrator]\npipeline = [\"a\"]"_s,
        u"mtw.toml:6:12: orchestrator.pipeline: only strategy \"pipeline\" uses it (strategy is "
        "\"channel-based\"); remove it or set strategy = \"pipeline\""_s);
    row("orchestrator strategy pipeline without a pipeline",
        u"[orchestrator]\nstrategy = \"pipeline\""_s,
        u"mtw.toml:2:12: orchestrator.pipeline: strategy \"pipeline\" needs the agents in order, "
        "e.g. pipeline = [\"draft\", \"review\"]"_s);
    row("level as number",
        u"[logging]\nlevel = 3"_s,
        u"mtw.toml:2:9: logging.level: expected one of \"debug\", \"info\", \"warning\", \"error\", got 3"_s);
    row("format",
        u"[logging]\nformat = \"xml\""_s,
        u"mtw.toml:2:10: logging.format: expected one of \"text\", \"json\", got \"xml\""_s);
    // Sizes.
    row("bad size unit",
        u"[transport.websocket]\nmax_message_size = \"10XB\""_s,
        u"mtw.toml:2:20: transport.websocket.max_message_size: invalid size \"10XB\": expected a "
        "number followed by B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"_s);
    row("size too large",
        u"[transport.websocket]\nmax_message_size = \"2GB\""_s,
        u"mtw.toml:2:20: transport.websocket.max_message_size: expected a size from 1KiB to 1GiB, got \"2GB\""_s);
    row("size too small",
        u"[transport.websocket]\nmax_queue_size = 100"_s,
        u"mtw.toml:2:18: transport.websocket.max_queue_size: expected a size of at least 1KiB, got 100"_s);
    row("size as bool",
        u"[transport.websocket]\nmax_message_size = true"_s,
        u"mtw.toml:2:20: transport.websocket.max_message_size: expected a size from 1KiB to 1GiB, got true"_s);
    row("negative size",
        u"[transport.websocket]\nmax_queue_size = \"-1MB\""_s,
        u"mtw.toml:2:18: transport.websocket.max_queue_size: invalid size \"-1MB\": a size cannot be negative"_s);
    // Paths and names.
    row("websocket path",
        u"[transport.websocket]\npath = \"ws\""_s,
        u"mtw.toml:2:8: transport.websocket.path: expected a path starting with \"/\", got \"ws\""_s);
    row("admin path",
        u"[admin]\npath = \"ops\""_s,
        u"mtw.toml:2:8: admin.path: expected a path starting with \"/\", got \"ops\""_s);
    const QString badName =
        u"expected a channel name or pattern (dot-separated segments, \"*\" for "
        "one segment, a final \"**\" for the rest), got "_s;
    row("channel partial wildcard",
        u"[[channels]]\nname = \"a*b\""_s,
        u"mtw.toml:2:8: channels[0].name: "_s + badName + u"\"a*b\""_s);
    row("channel inner **",
        u"[[channels]]\nname = \"a.**.b\""_s,
        u"mtw.toml:2:8: channels[0].name: "_s + badName + u"\"a.**.b\""_s);
    row("channel empty segment",
        u"[[channels]]\nname = \"a..b\""_s,
        u"mtw.toml:2:8: channels[0].name: "_s + badName + u"\"a..b\""_s);
    row("channel empty name",
        u"[[channels]]\nname = \"\""_s,
        u"mtw.toml:2:8: channels[0].name: "_s + badName + u"\"\""_s);
    // Required keys and duplicates.
    row("channel without name",
        u"[[channels]]\nauth = true"_s,
        u"mtw.toml:1:1: channels[0].name: required key is missing"_s);
    row("second module without name",
        u"[[modules]]\nname = \"a\"\n\n[[modules]]\nversion = \"1\""_s,
        u"mtw.toml:4:1: modules[1].name: required key is missing"_s);
    row("inline channel without name",
        u"channels = [{ name = \"a\" }, { auth = true }]"_s,
        u"mtw.toml:1:29: channels[1].name: required key is missing"_s);
    row("module empty name",
        u"[[modules]]\nname = \"\""_s,
        u"mtw.toml:2:8: modules[0].name: expected a non-empty string, got \"\""_s);
    row("duplicate channel",
        u"[[channels]]\nname = \"chat\"\n\n[[channels]]\nname = \"x\"\n\n[[channels]]\nname = \"chat\""_s,
        u"mtw.toml:8:8: channels[2].name: duplicate channel \"chat\" (defined at lines 1 and 7)"_s);
    // Syntax (toml++ stops at the first).
    row("syntax",
        u"[server]\nport = = 2\nhost = ="_s,
        u"mtw.toml:2:8: Error while parsing value: could not determine value type"_s);
    row("syntax duplicate key",
        u"[server]\nport = 1\nport = 2"_s,
        u"mtw.toml:3:8: Error while parsing key-value pair: cannot redefine existing integer 'port'"_s);
    // Expansion.
    row("unterminated ${",
        u"[server]\nhost = \"${HOST\""_s,
        u"mtw.toml:2:8: server.host: unterminated ${ in \"${HOST\""_s);
    row("bad variable name",
        u"[server]\nhost = \"${1HOST}\""_s,
        u"mtw.toml:2:8: server.host: invalid variable name \"1HOST\" in \"${1HOST}\""_s);
    row("unterminated in array",
        u"[codec]\nbinary_channels = [\"a\", \"${B:-x\"]"_s,
        u"mtw.toml:2:25: codec.binary_channels[1]: unterminated ${ in \"${B:-x\""_s);
    row("unterminated in module config",
        u"[[modules]]\nname = \"a\"\nconfig = { url = \"${X\" }"_s,
        u"mtw.toml:3:18: modules[0].config.url: unterminated ${ in \"${X\""_s);
    row("bad name in nested module config",
        u"[[modules]]\nname = \"a\"\n[modules.config.db]\nhosts = [\"${A B}\"]"_s,
        u"mtw.toml:4:10: modules[0].config.db.hosts[0]: invalid variable name \"A B\" in \"${A B}\""_s);
    QTest::newRow("expanded value shown")
        << QStringList{u"P=abc"_s} << u"[server]\nport = \"${P}\""_s
        << u"mtw.toml:2:8: server.port: expected an integer 0-65535, got \"${P}\" (expanded to \"abc\")"_s;
    QTest::newRow("empty expansion")
        << QStringList() << u"[admin]\nenabled = \"${ADMIN}\""_s
        << u"mtw.toml:2:11: admin.enabled: expected a boolean, got \"${ADMIN}\" (expanded to \"\")"_s;
}

void tst_Config::errors()
{
    QFETCH(QStringList, env);
    QFETCH(QString, toml);
    QFETCH(QString, expected);
    const auto result = Mtw::parseConfig(toml, u"mtw.toml"_s, envFrom(env));
    QCOMPARE(diagnosticStrings(result), QStringList{expected});
    QVERIFY(result.hasErrors());
    QCOMPARE(result.errors().size(), 1);
    QCOMPARE(result.warnings().size(), 0);
}

void tst_Config::severalErrorsInOnePass()
{
    const QString toml = u"[logging]\n"
                         "level = \"loud\"\n"
                         "\n"
                         "[server]\n"
                         "prot = 1\n"
                         "port = \"eighty\"\n"
                         "host = 1\n"
                         "\n"
                         "[[channels]]\n"
                         "auth = \"maybe\"\n"
                         "\n"
                         "[codec]\n"
                         "default = \"xml\"\n"_s;
    const auto result = Mtw::parseConfig(toml, u"conf/mtw.toml"_s, {});
    const QStringList expected{
        u"conf/mtw.toml:2:9: logging.level: expected one of \"debug\", \"info\", \"warning\", \"error\", got \"loud\""_s,
        u"conf/mtw.toml:5:1: warning: server.prot: unknown key (did you mean 'port'?)"_s,
        u"conf/mtw.toml:6:8: server.port: expected an integer 0-65535, got \"eighty\""_s,
        u"conf/mtw.toml:7:8: server.host: expected a string, got 1"_s,
        u"conf/mtw.toml:9:1: channels[0].name: required key is missing"_s,
        u"conf/mtw.toml:10:8: channels[0].auth: expected a boolean, got \"maybe\""_s,
        u"conf/mtw.toml:13:11: codec.default: expected one of \"json\", \"binary\", got \"xml\""_s,
    };
    QCOMPARE(diagnosticStrings(result), expected);
    QCOMPARE(result.errors().size(), 6);
    QCOMPARE(result.warnings().size(), 1);
    QCOMPARE(result.diagnostics.at(2).keyPath, u"server.port"_s);
    QCOMPARE(result.diagnostics.at(2).line, 6);
    QCOMPARE(result.diagnostics.at(2).column, 8);
    QCOMPARE(result.diagnostics.at(2).file, u"conf/mtw.toml"_s);
    QCOMPARE(result.diagnostics.at(2).message, u"expected an integer 0-65535, got \"eighty\""_s);
}

void tst_Config::warnings_data()
{
    QTest::addColumn<QString>("toml");
    QTest::addColumn<QStringList>("expected");
    QTest::newRow("typo")
        << u"[server]\nport = 1\nprot = 1"_s
        << QStringList{u"mtw.toml:3:1: warning: server.prot: unknown key (did you mean 'port'?)"_s};
    QTest::newRow("no close key") << u"[server]\nfoo = 1"_s
                                  << QStringList{
                                         u"mtw.toml:2:1: warning: server.foo: unknown key"_s};
    QTest::newRow("section")
        << u"[servr]\nport = 1"_s
        << QStringList{u"mtw.toml:1:2: warning: servr: unknown key (did you mean 'server'?)"_s};
    QTest::newRow("top-level key")
        << u"colour = \"red\""_s << QStringList{u"mtw.toml:1:1: warning: colour: unknown key"_s};
    QTest::newRow("nested") << u"[transport.websocket]\nmax_mesage_size = \"1MB\""_s
                            << QStringList{
                                   u"mtw.toml:2:1: warning: transport.websocket.max_mesage_size: "
                                   "unknown key (did you mean 'max_message_size'?)"_s};
    QTest::newRow("subsection")
        << u"[transport.htp]\nenabled = true"_s
        << QStringList{
               u"mtw.toml:1:12: warning: transport.htp: unknown key (did you mean 'http'?)"_s};
    QTest::newRow("module entry")
        << u"[[modules]]\nname = \"a\"\nenable = false"_s
        << QStringList{
               u"mtw.toml:3:1: warning: modules[0].enable: unknown key (did you mean 'enabled'?)"_s};
    QTest::newRow("second channel")
        << u"[[channels]]\nname = \"a\"\n[[channels]]\nname = \"b\"\nmembers = 3"_s
        << QStringList{u"mtw.toml:5:1: warning: channels[1].members: unknown key"_s};
    QTest::newRow("two, in file order")
        << u"[logging]\nlevl = \"info\"\n[server]\nhots = \"h\""_s
        << QStringList{
               u"mtw.toml:2:1: warning: logging.levl: unknown key (did you mean 'level'?)"_s,
               u"mtw.toml:4:1: warning: server.hots: unknown key (did you mean 'host'?)"_s};
    QTest::newRow("module config keys are the module's")
        << u"[[modules]]\nname = \"a\"\nconfig = { anything = 1, nested = { whatever = true } }"_s
        << QStringList();
}

void tst_Config::warnings()
{
    QFETCH(QString, toml);
    QFETCH(QStringList, expected);
    const auto result = Mtw::parseConfig(toml, u"mtw.toml"_s, {});
    QCOMPARE(diagnosticStrings(result), expected);
    QVERIFY(!result.hasErrors());
    QCOMPARE(result.warnings().size(), expected.size());
}

void tst_Config::expansion_data()
{
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QString>("toml");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QVariant>("expected");
    const auto row = [](const char *name,
                        const QStringList &env,
                        const QString &toml,
                        const QString &key,
                        const QVariant &expected) {
        QTest::newRow(name) << env << toml << key << expected;
    };
    row("set",
        {u"H=example.org"_s},
        u"[server]\nhost = \"${H}\""_s,
        u"server.host"_s,
        u"example.org"_s);
    row("unset is empty", {}, u"[logging]\nrules = \"${RULES}\""_s, u"logging.rules"_s, QString());
    row("default when unset",
        {},
        u"[server]\nhost = \"${H:-localhost}\""_s,
        u"server.host"_s,
        u"localhost"_s);
    row("default when empty",
        {u"H="_s},
        u"[server]\nhost = \"${H:-localhost}\""_s,
        u"server.host"_s,
        u"localhost"_s);
    row("default not used",
        {u"H=a.b"_s},
        u"[server]\nhost = \"${H:-localhost}\""_s,
        u"server.host"_s,
        u"a.b"_s);
    row("nested default, inner set",
        {u"B=b"_s},
        u"[server]\nhost = \"${A:-${B:-x}}\""_s,
        u"server.host"_s,
        u"b"_s);
    row("nested default, none set",
        {},
        u"[server]\nhost = \"${A:-${B:-x}}\""_s,
        u"server.host"_s,
        u"x"_s);
    row("nested default, outer set",
        {u"A=a"_s, u"B=b"_s},
        u"[server]\nhost = \"${A:-${B:-x}}\""_s,
        u"server.host"_s,
        u"a"_s);
    row("escape",
        {u"H=no"_s},
        u"[logging]\nrules = \"$${H} costs $5\""_s,
        u"logging.rules"_s,
        u"${H} costs $5"_s);
    row("in text",
        {u"H=h"_s},
        u"[server]\nplugins_dir = \"/opt/${H}/${P:-plugins}\""_s,
        u"server.plugins_dir"_s,
        u"/opt/h/plugins"_s);
    row("literal string", {u"H=h"_s}, u"[server]\nhost = '${H}'"_s, u"server.host"_s, u"h"_s);
    row("in array",
        {u"C=chan"_s},
        u"[codec]\nbinary_channels = [\"${C}\", \"b\"]"_s,
        u"codec.binary_channels"_s,
        QStringList{u"chan"_s, u"b"_s});
    row("enum",
        {u"LEVEL=debug"_s},
        u"[logging]\nlevel = \"${LEVEL:-info}\""_s,
        u"logging.level"_s,
        u"debug"_s);
    row("path",
        {},
        u"[transport.websocket]\npath = \"${WS_PATH:-/socket}\""_s,
        u"transport.websocket.path"_s,
        u"/socket"_s);
    // Non-string keys written as strings.
    row("port from env", {u"P=9000"_s}, u"[server]\nport = \"${P}\""_s, u"server.port"_s, 9000);
    row("port default", {}, u"[server]\nport = \"${PORT:-8081}\""_s, u"server.port"_s, 8081);
    row("port plain string", {}, u"[server]\nport = \"8082\""_s, u"server.port"_s, 8082);
    row("bool from env",
        {u"E=FALSE"_s},
        u"[admin]\nenabled = \"${E}\""_s,
        u"admin.enabled"_s,
        false);
    row("bool default", {}, u"[admin]\nenabled = \"${E:-false}\""_s, u"admin.enabled"_s, false);
    row("size from env",
        {u"S=2MiB"_s},
        u"[transport.websocket]\nmax_message_size = \"${S}\""_s,
        u"transport.websocket.max_message_size"_s,
        qint64(2097152));
    row("size bytes from env",
        {u"S=4096"_s},
        u"[transport.websocket]\nmax_queue_size = \"${S}\""_s,
        u"transport.websocket.max_queue_size"_s,
        qint64(4096));
}

void tst_Config::expansion()
{
    QFETCH(QStringList, env);
    QFETCH(QString, toml);
    QFETCH(QString, key);
    QFETCH(QVariant, expected);
    const auto result = Mtw::parseConfig(toml, u"mtw.toml"_s, envFrom(env));
    QCOMPARE(diagnosticStrings(result), QStringList());
    QCOMPARE(valueAt(result.config, key), expected);
}

void tst_Config::moduleConfig()
{
    const QString toml =
        u"[[modules]]\n"
        "name = \"${MOD:-store}\"\n"
        "version = \"1.0\"\n"
        "enabled = false\n"
        "required = true\n"
        "config = { url = \"redis://${HOST}:6379\", port = 6379, ratio = 0.5, on = true, "
        "when = 1979-05-27T07:32:00Z, day = 1979-05-27, list = [\"${HOST}\", 1, [\"$${x}\"]], "
        "nested = { deep = { token = \"${T:-fallback}\" } } }\n"_s;
    const auto result = Mtw::parseConfig(toml, u"mtw.toml"_s, envFrom({u"HOST=cache"_s}));
    QCOMPARE(diagnosticStrings(result), QStringList());
    QCOMPARE(result.config.modules.size(), 1);
    const Mtw::ModuleConfig &module = result.config.modules.first();
    QCOMPARE(module.name, u"store"_s);
    QCOMPARE(module.version, u"1.0"_s);
    QCOMPARE(module.enabled, false);
    QCOMPARE(module.required, true);
    QCOMPARE(module.line, 1);

    const QVariantMap expected{
        {u"url"_s, u"redis://cache:6379"_s},
        {u"port"_s, QVariant::fromValue(qint64(6379))},
        {u"ratio"_s, 0.5},
        {u"on"_s, true},
        {u"when"_s, u"1979-05-27T07:32:00Z"_s},
        {u"day"_s, u"1979-05-27"_s},
        {u"list"_s,
         QVariantList{u"cache"_s, QVariant::fromValue(qint64(1)), QVariantList{u"${x}"_s}}},
        {u"nested"_s, QVariantMap{{u"deep"_s, QVariantMap{{u"token"_s, u"fallback"_s}}}}},
    };
    QCOMPARE(module.config, expected);
    QCOMPARE(module.config.value(u"port"_s).typeId(), QMetaType::LongLong);
    QCOMPARE(module.config.value(u"ratio"_s).typeId(), QMetaType::Double);
    QCOMPARE(module.config.value(u"on"_s).typeId(), QMetaType::Bool);
    QCOMPARE(module.config.value(u"nested"_s).typeId(), QMetaType::QVariantMap);
    QCOMPARE(module.config.value(u"list"_s).typeId(), QMetaType::QVariantList);
}

void tst_Config::moduleConfigSubTables()
{
    const QString toml = u"[[modules]]\n"
                         "name = \"a\"\n"
                         "[modules.config]\n"
                         "secret = \"${S}\"\n"
                         "[modules.config.db]\n"
                         "hosts = [\"h1\", \"h2\"]\n"
                         "\n"
                         "[[modules]]\n"
                         "name = \"b\"\n"_s;
    const auto result = Mtw::parseConfig(toml, u"mtw.toml"_s, envFrom({u"S=s3cr3t"_s}));
    QCOMPARE(diagnosticStrings(result), QStringList());
    QCOMPARE(result.config.modules.size(), 2);
    const QVariantMap expected{
        {u"secret"_s, u"s3cr3t"_s},
        {u"db"_s, QVariantMap{{u"hosts"_s, QVariantList{u"h1"_s, u"h2"_s}}}},
    };
    QCOMPARE(result.config.modules.at(0).config, expected);
    QCOMPARE(result.config.modules.at(1).config, QVariantMap());
    QCOMPARE(result.config.modules.at(1).line, 8);
}

QTEST_GUILESS_MAIN(tst_Config)
#include "tst_config.moc"
