// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>
#include <mtw/result.h>

#include <QList>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QVariantMap>

namespace Mtw {

// The typed form of mtw.toml. Every member has the documented default, so a
// default-constructed Config is what the server runs with when there is no file.
// Durations are whole seconds (unless the name ends in Ms), sizes are bytes. Which key maps to
// which member, its limits and whether it applies live are declared once, in the schema
// (mtw/configschema.h); the parser, toToml(), diffConfigs() and the documentation derive from it.

// [server.tls]: with `cert` set, every route of the port is served over TLS only.
struct TlsConfig
{
    QString cert; // PEM certificate (chain: leaf first)
    QString key;  // PEM private key of `cert`, unencrypted
    QString ca;   // PEM CA certificates that sign client certificates
    QString clientAuth = QStringLiteral("none"); // none | require (needs `ca`)
    QString minVersion = QStringLiteral("1.2");  // 1.2 | 1.3
    bool enabled() const { return !cert.isEmpty(); }
    friend bool operator==(const TlsConfig &, const TlsConfig &) = default;
};

struct ServerConfig
{
    QString host = QStringLiteral("0.0.0.0");
    int port = 8080;            // 0 = any free port (the bound port is logged)
    int maxConnections = 10000; // upgrades beyond this get HTTP 503
    int workers = 0;            // I/O threads; 0 = one per CPU core
    int shutdownTimeout = 10;   // seconds to flush and close connections on shutdown
    QString pluginsDir;         // extra directory searched for plugins; empty = none
    int maxChannels = 100000;   // channels at once; subscribes that would create more get 503
    int maxChannelsPerConnection = 128; // subscriptions per connection; more get 429
    // Peers (addresses or CIDR ranges) whose X-Forwarded-For names the real client.
    QStringList trustedProxies;
    // Milliseconds a module may take to answer a decision (authenticate, message filter, request
    // handler) asynchronously; a later answer counts as a reject.
    int decisionTimeoutMs = 1000;
    // Reload the configuration when its file changes (as on SIGHUP); docs/configuration.md.
    bool watchConfig = false;
    TlsConfig tls;
    friend bool operator==(const ServerConfig &, const ServerConfig &) = default;
};

struct WebSocketConfig
{
    QString path = QStringLiteral("/ws");
    int pingInterval = 30;                    // seconds; 0 disables pings
    qint64 maxMessageSize = 10 * 1000 * 1000; // "10MB"; larger messages close with 1009
    int handshakeTimeout = 10;                // seconds to complete the HTTP upgrade
    qint64 maxQueueSize = 8 * 1000 * 1000;    // "8MB" outbound bytes queued per connection
    QStringList allowedOrigins;               // empty = every Origin accepted
    int maxPendingHandshakesPerIp = 256;      // slowloris guard
    int maxProtocolErrors = 10;               // malformed messages before close 1008
    int rateLimit = 1000;                     // inbound messages per second and connection; 0 = off
    int rateBurst = 2000;                     // messages a connection may send at once
    friend bool operator==(const WebSocketConfig &, const WebSocketConfig &) = default;
};

// The server API for application backends (docs/http-api.md), on the client port.
struct HttpConfig
{
    bool enabled = false; // serve POST <prefix>/<command>
    QString prefix = QStringLiteral("/api");
    QString apiKey;                   // Authorization: apikey <key> or Bearer <key>
    bool insecure = false;            // no key configured: serve every caller (logged)
    qint64 maxBodySize = 1000 * 1000; // "1MB"; larger request bodies get 413
    int keepAliveTimeout = 30;        // seconds an idle keep-alive connection stays open
    friend bool operator==(const HttpConfig &, const HttpConfig &) = default;
};

// Server-Sent Events for clients (docs/http-api.md#server-sent-events), under
// transport.http.prefix: GET <prefix>/events and POST <prefix>/events/publish.
struct SseConfig
{
    bool enabled = false;
    int keepAliveInterval = 15; // seconds between ": ping" comments on an idle stream
    int retryMs = 2000;         // the stream's "retry:" field: the browser's reconnect delay
    int maxStreamsPerIp = 0;    // open streams per client address; 0 = no limit
    friend bool operator==(const SseConfig &, const SseConfig &) = default;
};

struct TransportConfig
{
    QString defaultTransport = QStringLiteral("websocket"); // the only one implemented
    WebSocketConfig websocket;
    HttpConfig http;
    SseConfig sse;
    friend bool operator==(const TransportConfig &, const TransportConfig &) = default;
};

struct CodecConfig
{
    QString defaultCodec = QStringLiteral("json"); // "json" | "binary"
    QStringList binaryChannels;
    friend bool operator==(const CodecConfig &, const CodecConfig &) = default;
};

struct ModuleConfig
{
    QString name;    // required
    QString version; // accepted version constraint; empty = any
    bool enabled = true;
    bool required = false; // a failure to load or start is fatal at start-up
    QVariantMap config;    // the module's own table, ${ENV} expanded
    int line = 0;          // where the entry starts in the file (for messages)
    friend bool operator==(const ModuleConfig &, const ModuleConfig &) = default;
};

struct ChannelConfig
{
    QString name; // exact name or pattern (`*` one segment, final `**` one or more)
    bool auth = false;
    int maxMembers = 0;                // 0 = unlimited
    int history = 50;                  // messages kept for replay
    int historyTtl = 300;              // seconds a message stays in history; 0 = no expiry
    qint64 historyBytes = 1000 * 1000; // "1MB": history size bound in bytes
    bool presence = false;             // join/leave events to members
    QString codec = QString();         // "json" | "binary"; empty = codec.default
    int line = 0;
    friend bool operator==(const ChannelConfig &, const ChannelConfig &) = default;
};

// One `[[kv]]` entry: a key-value bucket, or a family of buckets when `name` is a pattern
// (docs/kv.md). A bucket that no entry names or matches does not exist.
struct KvBucketConfig
{
    QString name;                    // exact bucket name or pattern, as channel names
    bool auth = false;               // only authenticated connections may use it and watch it
    qint64 maxValueSize = 64 * 1000; // "64KB": bytes of one value
    int maxKeys = 10000;             // entries at once
    int ttl = 0; // seconds an entry lives unless a put says otherwise; 0 = no expiry
    int line = 0;
    friend bool operator==(const KvBucketConfig &, const KvBucketConfig &) = default;
};

// One `[[agents]]` entry: an AI agent a client may give tasks to (agent_task) and that answers
// on its channels (docs/agents.md).
struct AgentConfig
{
    QString name;             // what agent_task's metadata.agent names
    QString provider;         // a registered provider name ("anthropic", "openai") or module id
    QString model;            // empty = the provider's default_model
    QString system;           // system prompt; empty = none
    QStringList tools;        // tools it may call: built-in, module or client tools
    QStringList channels;     // channel names or patterns it answers on
    int maxConcurrent = 4;    // tasks running at once
    int maxQueued = 16;       // tasks waiting for a slot; one more gets 429
    int maxToolRounds = 5;    // provider round trips with tool results in one task
    int contextMessages = 20; // channel history messages sent as the conversation
    int maxTokens = 0;        // 0 = the provider's max_tokens
    int toolTimeout = 60;     // seconds a tool (a client's above all) has to answer
    int line = 0;
    friend bool operator==(const AgentConfig &, const AgentConfig &) = default;
};

// `[orchestrator]`: which agents answer a task (docs/agents.md#orchestrator).
struct OrchestratorConfig
{
    // channel-based | round-robin | fan-out | pipeline
    QString strategy = QStringLiteral("channel-based");
    QStringList pipeline; // strategy "pipeline": agent names, in order
    friend bool operator==(const OrchestratorConfig &, const OrchestratorConfig &) = default;
};

struct LoggingConfig
{
    QString level = QStringLiteral("info");  // debug | info | warning | error
    QString format = QStringLiteral("text"); // text | json
    QString rules; // extra QLoggingCategory rules, e.g. "mtw.channels.debug=true"
    friend bool operator==(const LoggingConfig &, const LoggingConfig &) = default;
};

struct AdminConfig
{
    bool enabled = true;                     // the admin API on transport.websocket's port
    QString path = QStringLiteral("/admin"); // WebSocket path of the admin API
    QString token;                           // empty = the server generates one (see tokenFile)
    QString tokenFile;          // where mtwserver writes a generated token; empty = runtime dir
    QStringList allowedOrigins; // browser Origins accepted; requests with any other are refused
    friend bool operator==(const AdminConfig &, const AdminConfig &) = default;
};

// GET <path> in the Prometheus text format (docs/metrics.md), on the client port.
struct MetricsConfig
{
    bool enabled = true;
    QString path = QStringLiteral("/metrics");
    friend bool operator==(const MetricsConfig &, const MetricsConfig &) = default;
};

struct MTW_CORE_EXPORT Config
{
    ServerConfig server;
    TransportConfig transport;
    CodecConfig codec;
    QList<ModuleConfig> modules;
    QList<ChannelConfig> channels;
    QList<KvBucketConfig> kv;
    LoggingConfig logging;
    QList<AgentConfig> agents;
    OrchestratorConfig orchestrator;
    AdminConfig admin;
    MetricsConfig metrics;

    // Where the config came from; empty when built-in defaults are used. Not compared.
    QString sourcePath;

    // Equal when diffConfigs() finds no change: every key of the schema, not sourcePath or lines.
    bool operator==(const Config &other) const;
    bool operator!=(const Config &other) const { return !(*this == other); }

    // The effective configuration as TOML. Values of keys that look secret
    // (token, secret, password, api_key, key, ...) are written as "***" when maskSecrets is set.
    QString toToml(bool maskSecrets = true) const;
};

// One problem found in a config file. toString() gives
// `mtw.toml:4:8: server.port: expected an integer 0-65535, got "eighty"`
// (with `warning: ` after the position for warnings).
struct MTW_CORE_EXPORT ConfigDiagnostic
{
    enum class Severity { Warning, Error };
    Severity severity = Severity::Error;
    QString file;    // as given (the file name the user passed)
    int line = 0;    // 1-based; 0 = unknown
    int column = 0;  // 1-based; 0 = unknown
    QString keyPath; // dotted path, e.g. "server.port" or "channels[2].max_members"
    QString message;

    QString toString() const;
    friend bool operator==(const ConfigDiagnostic &, const ConfigDiagnostic &) = default;
};

struct MTW_CORE_EXPORT ConfigLoadResult
{
    Config config;                       // valid only when !hasErrors()
    QList<ConfigDiagnostic> diagnostics; // errors and warnings, in file order

    bool hasErrors() const;
    QList<ConfigDiagnostic> errors() const;
    QList<ConfigDiagnostic> warnings() const;
};

// Parses TOML text. `fileName` is used in diagnostics only. `env` resolves ${VAR} and
// ${VAR:-default}. Never throws; every error in the text is reported, not just the first.
MTW_CORE_EXPORT ConfigLoadResult
parseConfig(const QString &text,
            const QString &fileName = QStringLiteral("mtw.toml"),
            const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment());

// Reads and parses a file. An unreadable or missing file is an Error (code 404 when missing,
// 403 when unreadable) whose message names the path and the OS reason.
MTW_CORE_EXPORT Result<ConfigLoadResult>
loadConfigFile(const QString &path,
               const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment());

// Config discovery: `explicitPath` if non-empty, else the first existing of ./mtw.toml,
// ./config/mtw.toml, /etc/mtw/mtw.toml (relative to `workingDir`); empty = use defaults.
MTW_CORE_EXPORT QString findConfigFile(const QString &explicitPath,
                                       const QString &workingDir = QString());

// Applies MTW_HOST, MTW_PORT and MTW_MAX_CONNECTIONS from `env` over `config`. An invalid value
// is an error naming the variable and the value, e.g. `MTW_PORT: expected an integer 0-65535, got "x"`.
MTW_CORE_EXPORT Result<void> applyEnvironmentOverrides(Config &config,
                                                       const QProcessEnvironment &env);

// The QLoggingCategory filter rules that apply a [logging] section (level and rules), for
// QLoggingCategory::setFilterRules. Categories outside mtw.* keep Qt's defaults.
MTW_CORE_EXPORT QString loggingFilterRules(const LoggingConfig &logging);

// Parses "10MB", "512KiB", "1GB", "64 kb", or a plain integer (bytes). Decimal units are powers of
// 1000, binary units (KiB, MiB, GiB) powers of 1024. Errors say what was expected.
MTW_CORE_EXPORT Result<qint64> parseSize(const QString &text);

// Expands ${VAR} and ${VAR:-default} (defaults may nest: ${A:-${B:-x}}); `$${` is a literal `${`.
// An unset variable without a default expands to an empty string. Unbalanced braces are an error.
MTW_CORE_EXPORT Result<QString> expandEnvironment(const QString &text,
                                                  const QProcessEnvironment &env);

} // namespace Mtw
