// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>

namespace Mtw::Internal {

// The effective settings of one concrete channel.
struct ChannelSettings
{
    bool auth = false;                 // only authenticated connections may subscribe and publish
    int maxMembers = 0;                // 0 = unlimited
    int history = 50;                  // envelopes kept for replay; 0 = none
    int historyTtl = 300;              // seconds an envelope stays in history; 0 = until pushed out
    qint64 historyBytes = 1000 * 1000; // bytes of history kept; 0 = no byte bound
    bool presence = false;             // join/leave events to members
    bool binary = false;               // fan-out as MTW binary frames whatever the receiver's mode
    friend bool operator==(const ChannelSettings &, const ChannelSettings &) = default;
};

// A key-value bucket's changes are published on `$kv.<bucket>` (docs/kv.md).
inline constexpr QLatin1StringView KvChannelPrefix("$kv.");

// The `[[kv]]` entry of the concrete bucket `name`, by the rule channels follow: the first entry
// with exactly that name, else the first pattern entry that matches, in file order; nullptr
// when none does (the bucket does not exist) or `name` is not a valid channel name.
const KvBucketConfig *findKvBucket(const QList<KvBucketConfig> &buckets, QStringView name);

// Maps a concrete channel name to its settings (PROTOCOL.md §5): the exact `[[channels]]` entry if
// there is one (the first, if the name is repeated), else the first matching pattern entry in file
// order, else the defaults. `binary` is set when the chosen entry has codec "binary" (an entry
// without codec, or no entry, takes `codec.default`) or when the name is listed in, or matched by
// a pattern in, `codec.binary_channels`.
// Watch channels `$kv.<bucket>` take `auth` from their bucket and the defaults otherwise (the
// `[[channels]]` entries do not apply to them).
// Entries that are neither a valid name nor a valid pattern are ignored (the config area reports
// them). Immutable after construction, so safe to share between threads.
class ChannelSettingsResolver
{
public:
    ChannelSettingsResolver() = default;
    explicit ChannelSettingsResolver(const Mtw::Config &config);

    ChannelSettings resolve(const QString &name) const;
    bool isConfiguredExact(const QString &name) const;
    QStringList exactNames() const { return m_exactNames; } // file order, without duplicates

private:
    bool isBinaryListed(QStringView name) const;
    ChannelSettings resolveWatchChannel(QStringView bucket) const;

    struct PatternEntry
    {
        QString pattern;
        ChannelSettings settings;
    };

    QHash<QString, ChannelSettings> m_exact; // binary already folded in
    QStringList m_exactNames;
    QList<PatternEntry> m_patterns;  // file order; binary from the entry's codec or the default
    QStringList m_binaryChannels;    // names and patterns from codec.binary_channels
    bool m_binaryByDefault = false;  // codec.default = "binary"
    QList<KvBucketConfig> m_buckets; // [[kv]], for the settings of `$kv.<bucket>`
};

} // namespace Mtw::Internal
