// SPDX-License-Identifier: MIT
// Config → TOML that parseConfig() reads back to an equal Config.

#include "config_p.h"

#include <algorithm>
#include <charconv>

using namespace Qt::Literals::StringLiterals;

namespace Mtw {

namespace {

// A TOML basic string, without the `${` escaping that values need.
QString basicString(const QString &text)
{
    QString out = u"\""_s;
    for (const QChar c : text) {
        switch (c.unicode()) {
        case u'"':
            out += u"\\\""_s;
            break;
        case u'\\':
            out += u"\\\\"_s;
            break;
        case u'\b':
            out += u"\\b"_s;
            break;
        case u'\t':
            out += u"\\t"_s;
            break;
        case u'\n':
            out += u"\\n"_s;
            break;
        case u'\f':
            out += u"\\f"_s;
            break;
        case u'\r':
            out += u"\\r"_s;
            break;
        default:
            if (c.unicode() < 0x20 || c.unicode() == 0x7f)
                out += u"\\u%1"_s.arg(c.unicode(), 4, 16, QLatin1Char('0'));
            else
                out += c;
        }
    }
    return out + QLatin1Char('"');
}

// String values are ${VAR}-expanded when read back, so a literal `${` is written as `$${`.
QString stringValue(const QString &text)
{
    QString escaped = text;
    return basicString(escaped.replace(u"${"_s, u"$${"_s));
}

QString key(const QString &name)
{
    const bool bare = !name.isEmpty() && std::all_of(name.begin(), name.end(), [](QChar c) {
        return (c >= u'A' && c <= u'Z') || (c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9')
            || c == u'_' || c == u'-';
    });
    return bare ? name : basicString(name);
}

QString stringList(const QStringList &list)
{
    QStringList items;
    for (const QString &item : list)
        items.append(stringValue(item));
    return QLatin1Char('[') + items.join(u", "_s) + QLatin1Char(']');
}

QString boolean(bool value)
{
    return value ? u"true"_s : u"false"_s;
}

QString floating(double value)
{
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    QString text = QString::fromLatin1(buffer, result.ptr - buffer);
    if (!text.contains(QLatin1Char('.')) && !text.contains(QLatin1Char('e'))
        && !text.contains(u"inf"_s) && !text.contains(u"nan"_s)) {
        text += u".0"_s; // 2.0 must stay a float
    }
    return text;
}

QString size(qint64 bytes)
{
    const QString text = Internal::formatSize(bytes);
    return text == QString::number(bytes) ? text : stringValue(text);
}

// `maskSecrets`: mask under secret-looking keys; `masked`: this value is under one.
QString variantValue(const QVariant &value, bool maskSecrets, bool masked);

QString inlineTable(const QVariantMap &map, bool maskSecrets, bool masked)
{
    QStringList items;
    for (auto it = map.cbegin(); it != map.cend(); ++it) {
        const bool secret = masked || (maskSecrets && Internal::isSecretKey(it.key()));
        items.append(key(it.key()) + u" = "_s + variantValue(it.value(), maskSecrets, secret));
    }
    return items.isEmpty() ? u"{}"_s : u"{ "_s + items.join(u", "_s) + u" }"_s;
}

QString variantValue(const QVariant &value, bool maskSecrets, bool masked)
{
    switch (value.typeId()) {
    case QMetaType::Bool:
        return boolean(value.toBool());
    case QMetaType::Int:
    case QMetaType::UInt:
    case QMetaType::LongLong:
    case QMetaType::ULongLong:
    case QMetaType::Short:
    case QMetaType::UShort:
    case QMetaType::Long:
    case QMetaType::ULong:
        return QString::number(value.toLongLong());
    case QMetaType::Double:
    case QMetaType::Float:
        return floating(value.toDouble());
    case QMetaType::QVariantMap:
    case QMetaType::QVariantHash:
        return inlineTable(value.toMap(), maskSecrets, masked);
    case QMetaType::QVariantList:
    case QMetaType::QStringList: {
        QStringList items;
        for (const QVariant &item : value.toList())
            items.append(variantValue(item, maskSecrets, masked));
        return QLatin1Char('[') + items.join(u", "_s) + QLatin1Char(']');
    }
    default:
        return masked ? stringValue(u"***"_s) : stringValue(value.toString());
    }
}

class Writer
{
public:
    void table(const QString &header)
    {
        if (!m_out.isEmpty())
            m_out += QLatin1Char('\n');
        m_out += header + QLatin1Char('\n');
    }
    void value(const char *name, const QString &text)
    {
        m_out += QLatin1String(name) + u" = "_s + text + QLatin1Char('\n');
    }
    void value(const char *name, int number) { value(name, QString::number(number)); }
    void flag(const char *name, bool on) { value(name, boolean(on)); }
    void string(const char *name, const QString &text) { value(name, stringValue(text)); }
    QString text() const { return m_out; }

private:
    QString m_out;
};

void writeServer(Writer &w, const ServerConfig &server)
{
    w.table(u"[server]"_s);
    w.string("host", server.host);
    w.value("port", server.port);
    w.value("max_connections", server.maxConnections);
    w.value("workers", server.workers);
    w.value("shutdown_timeout", server.shutdownTimeout);
    w.string("plugins_dir", server.pluginsDir);
    w.value("max_channels", server.maxChannels);
    w.value("max_channels_per_connection", server.maxChannelsPerConnection);
    w.value("trusted_proxies", stringList(server.trustedProxies));
}

void writeTransport(Writer &w, const TransportConfig &transport)
{
    w.table(u"[transport]"_s);
    w.string("default", transport.defaultTransport);
    const WebSocketConfig &ws = transport.websocket;
    w.table(u"[transport.websocket]"_s);
    w.string("path", ws.path);
    w.value("ping_interval", ws.pingInterval);
    w.value("max_message_size", size(ws.maxMessageSize));
    w.value("handshake_timeout", ws.handshakeTimeout);
    w.value("max_queue_size", size(ws.maxQueueSize));
    w.value("allowed_origins", stringList(ws.allowedOrigins));
    w.value("max_pending_handshakes_per_ip", ws.maxPendingHandshakesPerIp);
    w.value("max_protocol_errors", ws.maxProtocolErrors);
    w.value("rate_limit", ws.rateLimit);
    w.value("rate_burst", ws.rateBurst);
    w.table(u"[transport.http]"_s);
    w.flag("enabled", transport.http.enabled);
    w.string("prefix", transport.http.prefix);
}

void writeModules(Writer &w, const QList<ModuleConfig> &modules, bool maskSecrets)
{
    for (const ModuleConfig &module : modules) {
        w.table(u"[[modules]]"_s);
        w.string("name", module.name);
        w.string("version", module.version);
        w.flag("enabled", module.enabled);
        w.flag("required", module.required);
        w.value("config", inlineTable(module.config, maskSecrets, false));
    }
}

void writeAgents(Writer &w, const QList<AgentConfig> &agents)
{
    for (const AgentConfig &agent : agents) {
        w.table(u"[[agents]]"_s);
        w.string("name", agent.name);
        w.string("provider", agent.provider);
        w.string("model", agent.model);
        w.string("system", agent.system);
        w.value("tools", stringList(agent.tools));
        w.value("channels", stringList(agent.channels));
        w.value("max_concurrent", agent.maxConcurrent);
    }
}

void writeChannels(Writer &w, const QList<ChannelConfig> &channels)
{
    for (const ChannelConfig &channel : channels) {
        w.table(u"[[channels]]"_s);
        w.string("name", channel.name);
        w.flag("auth", channel.auth);
        w.value("max_members", channel.maxMembers);
        w.value("history", channel.history);
        w.value("history_ttl", channel.historyTtl);
        w.value("history_bytes", size(channel.historyBytes));
        w.flag("presence", channel.presence);
        w.string("codec", channel.codec);
    }
}

} // namespace

namespace Internal {

bool isSecretKey(const QString &name)
{
    static const QStringList parts{u"secret"_s,
                                   u"token"_s,
                                   u"password"_s,
                                   u"passwd"_s,
                                   u"api_key"_s,
                                   u"apikey"_s,
                                   u"private_key"_s};
    const QString lower = name.toLower();
    if (lower == u"key"_s)
        return true;
    return std::any_of(parts.begin(), parts.end(), [&lower](const QString &part) {
        return lower.contains(part);
    });
}

} // namespace Internal

QString Config::toToml(bool maskSecrets) const
{
    Writer w;
    writeServer(w, server);
    writeTransport(w, transport);
    w.table(u"[codec]"_s);
    w.string("default", codec.defaultCodec);
    w.value("binary_channels", stringList(codec.binaryChannels));
    writeModules(w, modules, maskSecrets);
    writeAgents(w, agents);
    w.table(u"[orchestrator]"_s);
    w.string("strategy", orchestrator.strategy);
    writeChannels(w, channels);
    w.table(u"[logging]"_s);
    w.string("level", logging.level);
    w.string("format", logging.format);
    w.string("rules", logging.rules);
    w.table(u"[admin]"_s);
    w.value("enabled", admin.enabled ? u"true"_s : u"false"_s);
    w.string("path", admin.path);
    w.string("token", maskSecrets && !admin.token.isEmpty() ? u"***"_s : admin.token);
    w.string("token_file", admin.tokenFile);
    w.value("allowed_origins", stringList(admin.allowedOrigins));
    return w.text();
}

} // namespace Mtw
