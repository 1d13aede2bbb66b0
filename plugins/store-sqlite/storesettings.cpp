// SPDX-License-Identifier: MIT
#include "storesettings.h"

#include <QStringList>

namespace Mtw::StoreSqlite {

using namespace Qt::StringLiterals;

namespace {

const QStringList &knownKeys()
{
    static const QStringList keys{u"path"_s, u"flush_interval_ms"_s, u"max_pending"_s};
    return keys;
}

Error configError(const QString &message)
{
    return Error{500, u"mtw-store-sqlite: "_s + message};
}

// TOML integers arrive as qint64; a double or a string is a mistake worth naming.
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
        return tl::unexpected(configError(u"config key '%1' must be an integer, not %2"_s.arg(
            key,
            QString::fromLatin1(it->typeName()))));
    }
    const qint64 value = it->toLongLong();
    if (value < minimum || value > maximum)
        return tl::unexpected(
            configError(u"config key '%1' must be between %2 and %3, not %4"_s.arg(key)
                            .arg(minimum)
                            .arg(maximum)
                            .arg(value)));
    return value;
}

Result<QString> pathIn(const QVariantMap &config)
{
    const auto it = config.constFind(u"path"_s);
    if (it == config.cend())
        return tl::unexpected(
            configError(u"config key 'path' is required (the database file, a string)"_s));
    if (it->typeId() != QMetaType::QString)
        return tl::unexpected(configError(u"config key 'path' must be a string, not %1"_s.arg(
            QString::fromLatin1(it->typeName()))));
    const QString path = it->toString();
    if (path.trimmed().isEmpty())
        return tl::unexpected(configError(u"config key 'path' must not be empty"_s));
    return path;
}

} // namespace

Result<StoreSettings> StoreSettings::fromConfig(const QVariantMap &config)
{
    for (auto it = config.cbegin(); it != config.cend(); ++it) {
        if (!knownKeys().contains(it.key()))
            return tl::unexpected(configError(
                u"unknown config key '%1' (known: %2)"_s.arg(it.key(), knownKeys().join(u", "_s))));
    }
    const auto path = pathIn(config);
    if (!path)
        return tl::unexpected(path.error());
    const auto interval = integerIn(config, u"flush_interval_ms"_s, 20, 1, 10000);
    if (!interval)
        return tl::unexpected(interval.error());
    const auto pending = integerIn(config, u"max_pending"_s, 100000, 1, 100000000);
    if (!pending)
        return tl::unexpected(pending.error());
    StoreSettings settings;
    settings.path = *path;
    settings.flushIntervalMs = int(*interval);
    settings.maxPending = *pending;
    return settings;
}

} // namespace Mtw::StoreSqlite
