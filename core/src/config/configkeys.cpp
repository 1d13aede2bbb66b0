// SPDX-License-Identifier: MIT
// The one declaration of every mtw.toml key: name, type, limits, whether it applies live, its
// documentation, and the Config member it is read into. Defaults are the member initializers
// of config.h. Everything else in the config area walks schemaSections().

#include "config_p.h"
#include "configschema_p.h"

#include <QLoggingCategory>

#include <algorithm>
#include <initializer_list>
#include <limits>

using namespace Qt::Literals::StringLiterals;

namespace Mtw::Internal {

namespace {

constexpr qint64 KiB = 1024;
constexpr qint64 GiB = 1024 * 1024 * 1024;
// Durations are seconds and become milliseconds in timers: a day keeps every product in range.
constexpr qint64 MaxSeconds = 86400;

constexpr StringRule AddressRangeRule{
    &isAddressRange,
    "an IP address or a CIDR range such as \"10.0.0.0/8\" or \"::1\"",
    "IP address or CIDR range"};

constexpr StringRule ChannelNameRule{
    &isChannelPattern,
    "a channel name or pattern (dot-separated segments, \"*\" for one segment, "
    "a final \"**\" for the rest)",
    "channel name or pattern"};

// A bucket's watch channel is `$kv.<name>`: the name must leave room for the prefix.
bool isKvBucketName(const QString &name)
{
    return isChannelPattern(name) && !name.startsWith(u'$') && name.size() <= 251;
}

constexpr StringRule KvBucketNameRule{
    &isKvBucketName,
    "a bucket name or pattern (dot-separated segments, \"*\" for one segment, a final \"**\" "
    "for the rest; at most 251 characters, not starting with \"$\")",
    "bucket name or pattern"};

void applyLoggingRules(const Config &config)
{
    QLoggingCategory::setFilterRules(loggingFilterRules(config.logging));
}

// A key of the struct S that holds it, before it is bound to its place in Config. The member
// pointer fixes the C++ type, so a key cannot be declared with a type its member does not have.
template<typename S>
struct Key
{
    KeySpec spec;
    std::function<QVariant(const S &)> get;
    std::function<void(S &, const QVariant &)> set;

    Key seconds() &&
    {
        spec.unit = u"seconds"_s;
        return std::move(*this);
    }
    Key unit(const char *name) &&
    {
        spec.unit = QString::fromLatin1(name);
        return std::move(*this);
    }
    Key rule(StringRule stringRule) &&
    {
        spec.rule = stringRule;
        return std::move(*this);
    }
    Key required() &&
    {
        spec.required = true;
        if (!spec.rule.valid)
            spec.rule = NonEmpty;
        return std::move(*this);
    }
    Key secret() &&
    {
        spec.secret = true;
        return std::move(*this);
    }
    Key emptyMeans(const char *markdown) &&
    {
        spec.emptyMeans = QString::fromUtf8(markdown);
        return std::move(*this);
    }
    Key planned(const char *value, const char *reason) &&
    {
        spec.planned.append({QString::fromUtf8(value), QString::fromUtf8(reason)});
        return std::move(*this);
    }
    // Live keys name what makes a new value take effect; there is no live key without one.
    Key live(void (*takeEffect)(const Config &)) &&
    {
        spec.apply = ConfigApply::Live;
        spec.takeEffect = takeEffect;
        return std::move(*this);
    }
    // Live keys the running server applies itself once the whole new configuration has been
    // checked (Server::applyConfig: the TLS files, the config file watch).
    Key appliedByServer() &&
    {
        spec.apply = ConfigApply::Live;
        return std::move(*this);
    }
};

template<typename S, typename T>
Key<S> key(const char *name, KeyType type, T S::*member, const char *doc)
{
    Key<S> k;
    k.spec.name = QString::fromLatin1(name);
    k.spec.type = type;
    k.spec.doc = QString::fromUtf8(doc);
    k.get = [member](const S &owner) { return QVariant::fromValue(owner.*member); };
    k.set = [member](S &owner, const QVariant &value) { owner.*member = value.value<T>(); };
    return k;
}

template<typename S>
Key<S> boolean(const char *name, bool S::*member, const char *doc)
{
    return key(name, KeyType::Boolean, member, doc);
}

template<typename S>
Key<S> integer(const char *name, int S::*member, qint64 min, qint64 max, const char *doc)
{
    Key<S> k = key(name, KeyType::Integer, member, doc);
    k.spec.min = min;
    k.spec.max = max;
    return k;
}

template<typename S>
Key<S> size(const char *name, qint64 S::*member, qint64 min, qint64 max, const char *doc)
{
    Key<S> k = key(name, KeyType::Size, member, doc);
    k.spec.min = min;
    k.spec.max = max;
    return k;
}

template<typename S>
Key<S> string(const char *name, QString S::*member, const char *doc)
{
    return key(name, KeyType::String, member, doc);
}

template<typename S>
Key<S> choice(const char *name,
              QString S::*member,
              std::initializer_list<const char *> choices,
              const char *doc)
{
    Key<S> k = key(name, KeyType::Choice, member, doc);
    for (const char *choiceName : choices)
        k.spec.choices.append(QString::fromLatin1(choiceName));
    return k;
}

template<typename S>
Key<S> stringList(const char *name, QStringList S::*member, const char *doc)
{
    return key(name, KeyType::StringList, member, doc);
}

template<typename S>
Key<S> table(const char *name, QVariantMap S::*member, const char *doc)
{
    return key(name, KeyType::Table, member, doc);
}

// Where a section's struct lives in Config: a member, or a member of a member.
template<typename S>
struct Place
{
    std::function<const S &(const Config &)> read;
    std::function<S &(Config &)> write;
};

template<typename S>
Place<S> at(S Config::*member)
{
    return {[member](const Config &config) -> const S & { return config.*member; },
            [member](Config &config) -> S & { return config.*member; }};
}

template<typename P, typename S>
Place<S> at(P Config::*outer, S P::*inner)
{
    return {[outer, inner](const Config &config) -> const S & { return config.*outer.*inner; },
            [outer, inner](Config &config) -> S & { return config.*outer.*inner; }};
}

template<typename S>
SectionSpec section(const char *path, const Place<S> &place, std::initializer_list<Key<S>> keys)
{
    SectionSpec spec;
    spec.path = QString::fromLatin1(path);
    for (const Key<S> &k : keys) {
        KeySpec bound = k.spec;
        bound.get = [read = place.read, get = k.get](const Config &config, qsizetype) {
            return get(read(config));
        };
        bound.set = [write = place.write,
                     set = k.set](Config &config, qsizetype, const QVariant &value) {
            set(write(config), value);
        };
        spec.keys.append(bound);
    }
    return spec;
}

template<typename E>
SectionSpec entries(const char *path,
                    QList<E> Config::*list,
                    const char *uniqueKey,
                    const char *noun,
                    std::initializer_list<Key<E>> keys)
{
    SectionSpec spec;
    spec.kind = SectionSpec::Kind::Array;
    spec.path = QString::fromLatin1(path);
    spec.uniqueKey = QString::fromLatin1(uniqueKey);
    spec.noun = QString::fromLatin1(noun);
    spec.count = [list](const Config &config) { return (config.*list).size(); };
    spec.append = [list](Config &config) {
        (config.*list).append(E{});
        return (config.*list).size() - 1;
    };
    spec.setLine = [list](Config &config, qsizetype entry, int line) {
        (config.*list)[entry].line = line;
    };
    spec.assign = [list](Config &config, const Config &from) { config.*list = from.*list; };
    for (const Key<E> &k : keys) {
        KeySpec bound = k.spec;
        bound.get = [list, get = k.get](const Config &config, qsizetype entry) {
            return get((config.*list).at(entry));
        };
        bound.set = [list, set = k.set](Config &config, qsizetype entry, const QVariant &value) {
            set((config.*list)[entry], value);
        };
        spec.keys.append(bound);
    }
    return spec;
}

// A section this version knows but refuses (none at present) is a SectionSpec with only its kind,
// path and `refusal` set.

SectionSpec serverSection()
{
    using S = ServerConfig;
    return section<S>(
        "server",
        at(&Config::server),
        {
            string<S>("host",
                      &S::host,
                      "Address to listen on; `\"0.0.0.0\"` is every IPv4 interface, `\"::\"` "
                      "every interface.")
                .rule(NonEmpty),
            integer<S>("port",
                       &S::port,
                       0,
                       65535,
                       "TCP port; `0` picks any free port (the bound port is logged)."),
            integer<S>("max_connections",
                       &S::maxConnections,
                       1,
                       NoUpperBound,
                       "Connections beyond this are refused; WebSocket upgrades get HTTP 503.")
                .appliedByServer(),
            integer<S>("workers",
                       &S::workers,
                       0,
                       64,
                       "I/O worker threads; `0` means one per CPU core."),
            integer<S>("shutdown_timeout",
                       &S::shutdownTimeout,
                       0,
                       MaxSeconds,
                       "Time to flush queued output and close connections on shutdown. "
                       "Publishes are refused (503) from its start, so every acknowledged one "
                       "is delivered.")
                .seconds(),
            string<S>("plugins_dir",
                      &S::pluginsDir,
                      "Extra directory searched for plugins; empty means only the built-in "
                      "plugin directory."),
            integer<S>("max_channels",
                       &S::maxChannels,
                       1,
                       NoUpperBound,
                       "Channels that may exist at once; a subscribe that would create one "
                       "more gets error 503.")
                .appliedByServer(),
            integer<S>("max_channels_per_connection",
                       &S::maxChannelsPerConnection,
                       1,
                       NoUpperBound,
                       "Channels one connection may be subscribed to at once; one more gets "
                       "error 429.")
                .appliedByServer(),
            stringList<S>("trusted_proxies",
                          &S::trustedProxies,
                          "Reverse proxies whose `X-Forwarded-For` names the client (for "
                          "per-address limits, logs and the admin view); every other peer's "
                          "header is ignored.")
                .rule(AddressRangeRule)
                .appliedByServer(),
            integer<S>("decision_timeout_ms",
                       &S::decisionTimeoutMs,
                       10,
                       60000,
                       "How long a module may take to answer a decision (authenticate, "
                       "message filter, request handler) before it counts as a reject. "
                       "Applies to asynchronous module answers.")
                .unit("milliseconds")
                .appliedByServer(),
            boolean<S>("watch_config",
                       &S::watchConfig,
                       "Reload the configuration when its file changes, as on `SIGHUP`: the "
                       "directory is watched (editors and deploy tools replace the file), "
                       "changes are debounced, an invalid file keeps the running "
                       "configuration.")
                .appliedByServer(),
        });
}

SectionSpec tlsSection()
{
    using T = TlsConfig;
    return section<T>(
        "server.tls",
        at(&Config::server, &ServerConfig::tls),
        {
            string<T>("cert",
                      &T::cert,
                      "PEM certificate file (the chain, leaf first); empty means no TLS. Set, "
                      "every route of the "
                      "port (WebSocket, `/status`, the admin API, HTTP routes) is served over "
                      "TLS only; a plain-HTTP request gets a 400 in clear text. The file is "
                      "watched: a renewed pair is used for new connections (docs/tls.md). "
                      "Setting or clearing it (TLS on or off) needs a restart.")
                .appliedByServer(),
            string<T>("key",
                      &T::key,
                      "PEM private key of `cert` (not encrypted); must match the certificate. "
                      "Watched like `cert`.")
                .appliedByServer(),
            string<T>("ca",
                      &T::ca,
                      "PEM CA certificates that client certificates must chain to "
                      "(`client_auth`).")
                .appliedByServer(),
            choice<T>("client_auth",
                      &T::clientAuth,
                      {"none", "require"},
                      "Client certificates (mutual TLS): `require` refuses a handshake without "
                      "a certificate that chains to `ca`.")
                .appliedByServer(),
            choice<T>("min_version", &T::minVersion, {"1.2", "1.3"}, "Oldest TLS version accepted.")
                .appliedByServer(),
        });
}

SectionSpec transportSection()
{
    return section<TransportConfig>(
        "transport",
        at(&Config::transport),
        {
            choice<TransportConfig>("default",
                                    &TransportConfig::defaultTransport,
                                    {"websocket"},
                                    "Transport of the client port. Only WebSocket is "
                                    "implemented in this version.")
                .planned("http", "the HTTP transport is planned, not implemented in this version"),
        });
}

SectionSpec webSocketSection()
{
    using W = WebSocketConfig;
    return section<W>(
        "transport.websocket",
        at(&Config::transport, &TransportConfig::websocket),
        {
            string<W>("path", &W::path, "HTTP path that accepts WebSocket upgrades.")
                .rule(PathRule),
            integer<W>("ping_interval",
                       &W::pingInterval,
                       0,
                       MaxSeconds,
                       "Time between pings to each client; `0` disables pings.")
                .seconds()
                .appliedByServer(),
            size<W>("max_message_size",
                    &W::maxMessageSize,
                    KiB,
                    GiB,
                    "Largest message accepted, text or MTW frame; a larger message closes the "
                    "connection with 1009.")
                .appliedByServer(),
            integer<W>("handshake_timeout",
                       &W::handshakeTimeout,
                       1,
                       MaxSeconds,
                       "Time a client has to complete the HTTP upgrade.")
                .seconds()
                .appliedByServer(),
            size<W>("max_queue_size",
                    &W::maxQueueSize,
                    KiB,
                    NoSizeLimit,
                    "Outbound bytes queued per connection, counting every byte (fan-out, "
                    "replies, history, pongs); a slower consumer is disconnected. One message "
                    "up to `max_message_size` always fits into an empty queue; a reply larger "
                    "than both gets error 413.")
                .appliedByServer(),
            stringList<W>("allowed_origins",
                          &W::allowedOrigins,
                          "`Origin` header values accepted for upgrades; empty accepts every "
                          "origin.")
                .appliedByServer(),
            integer<W>("max_pending_handshakes_per_ip",
                       &W::maxPendingHandshakesPerIp,
                       1,
                       NoUpperBound,
                       "Upgrades in progress per client IP address (a slowloris guard).")
                .appliedByServer(),
            integer<W>("max_protocol_errors",
                       &W::maxProtocolErrors,
                       1,
                       NoUpperBound,
                       "Malformed messages a connection may send before it is closed with "
                       "1008.")
                .appliedByServer(),
            integer<W>("rate_limit",
                       &W::rateLimit,
                       0,
                       NoUpperBound,
                       "Messages per second one connection may send (token bucket); over it "
                       "each message gets error 429, and a connection that sends `rate_burst` "
                       "more without waiting is closed with 1008. `0` turns the limit off.")
                .unit("messages/s")
                .appliedByServer(),
            integer<W>("rate_burst",
                       &W::rateBurst,
                       1,
                       NoUpperBound,
                       "Messages a connection may send at once before `rate_limit` applies.")
                .appliedByServer(),
        });
}

SectionSpec codecSection()
{
    return section<CodecConfig>(
        "codec",
        at(&Config::codec),
        {
            choice<CodecConfig>("default",
                                &CodecConfig::defaultCodec,
                                {"json", "binary"},
                                "Codec of channels that do not choose one (no `[[channels]]` "
                                "entry, or one without `codec`); `\"binary\"` delivers their "
                                "fan-out as MTW binary frames to every member.")
                .appliedByServer(),
            stringList<CodecConfig>("binary_channels",
                                    &CodecConfig::binaryChannels,
                                    "Channels (names or patterns) delivered with the binary "
                                    "codec, whatever their entry says.")
                .appliedByServer(),
        });
}

SectionSpec modulesSection()
{
    using M = ModuleConfig;
    return entries<M>(
        "modules",
        &Config::modules,
        "",
        "module",
        {
            string<M>("name", &M::name, "Module id: the plugin that provides it.").required(),
            string<M>("version", &M::version, "Accepted version of the module; empty accepts any."),
            boolean<M>("enabled", &M::enabled, "Load the module."),
            boolean<M>("required",
                       &M::required,
                       "A failure to load or start this module stops the server."),
            table<M>("config",
                     &M::config,
                     "The module's own settings, passed to it as a map. Not checked for "
                     "unknown keys."),
        });
}

SectionSpec channelsSection()
{
    using C = ChannelConfig;
    return entries<C>(
        "channels",
        &Config::channels,
        "name",
        "channel",
        {
            string<C>("name",
                      &C::name,
                      "Exact channel name or pattern: dot-separated segments, `*` matches one "
                      "segment, a final `**` one or more. Names must be unique.")
                .rule(ChannelNameRule)
                .required()
                .appliedByServer(),
            boolean<C>("auth", &C::auth, "Subscribing requires an authenticated connection.")
                .appliedByServer(),
            integer<C>("max_members",
                       &C::maxMembers,
                       0,
                       NoUpperBound,
                       "Most subscribers at once; `0` means unlimited.")
                .appliedByServer(),
            integer<C>("history", &C::history, 0, 100000, "Messages kept for replay.")
                .appliedByServer(),
            integer<C>("history_ttl",
                       &C::historyTtl,
                       0,
                       MaxSeconds,
                       "Time a message stays in history; `0` keeps it until pushed out. An "
                       "unconfigured channel without members is removed once its history has "
                       "expired and it has been quiet this long.")
                .seconds()
                .appliedByServer(),
            size<C>("history_bytes",
                    &C::historyBytes,
                    0,
                    GiB,
                    "Bytes of history kept; the oldest messages go first, and a message "
                    "larger than this is not kept. `0` means no byte bound.")
                .appliedByServer(),
            boolean<C>("presence", &C::presence, "Send join/leave events to members.")
                .appliedByServer(),
            choice<C>("codec",
                      &C::codec,
                      {"json", "binary"},
                      "Codec of this channel's fan-out; without it the channel takes "
                      "`codec.default`.")
                .emptyMeans("`codec.default`")
                .appliedByServer(),
        });
}

SectionSpec kvSection()
{
    using B = KvBucketConfig;
    constexpr qint64 MaxTtl = 365 * MaxSeconds;
    return entries<B>(
        "kv",
        &Config::kv,
        "name",
        "bucket",
        {
            string<B>("name",
                      &B::name,
                      "Key-value bucket name or pattern (as channel names: `*` one segment, a "
                      "final `**` one or more); a bucket no entry names or matches does not "
                      "exist. Changes are published on `$kv.<name>` (docs/kv.md).")
                .rule(KvBucketNameRule)
                .required(),
            boolean<B>("auth",
                       &B::auth,
                       "Using the bucket and watching `$kv.<name>` require an authenticated "
                       "connection."),
            size<B>("max_value_size",
                    &B::maxValueSize,
                    1,
                    10 * 1000 * 1000,
                    "Largest value in bytes (Json compact UTF-8, Text UTF-8, Binary bytes); a "
                    "larger put gets 413."),
            integer<B>("max_keys",
                       &B::maxKeys,
                       1,
                       10 * 1000 * 1000,
                       "Entries the bucket holds at once; a put of one more gets 507."),
            integer<B>("ttl",
                       &B::ttl,
                       0,
                       MaxTtl,
                       "Time an entry lives when its put gives no `metadata.ttl`; `0` means no "
                       "expiry.")
                .seconds(),
        });
}

bool isAgentName(const QString &name)
{
    if (name.isEmpty() || name.size() > 64)
        return false;
    for (const QChar c : name) {
        if (!(c.isLetterOrNumber() || c == u'-' || c == u'_' || c == u'.'))
            return false;
    }
    return true;
}

constexpr StringRule AgentNameRule{&isAgentName,
                                   "a name of 1 to 64 letters, digits, \"-\", \"_\" or \".\"",
                                   "agent or tool name"};

SectionSpec agentsSection()
{
    using A = AgentConfig;
    return entries<A>(
        "agents",
        &Config::agents,
        "name",
        "agent",
        {
            string<A>("name",
                      &A::name,
                      "What `agent_task`'s `metadata.agent` names; its answers on channels "
                      "come `from` `agent:<name>`.")
                .rule(AgentNameRule)
                .required(),
            string<A>("provider",
                      &A::provider,
                      "The provider module that runs it: a provider name (`anthropic`, "
                      "`openai`) or the module id (`mtw-ai-anthropic`). A provider no "
                      "started module registered answers 503.")
                .required(),
            string<A>("model", &A::model, "Model name sent to the provider.")
                .emptyMeans("the provider's `default_model`"),
            string<A>("system",
                      &A::system,
                      "System prompt of every task (a task's "
                      "`metadata.system_prompt` replaces it)."),
            stringList<A>("tools",
                          &A::tools,
                          "Tools it may call: built-in (`channel_history`, `channel_presence`, "
                          "`kv_get`), a module's, or else a client tool the task's client "
                          "serves (docs/agents.md#tools).")
                .rule(AgentNameRule),
            stringList<A>("channels",
                          &A::channels,
                          "Channel names or patterns it answers on: a client's publish there "
                          "is a task, answered to the channel's subscribers.")
                .rule(ChannelNameRule),
            integer<A>("max_concurrent", &A::maxConcurrent, 1, 1000, "Tasks running at once."),
            integer<A>("max_queued",
                       &A::maxQueued,
                       0,
                       100000,
                       "Tasks waiting for a running slot; one more is refused with 429."),
            integer<A>("max_tool_rounds",
                       &A::maxToolRounds,
                       0,
                       50,
                       "Provider round trips with tool results in one task; the model's "
                       "next tool call after that ends the task with its text so far."),
            integer<A>("context_messages",
                       &A::contextMessages,
                       0,
                       1000,
                       "Recent channel history messages sent as the conversation of a "
                       "channel task."),
            integer<A>("max_tokens",
                       &A::maxTokens,
                       0,
                       1000000,
                       "Longest answer in tokens; `0` means the provider's `max_tokens`."),
            integer<A>("tool_timeout",
                       &A::toolTimeout,
                       1,
                       MaxSeconds,
                       "Time a tool call has to be answered; then the model gets an error "
                       "result.")
                .seconds(),
        });
}

SectionSpec orchestratorSection()
{
    using O = OrchestratorConfig;
    return section<O>(
        "orchestrator",
        at(&Config::orchestrator),
        {
            choice<O>("strategy",
                      &O::strategy,
                      {"channel-based", "round-robin", "fan-out", "pipeline"},
                      "Which agents answer a task: `channel-based` the first matching agent, "
                      "`round-robin` one of the matching agents in turn, `fan-out` every "
                      "matching agent, `pipeline` the agents of `pipeline` one after the "
                      "other (docs/agents.md#orchestrator)."),
            stringList<O>("pipeline",
                          &O::pipeline,
                          "Strategy `pipeline`: the `[[agents]]` names, in order; each one's "
                          "answer is the next one's prompt and the last one's is streamed. "
                          "Required with that strategy, refused with any other.")
                .rule(AgentNameRule),
        });
}

SectionSpec loggingSection()
{
    return section<LoggingConfig>(
        "logging",
        at(&Config::logging),
        {
            choice<LoggingConfig>("level",
                                  &LoggingConfig::level,
                                  {"debug", "info", "warning", "error"},
                                  "Lowest level written for the `mtw.*` categories.")
                .live(&applyLoggingRules),
            choice<LoggingConfig>("format",
                                  &LoggingConfig::format,
                                  {"text", "json"},
                                  "Line format of mtwserver's log; `json` writes one object "
                                  "per line."),
            string<LoggingConfig>("rules",
                                  &LoggingConfig::rules,
                                  "Extra `QLoggingCategory` rules, e.g. "
                                  "`\"mtw.channels.debug=true\"`.")
                .live(&applyLoggingRules),
        });
}

SectionSpec adminSection()
{
    using A = AdminConfig;
    return section<A>(
        "admin",
        at(&Config::admin),
        {
            boolean<A>("enabled", &A::enabled, "Serve the admin API that `mtwadmin` attaches to."),
            string<A>("path", &A::path, "WebSocket path of the admin API (same port as clients).")
                .rule(PathRule),
            string<A>("token",
                      &A::token,
                      "Token admin clients present in an `Authorization: Bearer` header "
                      "(never in the URL). Empty: the server generates a random one at each "
                      "start (`mtwserver --admin-token` prints it). Masked by "
                      "`--print-config`.")
                .secret(),
            string<A>("token_file",
                      &A::tokenFile,
                      "Where `mtwserver` writes a generated admin token (mode 0600); empty "
                      "means `$XDG_RUNTIME_DIR/mtwserver/admin-<port>.token`."),
            stringList<A>("allowed_origins",
                          &A::allowedOrigins,
                          "Browser `Origin`s allowed to use the admin API; a request with any "
                          "other `Origin` header is refused with 403 (tools send none)."),
        });
}

SectionSpec httpSection()
{
    using H = HttpConfig;
    return section<H>(
        "transport.http",
        at(&Config::transport, &TransportConfig::http),
        {
            boolean<H>("enabled",
                       &H::enabled,
                       "Serve the server API for backends, `POST <prefix>/<command>` on the "
                       "client port ([http-api](http-api.md))."),
            string<H>("prefix", &H::prefix, "Path under which the server API's commands live.")
                .rule(PathRule),
            string<H>("api_key",
                      &H::apiKey,
                      "Key callers send as `Authorization: apikey <key>` or `Bearer <key>`. "
                      "Empty: every call is refused with 401 unless `insecure = true`. Masked "
                      "by `--print-config`.")
                .secret()
                .appliedByServer(),
            boolean<H>("insecure",
                       &H::insecure,
                       "With no `api_key`, serve every caller without a key (a warning at "
                       "start). For development only.")
                .appliedByServer(),
            size<H>("max_body_size",
                    &H::maxBodySize,
                    1,
                    GiB,
                    "Largest request body the server API reads; a larger one gets 413.")
                .appliedByServer(),
            integer<H>("keepalive_timeout",
                       &H::keepAliveTimeout,
                       1,
                       MaxSeconds,
                       "Time an idle keep-alive HTTP connection stays open between requests.")
                .seconds()
                .appliedByServer(),
        });
}

SectionSpec sseSection()
{
    using E = SseConfig;
    return section<E>(
        "transport.sse",
        at(&Config::transport, &TransportConfig::sse),
        {
            boolean<E>("enabled",
                       &E::enabled,
                       "Serve Server-Sent Events to clients: `GET <prefix>/events` and "
                       "`POST <prefix>/events/publish` under `transport.http.prefix` "
                       "([http-api](http-api.md#server-sent-events)); independent of "
                       "`transport.http.enabled`."),
            integer<E>("keepalive_interval",
                       &E::keepAliveInterval,
                       1,
                       MaxSeconds,
                       "Time between `: ping` comments written to every open stream, so that "
                       "proxies keep it open and a dead client is found.")
                .seconds(),
            integer<E>("retry_ms",
                       &E::retryMs,
                       0,
                       3'600'000,
                       "The stream's `retry:` field: how long a browser's `EventSource` waits "
                       "before it reconnects.")
                .unit("milliseconds"),
            integer<E>("max_streams_per_ip",
                       &E::maxStreamsPerIp,
                       0,
                       10'000'000,
                       "Open streams per client address (behind a trusted proxy: per "
                       "`X-Forwarded-For` client); more get 429. `0` means no limit."),
        });
}

SectionSpec metricsSection()
{
    using M = MetricsConfig;
    return section<M>(
        "metrics",
        at(&Config::metrics),
        {
            boolean<M>("enabled",
                       &M::enabled,
                       "Serve the Prometheus metrics on `path` ([metrics](metrics.md))."),
            string<M>("path", &M::path, "HTTP path of the metrics (same port as clients).")
                .rule(PathRule),
        });
}

// The sections in file order.
QList<SectionSpec> declareSections()
{
    return {
        serverSection(),
        tlsSection(),
        transportSection(),
        webSocketSection(),
        httpSection(),
        sseSection(),
        codecSection(),
        modulesSection(),
        agentsSection(),
        orchestratorSection(),
        channelsSection(),
        kvSection(),
        loggingSection(),
        adminSection(),
        metricsSection(),
    };
}

} // namespace

const QList<SectionSpec> &schemaSections()
{
    static const QList<SectionSpec> sections = declareSections();
    return sections;
}

bool SectionSpec::entriesLive() const
{
    return kind == Kind::Array && !keys.isEmpty()
        && std::all_of(keys.cbegin(), keys.cend(), [](const KeySpec &key) {
               return key.apply == ConfigApply::Live;
           });
}

QString SectionSpec::header() const
{
    return kind == Kind::Array ? u"[["_s + path + u"]]"_s : u"["_s + path + u"]"_s;
}

QString SectionSpec::keyPath(const KeySpec &key, qsizetype entry) const
{
    if (kind != Kind::Array)
        return path + QLatin1Char('.') + key.name;
    const QString index = entry < 0 ? QString() : QString::number(entry);
    return path + QLatin1Char('[') + index + u"]."_s + key.name;
}

} // namespace Mtw::Internal
