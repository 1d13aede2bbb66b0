// SPDX-License-Identifier: MIT
#pragma once

// Typed reading of toml++ nodes with diagnostics. Every read reports what is wrong with the value
// and carries on, so that one pass finds every error in the file.

#include <mtw/config.h>

#include <QList>
#include <QProcessEnvironment>
#include <QString>
#include <QVariant>

#include <toml++/toml.h>

#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace Mtw::Internal {

inline constexpr qint64 NoUpperBound = std::numeric_limits<int>::max();

QString joinKey(const QString &parent, std::string_view key);
QString joinIndex(const QString &parent, qsizetype index);
// A value as written for `got ...`: strings quoted, numbers plain, `an array`, `a table`.
QString describeNode(const toml::node &node);
// Edit distance, for "did you mean" suggestions.
int levenshtein(const QString &a, const QString &b);

// A string value must pass `valid` or the error says "expected <expected>".
struct StringRule
{
    bool (*valid)(const QString &) = nullptr;
    const char *expected = nullptr;
};

bool isNonEmpty(const QString &text);
bool startsWithSlash(const QString &text);
inline constexpr StringRule NonEmpty{&isNonEmpty, "a non-empty string"};
inline constexpr StringRule PathRule{&startsWithSlash, "a path starting with \"/\""};

// Collects diagnostics and converts single nodes; `keyPath` names the node in messages.
class ConfigContext
{
public:
    ConfigContext(QString fileName, QProcessEnvironment env);

    void error(const toml::source_region &where, const QString &keyPath, const QString &message);
    void warning(const toml::source_region &where, const QString &keyPath, const QString &message);
    // The diagnostics in file order.
    QList<ConfigDiagnostic> takeDiagnostics();

    std::optional<QString>
    string(const toml::node &node, const QString &keyPath, StringRule rule = {});
    std::optional<qint64>
    integer(const toml::node &node, const QString &keyPath, qint64 min, qint64 max);
    std::optional<bool> boolean(const toml::node &node, const QString &keyPath);
    std::optional<qint64>
    size(const toml::node &node, const QString &keyPath, qint64 min, qint64 max);
    std::optional<QString>
    choice(const toml::node &node, const QString &keyPath, const QStringList &choices);
    std::optional<QStringList>
    stringList(const toml::node &node, const QString &keyPath, StringRule rule = {});
    // Module config: tables → QVariantMap, arrays → QVariantList, strings expanded.
    QVariant variant(const toml::node &node, const QString &keyPath);
    QVariantMap variantMap(const toml::table &table, const QString &keyPath);
    // "expected <what>, got <value>" (with the expansion when it changed the text).
    void expected(const toml::node &node,
                  const QString &keyPath,
                  const QString &what,
                  const std::optional<QString> &expandedText = std::nullopt);

private:
    void add(ConfigDiagnostic::Severity severity,
             const toml::source_region &where,
             const QString &keyPath,
             const QString &message);
    // The expanded text of a string node; reports a bad ${...} and returns nullopt.
    std::optional<QString> expanded(const toml::node &node, const QString &keyPath);

    QString m_fileName;
    QProcessEnvironment m_env;
    QList<ConfigDiagnostic> m_diagnostics;
};

// Reads the keys of one table. Every key asked for becomes known; finish() warns about the rest.
class TableReader
{
public:
    TableReader(ConfigContext &context, const toml::table &table, QString path);

    const QString &path() const { return m_path; }
    int line() const;

    void string(std::string_view key, QString &out, StringRule rule = {});
    // Like string(), and reports the key missing at the table's position.
    void requiredString(std::string_view key, QString &out, StringRule rule = NonEmpty);
    void integer(std::string_view key, int &out, qint64 min, qint64 max);
    void boolean(std::string_view key, bool &out);
    void size(std::string_view key, qint64 &out, qint64 min, qint64 max);
    void choice(std::string_view key, QString &out, const QStringList &choices);
    void stringList(std::string_view key, QStringList &out, StringRule rule = {});
    // A sub-table; nullptr (and an error when present but not a table).
    const toml::table *table(std::string_view key);
    struct Element
    {
        QString path; // "channels[2]"
        const toml::table *table = nullptr;
    };
    // The tables of an array of tables ([[key]]); non-table elements are reported and skipped.
    std::vector<Element> tableArray(std::string_view key);
    // The raw node of a key, for callers that convert it themselves.
    const toml::node *node(std::string_view key);

    void finish();

private:
    ConfigContext &m_context;
    const toml::table &m_table;
    QString m_path;
    std::vector<std::string_view> m_known;
};

} // namespace Mtw::Internal
