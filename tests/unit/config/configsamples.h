// SPDX-License-Identifier: MIT
#pragma once

// Configurations that differ from another in exactly one key, built from the schema so that a
// new key is covered by every test that walks ConfigSchema::keys().

#include <mtw/config.h>
#include <mtw/configschema.h>

#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

struct KeySample
{
    QString key;     // the concrete key: "server.port", "channels[0].history"
    QString base;    // TOML with the key at its default (entry keys: one entry, required keys set)
    QString changed; // the same with the key at a valid other value; empty when there is none
};

namespace Samples {

inline bool parsesCleanly(const QString &toml)
{
    return Mtw::parseConfig(toml, QStringLiteral("mtw.toml"), QProcessEnvironment())
        .diagnostics.isEmpty();
}

// Valid values to try, as TOML, other than the default.
inline QStringList candidates(const Mtw::ConfigKey &key)
{
    using Type = Mtw::ConfigKey::Type;
    switch (key.type) {
    case Type::Boolean:
        return {key.defaultValue.toBool() ? QStringLiteral("false") : QStringLiteral("true")};
    case Type::Integer:
    case Type::Size: {
        const qint64 value = key.defaultValue.toLongLong();
        return {QString::number(value < key.maximum ? value + 1 : value - 1)};
    }
    case Type::Choice: {
        QStringList other;
        for (const QString &choice : key.choices) {
            if (choice != key.defaultValue.toString())
                other << QLatin1Char('"') + choice + QLatin1Char('"');
        }
        return other;
    }
    case Type::String:
        return {QStringLiteral("\"changed.x\""), QStringLiteral("\"/changed\"")};
    case Type::StringList:
        return {QStringLiteral("[\"changed.x\"]"), QStringLiteral("[\"10.0.0.0/8\"]")};
    case Type::Table:
        return {QStringLiteral("{ changed = 1 }")};
    }
    return {};
}

inline KeySample sample(const Mtw::ConfigKey &key)
{
    const qsizetype dot = key.name.lastIndexOf(QLatin1Char('.'));
    const QString leaf = key.name.mid(dot + 1);
    QString section = key.name.left(dot);
    KeySample s;
    s.key = key.name;
    QString head;
    if (key.isEntryKey()) {
        section.chop(2); // "channels[]"
        s.key.replace(QStringLiteral("[]"), QStringLiteral("[0]"));
        head = QStringLiteral("[[%1]]\n").arg(section);
        for (const Mtw::ConfigKey &other : Mtw::ConfigSchema::keys()) {
            const bool sameEntry = other.name.startsWith(section + QStringLiteral("[]."));
            if (other.required && sameEntry && other.name != key.name)
                head += other.name.mid(other.name.lastIndexOf(QLatin1Char('.')) + 1)
                    + QStringLiteral(" = \"base\"\n");
        }
    } else {
        head = QStringLiteral("[%1]\n").arg(section);
    }
    s.base = key.required ? head + leaf + QStringLiteral(" = \"base\"\n") : head;
    for (const QString &value : candidates(key)) {
        const QString changed = head + leaf + QStringLiteral(" = ") + value + QLatin1Char('\n');
        if (parsesCleanly(changed)) {
            s.changed = changed;
            break;
        }
    }
    return s;
}

} // namespace Samples
