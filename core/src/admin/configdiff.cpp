// SPDX-License-Identifier: MIT
#include "admin/configdiff.h"

#include <QList>
#include <QPair>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// key path -> value text, from the canonical TOML the config writes (one key per line).
QList<QPair<QString, QString>> flatten(const Config &config)
{
    QList<QPair<QString, QString>> out;
    QString section;
    QHash<QString, int> arrayIndex;
    const QStringList lines = config.toToml(false).split(u'\n');
    for (const QString &raw : lines) {
        const QString line = raw.trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        if (line.startsWith("[["_L1)) {
            const QString name = line.mid(2, line.size() - 4).trimmed();
            section = u"%1[%2]"_s.arg(name).arg(arrayIndex[name]++);
            continue;
        }
        if (line.startsWith(u'[')) {
            section = line.mid(1, line.size() - 2).trimmed();
            continue;
        }
        const qsizetype equals = line.indexOf(u'=');
        if (equals <= 0)
            continue;
        const QString key = line.first(equals).trimmed();
        out.append(
            {section.isEmpty() ? key : section + u'.' + key, line.mid(equals + 1).trimmed()});
    }
    return out;
}

} // namespace

QStringList changedKeys(const Config &before, const Config &after)
{
    const auto a = flatten(before);
    const auto b = flatten(after);
    QHash<QString, QString> old;
    for (const auto &[key, value] : a)
        old.insert(key, value);
    QStringList changed;
    QSet<QString> seen;
    for (const auto &[key, value] : b) {
        seen.insert(key);
        if (!old.contains(key) || old.value(key) != value)
            changed.append(key);
    }
    for (const auto &[key, value] : a) {
        if (!seen.contains(key))
            changed.append(key);
    }
    return changed;
}

QStringList restartRequiredKeys(const Config &running, const Config &edited)
{
    QStringList keys = changedKeys(running, edited);
    keys.removeIf([](const QString &key) { return key.startsWith("logging."_L1); });
    return keys;
}

} // namespace Mtw::Internal
