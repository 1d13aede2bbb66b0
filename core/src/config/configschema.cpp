// SPDX-License-Identifier: MIT
// Mtw::ConfigSchema: the declared keys (configkeys.cpp) as public descriptions and as the
// Markdown reference table.

#include "config_p.h"
#include "configschema_p.h"

#include <QRegularExpression>

#include <iterator>

using namespace Qt::Literals::StringLiterals;

namespace Mtw {

namespace {

using Internal::KeySpec;
using Internal::KeyType;
using Internal::SectionSpec;

// Indexed by ConfigKey::Type. A choice is a string with a closed set of values.
constexpr const char *TypeNames[] =
    {"boolean", "integer", "size", "string", "array of strings", "string", "table"};
static_assert(std::size(TypeNames) == std::size_t(KeyType::Table) + 1);

QString typeText(const KeySpec &key)
{
    const QString text = QString::fromLatin1(TypeNames[std::size_t(key.type)]);
    return key.unit.isEmpty() ? text : text + u" ("_s + key.unit + u")"_s;
}

// The same limits the parser checks, for people (Markdown).
QString allowedText(const KeySpec &key)
{
    QStringList parts;
    switch (key.type) {
    case KeyType::Integer:
        parts << (key.max == Internal::NoUpperBound ? u">= %1"_s.arg(key.min)
                                                    : u"%1-%2"_s.arg(key.min).arg(key.max));
        break;
    case KeyType::Size:
        parts << (key.max == Internal::NoSizeLimit
                      ? u">= "_s + Internal::formatSize(key.min)
                      : Internal::formatSize(key.min) + u'-' + Internal::formatSize(key.max));
        break;
    case KeyType::Choice: {
        QStringList choices;
        for (const QString &choice : key.choices)
            choices << u"`\"%1\"`"_s.arg(choice);
        parts << choices.join(u", "_s);
        break;
    }
    case KeyType::String:
        if (key.rule.doc)
            parts << QString::fromUtf8(key.rule.doc);
        break;
    case KeyType::StringList:
        if (key.rule.doc)
            parts << u"each: "_s + QString::fromUtf8(key.rule.doc);
        break;
    case KeyType::Boolean:
    case KeyType::Table:
        break;
    }
    if (key.required)
        parts << u"required"_s;
    return parts.join(u", "_s);
}

QVariant defaultValue(const SectionSpec &section, const KeySpec &key)
{
    Config config;
    const qsizetype entry = section.kind == SectionSpec::Kind::Array ? section.append(config) : 0;
    return key.get(config, entry);
}

ConfigKey describe(const SectionSpec &section, const KeySpec &key)
{
    ConfigKey k;
    k.name = section.keyPath(key);
    k.type = key.type;
    k.typeText = typeText(key);
    k.allowed = allowedText(key);
    k.defaultValue = defaultValue(section, key);
    if (!key.required && (key.emptyMeans.isEmpty() || !k.defaultValue.toString().isEmpty()))
        k.defaultText = Internal::tomlValue(key, k.defaultValue, false);
    k.minimum = key.min;
    k.maximum = key.max;
    k.choices = key.choices;
    k.required = key.required;
    k.apply = key.apply;
    k.doc = key.doc;
    return k;
}

QList<ConfigKey> describeAll()
{
    QList<ConfigKey> keys;
    for (const SectionSpec &section : Internal::schemaSections()) {
        for (const KeySpec &key : section.keys)
            keys.append(describe(section, key));
    }
    return keys;
}

struct Located
{
    const SectionSpec *section = nullptr;
    const KeySpec *key = nullptr;
    qsizetype entry = -1; // the index in "channels[3].history"; -1 for "channels[]" and tables
};

Located locate(const QString &name)
{
    static const QRegularExpression pattern(u"^(.+?)(\\[(\\d*)\\])?\\.([^.\\[\\]]+)$"_s);
    const QRegularExpressionMatch match = pattern.match(name);
    if (!match.hasMatch())
        return {};
    const bool isEntry = match.hasCaptured(2);
    for (const SectionSpec &section : Internal::schemaSections()) {
        if (section.path != match.captured(1)
            || isEntry != (section.kind == SectionSpec::Kind::Array))
            continue;
        for (const KeySpec &key : section.keys) {
            if (key.name == match.captured(4)) {
                const QString index = match.captured(3);
                return {&section, &key, index.isEmpty() ? -1 : index.toLongLong()};
            }
        }
    }
    return {};
}

QString cell(QString text)
{
    return text.replace(u'|', u"\\|"_s);
}

} // namespace

const QList<ConfigKey> &ConfigSchema::keys()
{
    static const QList<ConfigKey> all = describeAll();
    return all;
}

std::optional<ConfigKey> ConfigSchema::key(const QString &name)
{
    const Located found = locate(name);
    if (!found.key)
        return std::nullopt;
    return describe(*found.section, *found.key);
}

QVariant ConfigSchema::value(const Config &config, const QString &name)
{
    const Located found = locate(name);
    if (!found.key)
        return {};
    if (found.section->kind == SectionSpec::Kind::Table)
        return found.key->get(config, 0);
    if (found.entry < 0 || found.entry >= found.section->count(config))
        return {};
    return found.key->get(config, found.entry);
}

QList<std::pair<QString, QString>> ConfigSchema::refusedSections()
{
    QList<std::pair<QString, QString>> sections;
    for (const SectionSpec &section : Internal::schemaSections()) {
        if (section.isRefused())
            sections.append({section.path, section.refusal});
    }
    return sections;
}

QString ConfigSchema::markdown()
{
    QString text = u"| key | type | allowed | default | applies | meaning |\n"
                   "|---|---|---|---|---|---|\n"_s;
    for (const SectionSpec &section : Internal::schemaSections()) {
        for (const KeySpec &spec : section.keys) {
            const ConfigKey k = describe(section, spec);
            QString defaultCell = k.defaultText.isEmpty() ? QString() : u'`' + k.defaultText + u'`';
            if (!spec.emptyMeans.isEmpty() && k.defaultText.isEmpty())
                defaultCell = spec.emptyMeans;
            QStringList cells{u'`' + k.name + u'`',
                              k.typeText,
                              k.allowed,
                              defaultCell,
                              k.apply == ConfigApply::Live ? u"live"_s : u"restart"_s,
                              k.doc};
            for (QString &c : cells)
                c = cell(c);
            text += u"| "_s + cells.join(u" | "_s) + u" |\n"_s;
        }
    }
    const auto refused = refusedSections();
    if (refused.isEmpty())
        return text;
    text += u"\nRefused: this version does not start while one of these sections is present.\n\n"_s;
    for (const SectionSpec &section : Internal::schemaSections()) {
        if (section.isRefused())
            text += u"- `%1`: %2.\n"_s.arg(section.header(), section.refusal);
    }
    return text;
}

} // namespace Mtw
