// SPDX-License-Identifier: MIT
// What differs between two configurations, key by key as the schema declares them, and which
// of it a running server takes at once.

#include "configschema_p.h"

#include <algorithm>

using namespace Qt::Literals::StringLiterals;

namespace Mtw {

namespace {

using Internal::KeySpec;
using Internal::SectionSpec;

// A module's own table, key by key ("modules[0].config.db.host"): telling which setting changed
// is what an operator needs, and nested tables are compared the same way.
void diffMaps(const QString &path,
              const QVariantMap &old,
              const QVariantMap &next,
              ConfigApply apply,
              QList<ConfigChange> &out)
{
    QStringList names = old.keys() + next.keys();
    names.sort();
    names.removeDuplicates();
    for (const QString &name : std::as_const(names)) {
        const QVariant a = old.value(name);
        const QVariant b = next.value(name);
        const QString key = path + QLatin1Char('.') + name;
        if (a.typeId() == QMetaType::QVariantMap && b.typeId() == QMetaType::QVariantMap)
            diffMaps(key, a.toMap(), b.toMap(), apply, out);
        else if (a != b)
            out.append({key, a, b, apply});
    }
}

void diffKey(const QString &path,
             const KeySpec &key,
             const QVariant &old,
             const QVariant &next,
             QList<ConfigChange> &out)
{
    if (key.type == Internal::KeyType::Table)
        diffMaps(path, old.toMap(), next.toMap(), key.apply, out);
    else if (old != next)
        out.append({path, old, next, key.apply});
}

// An entry that only one side has, as a map of its keys.
QVariantMap entryValue(const SectionSpec &section, const Config &config, qsizetype entry)
{
    QVariantMap map;
    for (const KeySpec &key : section.keys)
        map.insert(key.name, key.get(config, entry));
    return map;
}

void diffEntries(const SectionSpec &section,
                 const Config &old,
                 const Config &next,
                 QList<ConfigChange> &out)
{
    const qsizetype oldCount = section.count(old);
    const qsizetype nextCount = section.count(next);
    for (qsizetype entry = 0; entry < std::min(oldCount, nextCount); ++entry) {
        for (const KeySpec &key : section.keys)
            diffKey(section.keyPath(key, entry),
                    key,
                    key.get(old, entry),
                    key.get(next, entry),
                    out);
    }
    // An entry added or removed changes what the server runs with as a whole: it applies live
    // only in a section whose every key does.
    const ConfigApply apply = section.entriesLive() ? ConfigApply::Live : ConfigApply::Restart;
    for (qsizetype entry = nextCount; entry < oldCount; ++entry)
        out.append({u"%1[%2]"_s.arg(section.path).arg(entry),
                    entryValue(section, old, entry),
                    QVariant(),
                    apply});
    for (qsizetype entry = oldCount; entry < nextCount; ++entry)
        out.append({u"%1[%2]"_s.arg(section.path).arg(entry),
                    QVariant(),
                    entryValue(section, next, entry),
                    apply});
}

} // namespace

QList<ConfigChange> diffConfigs(const Config &old, const Config &next)
{
    QList<ConfigChange> changes;
    for (const SectionSpec &section : Internal::schemaSections()) {
        if (section.isRefused())
            continue; // no keys: never in a Config
        if (section.kind == SectionSpec::Kind::Array) {
            diffEntries(section, old, next, changes);
            continue;
        }
        for (const KeySpec &key : section.keys)
            diffKey(section.keyPath(key), key, key.get(old, 0), key.get(next, 0), changes);
    }
    return changes;
}

QStringList restartRequiredKeys(const QList<ConfigChange> &changes)
{
    QStringList keys;
    for (const ConfigChange &change : changes) {
        if (change.apply == ConfigApply::Restart)
            keys.append(change.key);
    }
    return keys;
}

QList<ConfigChange> applyLiveChanges(Config &running, const Config &next)
{
    const QList<ConfigChange> changes = diffConfigs(running, next);
    QList<void (*)(const Config &)> effects;
    for (const SectionSpec &section : Internal::schemaSections()) {
        if (section.kind == SectionSpec::Kind::Array) {
            // An array whose every key is live is taken whole; the others need a restart.
            if (!section.entriesLive())
                continue;
            const QString prefix = section.path + QLatin1Char('[');
            const bool changed = std::any_of(changes.cbegin(), changes.cend(), [&](const auto &c) {
                return c.key.startsWith(prefix);
            });
            if (changed)
                section.assign(running, next);
            continue;
        }
        for (const KeySpec &key : section.keys) {
            if (key.apply != ConfigApply::Live)
                continue;
            const QVariant value = key.get(next, 0);
            if (key.get(running, 0) == value)
                continue;
            key.set(running, 0, value);
            if (key.takeEffect && !effects.contains(key.takeEffect))
                effects.append(key.takeEffect);
        }
    }
    // Once each, after every live key has its new value: logging.level and logging.rules make
    // one set of filter rules.
    for (const auto effect : std::as_const(effects))
        effect(running);
    return changes;
}

} // namespace Mtw
