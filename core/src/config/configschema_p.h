// SPDX-License-Identifier: MIT
#pragma once

// The schema as the config area uses it: every key with the Config member it is read into.
// Declared once, in configkeys.cpp; the parser, the writer, the diff and the documentation
// walk these lists. Not installed.

#include "config_p.h"

#include <mtw/configschema.h>

#include <QList>
#include <QString>
#include <QStringList>
#include <QVariant>

#include <functional>
#include <limits>
#include <utility>

namespace Mtw::Internal {

// Upper bounds that mean "none" (and read as ">= min" in messages and the documentation).
inline constexpr qint64 NoUpperBound = std::numeric_limits<int>::max();
inline constexpr qint64 NoSizeLimit = std::numeric_limits<qint64>::max();

// A string value must pass `valid` or the error says "expected <expected>"; `doc` is the same
// rule for the documentation table.
struct StringRule
{
    bool (*valid)(const QString &) = nullptr;
    const char *expected = nullptr;
    const char *doc = nullptr;
};

bool isNonEmpty(const QString &text);
bool startsWithSlash(const QString &text);
inline constexpr StringRule NonEmpty{&isNonEmpty, "a non-empty string", "non-empty"};
inline constexpr StringRule PathRule{&startsWithSlash,
                                     "a path starting with \"/\"",
                                     "starts with `/`"};

using KeyType = ConfigKey::Type;

// A choice that is known but refused, with why (`transport.default = "http"`).
struct PlannedChoice
{
    QString value;
    QString reason;
};

// One key, bound to where its value lives in Config. `entry` is the index of the entry for keys
// of arrays of tables and ignored otherwise.
struct KeySpec
{
    QString name; // within its table: "max_queue_size"
    KeyType type = KeyType::String;
    qint64 min = 0;
    qint64 max = 0;
    QStringList choices;
    QList<PlannedChoice> planned;
    StringRule rule;
    QString unit; // "seconds", shown after the type
    bool required = false;
    bool secret = false; // toToml() masks a non-empty value
    QString emptyMeans;  // an empty value is not written and means this key (Markdown)
    ConfigApply apply = ConfigApply::Restart;
    void (*takeEffect)(const Config &) = nullptr; // what makes a live key live
    QString doc;

    std::function<QVariant(const Config &, qsizetype entry)> get;
    std::function<void(Config &, qsizetype entry, const QVariant &)> set;
};

// A table ([server]) or an array of tables ([[channels]]); either may be refused by this version.
struct SectionSpec
{
    enum class Kind { Table, Array };
    Kind kind = Kind::Table;
    QString path; // "transport.websocket"
    QList<KeySpec> keys;

    // Arrays.
    std::function<qsizetype(const Config &)> count;
    std::function<qsizetype(Config &)> append; // a default entry; its index
    std::function<void(Config &, qsizetype entry, int line)> setLine;
    std::function<void(Config &, const Config &)> assign; // the whole list, from the second
    // Every key applies live, so entries added or removed do too ([[channels]]).
    bool entriesLive() const;
    QString uniqueKey; // entries must differ in this key
    QString noun;      // "channel", for "duplicate channel ..."

    // Why this version refuses the section when it is present (no keys then); empty = accepted.
    QString refusal;
    bool isRefused() const { return !refusal.isEmpty(); }

    QString header() const;                                          // "[server]", "[[channels]]"
    QString keyPath(const KeySpec &key, qsizetype entry = -1) const; // entry -1: "channels[]"
};

// Every section, in file order.
const QList<SectionSpec> &schemaSections();

// A value as TOML text, as toToml() writes it; `maskSecrets` masks secret keys and the
// secret-looking keys of tables.
QString tomlValue(const KeySpec &key, const QVariant &value, bool maskSecrets);

} // namespace Mtw::Internal
