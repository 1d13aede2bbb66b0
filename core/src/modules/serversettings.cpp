// SPDX-License-Identifier: MIT
#include "modules/serversettings_p.h"
#include "modules/sharedvalue_p.h"

#include <algorithm>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace Internal {

ServerSettings ServerSettingsPrivate::fromConfig(const Config &config)
{
    ServerSettings settings;
    QHash<QString, QVariant> &v = settings.d->values;
    const ServerConfig &server = config.server;
    v.insert(u"server.host"_s, server.host);
    v.insert(u"server.port"_s, server.port);
    v.insert(u"server.max_connections"_s, server.maxConnections);
    v.insert(u"server.workers"_s, server.workers);
    v.insert(u"server.shutdown_timeout"_s, server.shutdownTimeout);
    v.insert(u"server.plugins_dir"_s, server.pluginsDir);
    v.insert(u"server.max_channels"_s, server.maxChannels);
    v.insert(u"server.max_channels_per_connection"_s, server.maxChannelsPerConnection);
    v.insert(u"server.trusted_proxies"_s, server.trustedProxies);

    const TransportConfig &transport = config.transport;
    const WebSocketConfig &ws = transport.websocket;
    v.insert(u"transport.default"_s, transport.defaultTransport);
    v.insert(u"transport.websocket.path"_s, ws.path);
    v.insert(u"transport.websocket.ping_interval"_s, ws.pingInterval);
    v.insert(u"transport.websocket.max_message_size"_s, ws.maxMessageSize);
    v.insert(u"transport.websocket.handshake_timeout"_s, ws.handshakeTimeout);
    v.insert(u"transport.websocket.max_queue_size"_s, ws.maxQueueSize);
    v.insert(u"transport.websocket.allowed_origins"_s, ws.allowedOrigins);
    v.insert(u"transport.websocket.max_pending_handshakes_per_ip"_s, ws.maxPendingHandshakesPerIp);
    v.insert(u"transport.websocket.max_protocol_errors"_s, ws.maxProtocolErrors);
    v.insert(u"transport.websocket.rate_limit"_s, ws.rateLimit);
    v.insert(u"transport.websocket.rate_burst"_s, ws.rateBurst);
    v.insert(u"transport.http.enabled"_s, transport.http.enabled);
    v.insert(u"transport.http.prefix"_s, transport.http.prefix);

    v.insert(u"codec.default"_s, config.codec.defaultCodec);
    v.insert(u"codec.binary_channels"_s, config.codec.binaryChannels);
    v.insert(u"orchestrator.strategy"_s, config.orchestrator.strategy);
    v.insert(u"logging.level"_s, config.logging.level);
    v.insert(u"logging.format"_s, config.logging.format);
    v.insert(u"logging.rules"_s, config.logging.rules);
    // admin.token and admin.token_file stay out: a module has no business with the admin secret.
    v.insert(u"admin.enabled"_s, config.admin.enabled);
    v.insert(u"admin.path"_s, config.admin.path);
    v.insert(u"admin.allowed_origins"_s, config.admin.allowedOrigins);
    return settings;
}

} // namespace Internal

MTW_DEFINE_SHARED_VALUE(ServerSettings)

QVariant ServerSettings::value(QStringView dottedKey) const
{
    return d->values.value(dottedKey.toString());
}

bool ServerSettings::contains(QStringView dottedKey) const
{
    return d->values.contains(dottedKey.toString());
}

QStringList ServerSettings::keys() const
{
    QStringList keys = d->values.keys();
    std::sort(keys.begin(), keys.end());
    return keys;
}

QString ServerSettings::host() const
{
    return value(u"server.host").toString();
}

int ServerSettings::port() const
{
    return value(u"server.port").toInt();
}

int ServerSettings::workers() const
{
    return value(u"server.workers").toInt();
}

} // namespace Mtw
