// SPDX-License-Identifier: MIT
#include "channels/channelsettings.h"

#include "channels/channelpattern.h"

namespace Mtw::Internal {

namespace {

bool isBinary(const QString &codec)
{
    return codec.compare(QLatin1StringView("binary"), Qt::CaseInsensitive) == 0;
}

ChannelSettings settingsFromEntry(const ChannelConfig &entry, bool binaryByDefault)
{
    ChannelSettings settings;
    settings.auth = entry.auth;
    settings.maxMembers = qMax(0, entry.maxMembers);
    settings.history = qMax(0, entry.history);
    settings.historyTtl = qMax(0, entry.historyTtl);
    settings.historyBytes = qMax<qint64>(0, entry.historyBytes);
    settings.presence = entry.presence;
    settings.binary = entry.codec.isEmpty() ? binaryByDefault : isBinary(entry.codec);
    return settings;
}

} // namespace

const KvBucketConfig *findKvBucket(const QList<KvBucketConfig> &buckets, QStringView name)
{
    if (!isValidChannelName(name))
        return nullptr;
    for (const KvBucketConfig &entry : buckets) {
        if (entry.name == name)
            return &entry;
    }
    for (const KvBucketConfig &entry : buckets) {
        if (isChannelPattern(entry.name) && channelPatternMatches(entry.name, name))
            return &entry;
    }
    return nullptr;
}

ChannelSettingsResolver::ChannelSettingsResolver(const Mtw::Config &config)
    : m_binaryChannels(config.codec.binaryChannels)
    , m_binaryByDefault(isBinary(config.codec.defaultCodec))
    , m_buckets(config.kv)
{
    for (const ChannelConfig &entry : config.channels) {
        if (isValidChannelName(entry.name)) {
            if (m_exact.contains(entry.name))
                continue;
            ChannelSettings settings = settingsFromEntry(entry, m_binaryByDefault);
            settings.binary = settings.binary || isBinaryListed(entry.name);
            m_exact.insert(entry.name, settings);
            m_exactNames.append(entry.name);
        } else if (isChannelPattern(entry.name)) {
            m_patterns.append({entry.name, settingsFromEntry(entry, m_binaryByDefault)});
        }
    }
}

ChannelSettings ChannelSettingsResolver::resolve(const QString &name) const
{
    if (name.startsWith(KvChannelPrefix))
        return resolveWatchChannel(QStringView(name).mid(KvChannelPrefix.size()));
    const auto exact = m_exact.constFind(name);
    if (exact != m_exact.cend())
        return *exact;
    ChannelSettings settings;
    settings.binary = m_binaryByDefault;
    for (const PatternEntry &entry : m_patterns) {
        if (channelPatternMatches(entry.pattern, name)) {
            settings = entry.settings;
            break;
        }
    }
    settings.binary = settings.binary || isBinaryListed(name);
    return settings;
}

ChannelSettings ChannelSettingsResolver::resolveWatchChannel(QStringView bucket) const
{
    ChannelSettings settings;
    settings.binary = m_binaryByDefault;
    // An unknown bucket's channel is refused before it gets here; if asked anyway, it is closed
    // to anonymous connections rather than open.
    const KvBucketConfig *entry = findKvBucket(m_buckets, bucket);
    settings.auth = entry ? entry->auth : true;
    return settings;
}

bool ChannelSettingsResolver::isConfiguredExact(const QString &name) const
{
    return m_exact.contains(name);
}

bool ChannelSettingsResolver::isBinaryListed(QStringView name) const
{
    for (const QString &listed : m_binaryChannels) {
        if (channelPatternMatches(listed, name))
            return true;
    }
    return false;
}

} // namespace Mtw::Internal
