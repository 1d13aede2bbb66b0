// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/global.h>

#include <QList>
#include <QString>
#include <QStringList>
#include <QVariant>

#include <optional>

namespace Mtw {

// Whether a new value of a key takes effect in a running server or only after a restart.
enum class ConfigApply { Restart, Live };

// One key of mtw.toml as the schema declares it. The schema is the only place where a key is
// spelled out: the parser, Config::toToml(), diffConfigs() and the table in
// docs/configuration.md (mtwserver --print-schema) are all derived from it.
struct MTW_CORE_EXPORT ConfigKey
{
    enum class Type { Boolean, Integer, Size, String, StringList, Choice, Table };

    // Dotted path: "transport.websocket.max_queue_size"; a key of each entry of an array of
    // tables is "channels[].history".
    QString name;
    Type type = Type::String;
    QString typeText;      // for people: "integer (seconds)", "size", "array of strings"
    QString allowed;       // for people: "0-65535", "\"json\", \"binary\"", "non-empty"; or empty
    QVariant defaultValue; // as read into Config: int, qint64, bool, QString, QStringList, map
    QString defaultText;   // as written in TOML ("8080", "\"10MB\"", "[]"); empty for required
    qint64 minimum = 0;    // Integer and Size
    qint64 maximum = 0;    // Integer and Size
    QStringList choices;   // Choice
    bool required = false; // entries of arrays of tables only
    ConfigApply apply = ConfigApply::Restart;
    QString doc; // one line of Markdown

    bool isEntryKey() const { return name.contains(QLatin1String("[]")); }
};

// One difference between two configurations.
struct MTW_CORE_EXPORT ConfigChange
{
    // "server.port", "channels[1].history", "modules[0].config.secret" (a key of a module's own
    // table), or "channels[2]" when the entry exists on one side only.
    QString key;
    QVariant oldValue; // null when the key or entry is new; an entry is a QVariantMap of its keys
    QVariant newValue; // null when it was removed. Secrets are not masked.
    ConfigApply apply = ConfigApply::Restart;

    friend bool operator==(const ConfigChange &, const ConfigChange &) = default;
};

// The declared keys of mtw.toml. Any thread (immutable).
class MTW_CORE_EXPORT ConfigSchema
{
public:
    ConfigSchema() = delete;

    // Every key, in file order.
    static const QList<ConfigKey> &keys();
    // "server.port"; entry keys as "channels[].history" or "channels[3].history".
    static std::optional<ConfigKey> key(const QString &name);
    // The value of a key in `config` ("server.port", "channels[0].history"); null when there is
    // no such key or entry.
    static QVariant value(const Config &config, const QString &name);
    // Sections that are refused when present ("transport.http", "orchestrator"): they
    // are not implemented in this version. With the reason, as the error says it.
    static QList<std::pair<QString, QString>> refusedSections();
    // The Markdown reference table of every key (key, type, allowed, default, applies, meaning)
    // and the refused sections: what `mtwserver --print-schema` prints and docs/configuration.md
    // contains.
    static QString markdown();
};

// The changes from `old` to `next`, in file order, each classified as the schema declares its
// key. Entries of arrays of tables are compared by position; an entry's `line` and the
// sourcePath are not configuration and never differ.
MTW_CORE_EXPORT QList<ConfigChange> diffConfigs(const Config &old, const Config &next);

// The keys of the changes that need a restart.
MTW_CORE_EXPORT QStringList restartRequiredKeys(const QList<ConfigChange> &changes);

// Copies into `running` the values that `next` changes in keys that apply live, and makes them
// take effect (logging.level and logging.rules: the process-wide QLoggingCategory filter rules,
// loggingFilterRules()). Returns every change from `running` as it was to `next`; the restart
// ones are left as they were.
MTW_CORE_EXPORT QList<ConfigChange> applyLiveChanges(Config &running, const Config &next);

} // namespace Mtw
