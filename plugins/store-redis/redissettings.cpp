// SPDX-License-Identifier: MIT
#include "redissettings.h"

#include <QStringList>
#include <QUrl>

namespace Mtw::StoreRedis {

using namespace Qt::StringLiterals;

namespace {

const QStringList &knownKeys()
{
    static const QStringList keys{u"url"_s,
                                  u"urls"_s,
                                  u"prefix"_s,
                                  u"timeout_ms"_s,
                                  u"heartbeat_ms"_s,
                                  u"node_ttl_ms"_s,
                                  u"max_queued"_s,
                                  u"meta_ttl_s"_s,
                                  u"reconnect_max_ms"_s};
    return keys;
}

tl::unexpected<Error> configError(const QString &message)
{
    return tl::unexpected(Error{500, u"mtw-store-redis: "_s + message});
}

Result<qint64> integerIn(const QVariantMap &config,
                         const QString &key,
                         qint64 fallback,
                         qint64 minimum,
                         qint64 maximum)
{
    const auto it = config.constFind(key);
    if (it == config.cend())
        return fallback;
    const int type = it->typeId();
    if (type != QMetaType::LongLong && type != QMetaType::Int && type != QMetaType::UInt
        && type != QMetaType::ULongLong) {
        return configError(u"config key '%1' must be an integer, not %2"_s.arg(
            key,
            QString::fromLatin1(it->typeName())));
    }
    const qint64 value = it->toLongLong();
    if (value < minimum || value > maximum)
        return configError(u"config key '%1' must be between %2 and %3, not %4"_s.arg(key)
                               .arg(minimum)
                               .arg(maximum)
                               .arg(value));
    return value;
}

Result<QStringList> urlsIn(const QVariantMap &config)
{
    const auto url = config.constFind(u"url"_s);
    const auto urls = config.constFind(u"urls"_s);
    if (url != config.cend() && urls != config.cend())
        return configError(u"give 'url' or 'urls', not both"_s);
    if (url != config.cend()) {
        if (url->typeId() != QMetaType::QString)
            return configError(
                u"config key 'url' must be a string like "
                "\"redis://127.0.0.1:6379/0\", not %1"_s.arg(QString::fromLatin1(url->typeName())));
        return QStringList{url->toString()};
    }
    if (urls != config.cend()) {
        const QVariantList list = urls->toList();
        if (list.isEmpty())
            return configError(u"config key 'urls' must be a non-empty list of strings"_s);
        QStringList out;
        for (const QVariant &item : list) {
            if (item.typeId() != QMetaType::QString)
                return configError(u"config key 'urls' must be a list of strings"_s);
            out.append(item.toString());
        }
        return out;
    }
    return QStringList{u"redis://127.0.0.1:6379/0"_s};
}

} // namespace

Result<RedisAddress> RedisAddress::parse(const QString &text)
{
    const QUrl url(text, QUrl::StrictMode);
    // The message repeats the URL without what might be a password.
    const QString shown = url.isValid() ? url.toDisplayString(QUrl::RemoveUserInfo) : u"?"_s;
    if (!url.isValid() || url.host().isEmpty())
        return configError(u"'%1' is not a Redis URL (redis://[user:password@]host:port/db)"_s.arg(
            url.isValid() ? shown : u"(unparsable)"_s));
    if (url.scheme() == "rediss"_L1)
        return configError(
            u"'%1': rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS; reach "
            "Redis over a private network, or through stunnel or spiped"_s.arg(shown));
    if (url.scheme() != "redis"_L1)
        return configError(u"'%1': the scheme must be redis://"_s.arg(shown));
    RedisAddress address;
    address.host = url.host();
    address.port = url.port(6379);
    address.user = url.userName();
    address.password = url.password();
    const QString path = url.path().mid(1);
    if (!path.isEmpty()) {
        bool ok = false;
        address.db = path.toInt(&ok);
        if (!ok || address.db < 0)
            return configError(u"'%1': the database must be a number, not '%2'"_s.arg(shown, path));
    }
    if (url.hasQuery() || url.hasFragment())
        return configError(u"'%1': no query or fragment is understood"_s.arg(shown));
    return address;
}

QString RedisAddress::display() const
{
    return u"redis://%1:%2/%3"_s.arg(host).arg(port).arg(db);
}

Result<RedisSettings> RedisSettings::fromConfig(const QVariantMap &config)
{
    for (auto it = config.cbegin(); it != config.cend(); ++it) {
        if (!knownKeys().contains(it.key()))
            return configError(
                u"unknown config key '%1' (known: %2)"_s.arg(it.key(), knownKeys().join(u", "_s)));
    }
    RedisSettings settings;
    const auto urls = urlsIn(config);
    if (!urls)
        return tl::unexpected(urls.error());
    for (const QString &url : *urls) {
        const auto address = RedisAddress::parse(url);
        if (!address)
            return tl::unexpected(address.error());
        settings.shards.append(*address);
    }
    if (const auto prefix = config.constFind(u"prefix"_s); prefix != config.cend()) {
        if (prefix->typeId() != QMetaType::QString || prefix->toString().isEmpty()
            || prefix->toString().contains(u' '))
            return configError(u"config key 'prefix' must be a non-empty string without spaces"_s);
        settings.prefix = prefix->toString();
    }
    struct Bound
    {
        const char *key;
        qint64 minimum;
        qint64 maximum;
        qint64 *target;
    };
    qint64 timeout = settings.timeoutMs, heartbeat = settings.heartbeatMs, ttl = settings.nodeTtlMs,
           queued = settings.maxQueued, reconnect = settings.reconnectMaxMs;
    const Bound bounds[] = {
        {"timeout_ms", 50, 600000, &timeout},
        {"heartbeat_ms", 100, 60000, &heartbeat},
        {"node_ttl_ms", 300, 600000, &ttl},
        {"max_queued", 0, 10000000, &queued},
        {"meta_ttl_s", 0, 10LL * 365 * 24 * 3600, &settings.metaTtlSeconds},
        {"reconnect_max_ms", 100, 600000, &reconnect},
    };
    for (const Bound &bound : bounds) {
        const auto value = integerIn(config,
                                     QString::fromLatin1(bound.key),
                                     *bound.target,
                                     bound.minimum,
                                     bound.maximum);
        if (!value)
            return tl::unexpected(value.error());
        *bound.target = *value;
    }
    if (ttl < 2 * heartbeat)
        return configError(
            u"node_ttl_ms (%1) must be at least twice heartbeat_ms (%2)"_s.arg(ttl).arg(heartbeat));
    settings.timeoutMs = int(timeout);
    settings.heartbeatMs = int(heartbeat);
    settings.nodeTtlMs = int(ttl);
    settings.maxQueued = int(queued);
    settings.reconnectMaxMs = int(reconnect);
    return settings;
}

} // namespace Mtw::StoreRedis
