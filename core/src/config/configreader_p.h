// SPDX-License-Identifier: MIT
#pragma once

// Typed reading of toml++ nodes with diagnostics. Every read reports what is wrong with the value
// and carries on, so that one pass finds every error in the file.

#include "configschema_p.h"

#include <QList>
#include <QProcessEnvironment>
#include <QString>
#include <QVariant>

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Mtw::Internal {

QString joinKey(const QString &parent, std::string_view key);
QString joinIndex(const QString &parent, qsizetype index);
// A value as written for `got ...`: strings quoted, numbers plain, `an array`, `a table`.
QString describeNode(const toml::node &node);
// Edit distance, for "did you mean" suggestions.
int levenshtein(const QString &a, const QString &b);

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
    // `planned` choices are known but refused, with the reason in the message.
    std::optional<QString> choice(const toml::node &node,
                                  const QString &keyPath,
                                  const QStringList &choices,
                                  const QList<PlannedChoice> &planned = {});
    std::optional<QStringList>
    stringList(const toml::node &node, const QString &keyPath, StringRule rule = {});
    // Module config: tables → QVariantMap, arrays → QVariantList, strings expanded.
    QVariant variant(const toml::node &node, const QString &keyPath);
    QVariantMap variantMap(const toml::table &table, const QString &keyPath);
    // "expected <what>, got <value>" (with the expansion when it changed the text), then
    // ": <reason>" when there is one.
    void expected(const toml::node &node,
                  const QString &keyPath,
                  const QString &what,
                  const std::optional<QString> &expandedText = std::nullopt,
                  const QString &reason = QString());

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

// The keys of one table. Every key asked for becomes known; finish() warns about the rest.
class TableReader
{
public:
    TableReader(ConfigContext &context, const toml::table &table, QString path);

    const QString &path() const { return m_path; }
    int line() const;

    // Reports `key` missing at the table's position.
    void missing(std::string_view key);
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
    std::vector<std::string> m_known;
};

} // namespace Mtw::Internal
