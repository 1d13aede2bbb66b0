// SPDX-License-Identifier: MIT
// mtw.toml → Config: the schema. Each section reader names its keys, their types and limits;
// TableReader does the reporting.

#include "config_p.h"
#include "configreader_p.h"

#include <QHash>
#include <QHostAddress>

using namespace Qt::Literals::StringLiterals;

namespace Mtw::Internal {

namespace {

constexpr qint64 KiB = 1024;
constexpr qint64 GiB = 1024 * 1024 * 1024;
constexpr qint64 NoSizeLimit = std::numeric_limits<qint64>::max();
// Durations are seconds and become milliseconds in timers: a day keeps every product in range.
constexpr qint64 MaxSeconds = 86400;

constexpr StringRule AddressRangeRule{
    &isAddressRange,
    "an IP address or a CIDR range such as \"10.0.0.0/8\" or \"::1\""};

constexpr StringRule ChannelNameRule{
    &isChannelPattern,
    "a channel name or pattern (dot-separated segments, \"*\" for one segment, "
    "a final \"**\" for the rest)"};

void readServer(TableReader &reader, ServerConfig &server)
{
    reader.string("host", server.host, NonEmpty);
    reader.integer("port", server.port, 0, 65535);
    reader.integer("max_connections", server.maxConnections, 1, NoUpperBound);
    reader.integer("workers", server.workers, 0, 64);
    reader.integer("shutdown_timeout", server.shutdownTimeout, 0, MaxSeconds);
    reader.string("plugins_dir", server.pluginsDir);
    reader.integer("max_channels", server.maxChannels, 1, NoUpperBound);
    reader.integer("max_channels_per_connection", server.maxChannelsPerConnection, 1, NoUpperBound);
    reader.stringList("trusted_proxies", server.trustedProxies, AddressRangeRule);
}

void readWebSocket(TableReader &reader, WebSocketConfig &ws)
{
    reader.string("path", ws.path, PathRule);
    reader.integer("ping_interval", ws.pingInterval, 0, MaxSeconds);
    reader.size("max_message_size", ws.maxMessageSize, KiB, GiB);
    reader.integer("handshake_timeout", ws.handshakeTimeout, 1, MaxSeconds);
    reader.size("max_queue_size", ws.maxQueueSize, KiB, NoSizeLimit);
    reader.stringList("allowed_origins", ws.allowedOrigins);
    reader.integer("max_pending_handshakes_per_ip", ws.maxPendingHandshakesPerIp, 1, NoUpperBound);
    reader.integer("max_protocol_errors", ws.maxProtocolErrors, 1, NoUpperBound);
    reader.integer("rate_limit", ws.rateLimit, 0, NoUpperBound);
    reader.integer("rate_burst", ws.rateBurst, 1, NoUpperBound);
}

void readTransport(ConfigContext &context, TableReader &reader, TransportConfig &transport)
{
    reader.choice("default", transport.defaultTransport, {u"websocket"_s, u"http"_s});
    if (const auto *table = reader.table("websocket")) {
        TableReader ws(context, *table, joinKey(reader.path(), "websocket"));
        readWebSocket(ws, transport.websocket);
        ws.finish();
    }
    if (const auto *table = reader.table("http")) {
        TableReader http(context, *table, joinKey(reader.path(), "http"));
        http.boolean("enabled", transport.http.enabled);
        http.string("prefix", transport.http.prefix, PathRule);
        http.finish();
    }
}

void readCodec(TableReader &reader, CodecConfig &codec)
{
    reader.choice("default", codec.defaultCodec, {u"json"_s, u"binary"_s});
    reader.stringList("binary_channels", codec.binaryChannels);
}

ModuleConfig readModule(ConfigContext &context, TableReader &reader)
{
    ModuleConfig module;
    module.line = reader.line();
    reader.requiredString("name", module.name);
    reader.string("version", module.version);
    reader.boolean("enabled", module.enabled);
    reader.boolean("required", module.required);
    // The module's own table: its keys are the module's business, so no unknown-key warnings.
    if (const auto *value = reader.node("config")) {
        const QString path = joinKey(reader.path(), "config");
        if (const auto *table = value->as_table())
            module.config = context.variantMap(*table, path);
        else
            context.expected(*value, path, u"a table"_s);
    }
    return module;
}

AgentConfig readAgent(TableReader &reader)
{
    AgentConfig agent;
    agent.line = reader.line();
    reader.requiredString("name", agent.name);
    reader.requiredString("provider", agent.provider);
    reader.string("model", agent.model);
    reader.string("system", agent.system);
    reader.stringList("tools", agent.tools);
    reader.stringList("channels", agent.channels);
    reader.integer("max_concurrent", agent.maxConcurrent, 1, NoUpperBound);
    return agent;
}

ChannelConfig readChannel(TableReader &reader)
{
    ChannelConfig channel;
    channel.line = reader.line();
    reader.requiredString("name", channel.name, ChannelNameRule);
    reader.boolean("auth", channel.auth);
    reader.integer("max_members", channel.maxMembers, 0, NoUpperBound);
    reader.integer("history", channel.history, 0, 100000);
    reader.integer("history_ttl", channel.historyTtl, 0, MaxSeconds);
    reader.size("history_bytes", channel.historyBytes, 0, GiB);
    reader.boolean("presence", channel.presence);
    reader.choice("codec", channel.codec, {u"json"_s, u"binary"_s});
    return channel;
}

// Reads every [[key]] table with `read` and appends the results to `out`.
template<typename T, typename Read>
void readTables(ConfigContext &context,
                TableReader &root,
                std::string_view key,
                QList<T> &out,
                Read read)
{
    for (const auto &element : root.tableArray(key)) {
        TableReader reader(context, *element.table, element.path);
        out.append(read(reader));
        reader.finish();
    }
}

// Reads the [[channels]] tables; a name defined twice is an error naming both lines.
void readChannels(ConfigContext &context, TableReader &root, QList<ChannelConfig> &channels)
{
    QHash<QString, int> firstLine;
    for (const auto &element : root.tableArray("channels")) {
        TableReader reader(context, *element.table, element.path);
        const ChannelConfig channel = readChannel(reader);
        reader.finish();
        channels.append(channel);
        if (channel.name.isEmpty()) // missing or invalid, already reported
            continue;
        if (!firstLine.contains(channel.name)) {
            firstLine.insert(channel.name, channel.line);
            continue;
        }
        context.error(element.table->get("name")->source(),
                      joinKey(element.path, "name"),
                      u"duplicate channel %1 (defined at lines %2 and %3)"_s.arg(
                          quoted(channel.name),
                          QString::number(firstLine.value(channel.name)),
                          QString::number(channel.line)));
    }
}

void readSections(ConfigContext &context, const toml::table &root, Config &config)
{
    TableReader reader(context, root, QString());
    if (const auto *table = reader.table("server")) {
        TableReader server(context, *table, u"server"_s);
        readServer(server, config.server);
        server.finish();
    }
    if (const auto *table = reader.table("transport")) {
        TableReader transport(context, *table, u"transport"_s);
        readTransport(context, transport, config.transport);
        transport.finish();
    }
    if (const auto *table = reader.table("codec")) {
        TableReader codec(context, *table, u"codec"_s);
        readCodec(codec, config.codec);
        codec.finish();
    }
    readTables(context, reader, "modules", config.modules, [&context](TableReader &r) {
        return readModule(context, r);
    });
    readTables(context, reader, "agents", config.agents, &readAgent);
    if (const auto *table = reader.table("orchestrator")) {
        TableReader orchestrator(context, *table, u"orchestrator"_s);
        orchestrator.choice("strategy",
                            config.orchestrator.strategy,
                            {u"channel-based"_s, u"pipeline"_s, u"fan-out"_s, u"round-robin"_s});
        orchestrator.finish();
    }
    readChannels(context, reader, config.channels);
    if (const auto *table = reader.table("logging")) {
        TableReader logging(context, *table, u"logging"_s);
        logging.choice("level",
                       config.logging.level,
                       {u"debug"_s, u"info"_s, u"warning"_s, u"error"_s});
        logging.choice("format", config.logging.format, {u"text"_s, u"json"_s});
        logging.string("rules", config.logging.rules);
        logging.finish();
    }
    if (const auto *table = reader.table("admin")) {
        TableReader admin(context, *table, u"admin"_s);
        admin.boolean("enabled", config.admin.enabled);
        admin.string("path", config.admin.path, PathRule);
        admin.string("token", config.admin.token);
        admin.string("token_file", config.admin.tokenFile);
        admin.stringList("allowed_origins", config.admin.allowedOrigins);
        admin.finish();
    }
    reader.finish();
}

// Bytes in the UTF-8 sequence that `lead` starts; 0 when it cannot start one.
int sequenceLength(uchar lead)
{
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0)
        return 2;
    if ((lead & 0xF0) == 0xE0)
        return 3;
    if ((lead & 0xF8) == 0xF0)
        return 4;
    return 0;
}

// Offset of the first byte that does not start a valid UTF-8 sequence, or -1. toml++ checks too, but
// reports the character before the bad byte.
qsizetype firstInvalidUtf8(const QByteArray &bytes)
{
    static constexpr char32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000}; // overlong below these
    const auto *data = reinterpret_cast<const uchar *>(bytes.constData());
    const qsizetype size = bytes.size();
    for (qsizetype i = 0; i < size;) {
        const int length = sequenceLength(data[i]);
        if (length == 0 || i + length > size)
            return i;
        char32_t cp = data[i] & (0x7F >> length);
        for (int k = 1; k < length; ++k) {
            if ((data[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (data[i + k] & 0x3F);
        }
        if (cp < minimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += length;
    }
    return -1;
}

ConfigDiagnostic invalidUtf8(const QByteArray &bytes, qsizetype offset, const QString &fileName)
{
    const qsizetype lineStart = bytes.lastIndexOf('\n', offset - 1) + 1; // 0 when none
    int column = 1;
    for (qsizetype i = lineStart; i < offset; ++i) {
        if ((uchar(bytes[i]) & 0xC0) != 0x80) // count characters, not continuation bytes
            ++column;
    }
    ConfigDiagnostic diagnostic;
    diagnostic.file = fileName;
    diagnostic.line = int(bytes.left(offset).count('\n')) + 1;
    diagnostic.column = column;
    diagnostic.message =
        u"not valid UTF-8 (byte 0x%1)"_s.arg(uchar(bytes[offset]), 2, 16, QLatin1Char('0'));
    return diagnostic;
}

} // namespace

bool isAddressRange(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.contains(QLatin1Char('/')))
        return QHostAddress::parseSubnet(trimmed).second >= 0;
    return !QHostAddress(trimmed).isNull();
}

bool isChannelPattern(const QString &name)
{
    const QStringList segments = name.split(QLatin1Char('.'));
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const QString &segment = segments[i];
        if (segment.isEmpty())
            return false;
        if (segment == u"*"_s || (segment == u"**"_s && i == segments.size() - 1))
            continue;
        if (segment.contains(QLatin1Char('*')))
            return false;
    }
    return true;
}

ConfigLoadResult
parseConfigUtf8(const QByteArray &utf8, const QString &fileName, const QProcessEnvironment &env)
{
    ConfigLoadResult result;
    if (const qsizetype bad = firstInvalidUtf8(utf8); bad >= 0) {
        result.diagnostics.append(invalidUtf8(utf8, bad, fileName));
        return result;
    }
    toml::table root;
    try {
        root = toml::parse(std::string_view(utf8.constData(), std::size_t(utf8.size())));
    } catch (const toml::parse_error &error) {
        // toml++ stops at the first syntax error.
        ConfigDiagnostic diagnostic;
        diagnostic.file = fileName;
        diagnostic.line = int(error.source().begin.line);
        diagnostic.column = int(error.source().begin.column);
        const std::string_view description = error.description();
        diagnostic.message = QString::fromUtf8(description.data(), qsizetype(description.size()));
        result.diagnostics.append(diagnostic);
        return result;
    }
    ConfigContext context(fileName, env);
    readSections(context, root, result.config);
    result.diagnostics = context.takeDiagnostics();
    return result;
}

} // namespace Mtw::Internal

namespace Mtw {

ConfigLoadResult
parseConfig(const QString &text, const QString &fileName, const QProcessEnvironment &env)
{
    return Internal::parseConfigUtf8(text.toUtf8(), fileName, env);
}

} // namespace Mtw
