// SPDX-License-Identifier: MIT
#include "config_p.h"
#include "configreader_p.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <tuple>
#include <utility>

using namespace Qt::Literals::StringLiterals;

namespace Mtw::Internal {

namespace {

QString fromStd(std::string_view text)
{
    return QString::fromUtf8(text.data(), qsizetype(text.size()));
}

QString formatDouble(double value)
{
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    QString text = QString::fromLatin1(buffer, result.ptr - buffer);
    // Keep a float looking like a float: 80.0, not 80.
    if (!text.contains(QLatin1Char('.')) && !text.contains(QLatin1Char('e'))
        && !text.contains(u"inf"_s) && !text.contains(u"nan"_s)) {
        text += u".0"_s;
    }
    return text;
}

// Dates, times, integers (as written: 0x10 stays hex) and booleans the way toml++ prints them.
QString printNode(const toml::node &node)
{
    std::ostringstream stream;
    node.visit([&stream](auto &&value) { stream << value; });
    return fromStd(stream.str());
}

std::optional<bool> parseBoolean(const QString &text)
{
    if (text.compare(u"true"_s, Qt::CaseInsensitive) == 0)
        return true;
    if (text.compare(u"false"_s, Qt::CaseInsensitive) == 0)
        return false;
    return std::nullopt;
}

} // namespace

bool isNonEmpty(const QString &text)
{
    return !text.trimmed().isEmpty();
}

bool startsWithSlash(const QString &text)
{
    return text.startsWith(QLatin1Char('/'));
}

QString joinKey(const QString &parent, std::string_view key)
{
    return parent.isEmpty() ? fromStd(key) : parent + QLatin1Char('.') + fromStd(key);
}

QString joinIndex(const QString &parent, qsizetype index)
{
    return parent + QLatin1Char('[') + QString::number(index) + QLatin1Char(']');
}

QString describeNode(const toml::node &node)
{
    switch (node.type()) {
    case toml::node_type::string:
        return quoted(fromStd(node.as_string()->get()));
    case toml::node_type::table:
        return u"a table"_s;
    case toml::node_type::array:
        return u"an array"_s;
    case toml::node_type::floating_point:
        return formatDouble(node.as_floating_point()->get());
    default:
        return printNode(node);
    }
}

int levenshtein(const QString &a, const QString &b)
{
    QList<int> previous(b.size() + 1);
    QList<int> current(b.size() + 1);
    for (qsizetype j = 0; j <= b.size(); ++j)
        previous[j] = int(j);
    for (qsizetype i = 1; i <= a.size(); ++i) {
        current[0] = int(i);
        for (qsizetype j = 1; j <= b.size(); ++j) {
            const int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
        }
        std::swap(previous, current);
    }
    return previous[b.size()];
}

ConfigContext::ConfigContext(QString fileName, QProcessEnvironment env)
    : m_fileName(std::move(fileName))
    , m_env(std::move(env))
{ }

void ConfigContext::add(ConfigDiagnostic::Severity severity,
                        const toml::source_region &where,
                        const QString &keyPath,
                        const QString &message)
{
    ConfigDiagnostic diagnostic;
    diagnostic.severity = severity;
    diagnostic.file = m_fileName;
    diagnostic.line = int(where.begin.line);
    diagnostic.column = int(where.begin.column);
    diagnostic.keyPath = keyPath;
    diagnostic.message = message;
    m_diagnostics.append(diagnostic);
}

void ConfigContext::error(const toml::source_region &where,
                          const QString &keyPath,
                          const QString &message)
{
    add(ConfigDiagnostic::Severity::Error, where, keyPath, message);
}

void ConfigContext::warning(const toml::source_region &where,
                            const QString &keyPath,
                            const QString &message)
{
    add(ConfigDiagnostic::Severity::Warning, where, keyPath, message);
}

QList<ConfigDiagnostic> ConfigContext::takeDiagnostics()
{
    // Sections are read in schema order; users read files top to bottom.
    std::stable_sort(m_diagnostics.begin(),
                     m_diagnostics.end(),
                     [](const ConfigDiagnostic &a, const ConfigDiagnostic &b) {
                         return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                     });
    return std::exchange(m_diagnostics, {});
}

void ConfigContext::expected(const toml::node &node,
                             const QString &keyPath,
                             const QString &what,
                             const std::optional<QString> &expandedText,
                             const QString &reason)
{
    QString got = describeNode(node);
    if (expandedText && node.is_string() && *expandedText != fromStd(node.as_string()->get()))
        got += u" (expanded to %1)"_s.arg(quoted(*expandedText));
    if (!reason.isEmpty())
        got += u": "_s + reason;
    error(node.source(), keyPath, u"expected %1, got %2"_s.arg(what, got));
}

std::optional<QString> ConfigContext::expanded(const toml::node &node, const QString &keyPath)
{
    auto result = expandEnvironment(fromStd(node.as_string()->get()), m_env);
    if (!result) {
        error(node.source(), keyPath, result.error().message);
        return std::nullopt;
    }
    return *result;
}

std::optional<QString>
ConfigContext::string(const toml::node &node, const QString &keyPath, StringRule rule)
{
    if (!node.is_string()) {
        expected(node, keyPath, u"a string"_s);
        return std::nullopt;
    }
    auto text = expanded(node, keyPath);
    if (text && rule.valid && !rule.valid(*text)) {
        expected(node, keyPath, QString::fromUtf8(rule.expected), text);
        return std::nullopt;
    }
    return text;
}

std::optional<qint64>
ConfigContext::integer(const toml::node &node, const QString &keyPath, qint64 min, qint64 max)
{
    std::optional<qint64> value;
    std::optional<QString> text;
    if (const auto *number = node.as_integer()) {
        value = number->get();
    } else if (node.is_string()) {
        // Lets `port = "${PORT:-8080}"` work.
        text = expanded(node, keyPath);
        if (!text)
            return std::nullopt;
        value = parseInteger(*text);
    }
    if (!value || *value < min || *value > max) {
        expected(node, keyPath, integerExpectation(min, max), text);
        return std::nullopt;
    }
    return value;
}

std::optional<bool> ConfigContext::boolean(const toml::node &node, const QString &keyPath)
{
    std::optional<bool> value;
    std::optional<QString> text;
    if (const auto *flag = node.as_boolean()) {
        value = flag->get();
    } else if (node.is_string()) {
        text = expanded(node, keyPath);
        if (!text)
            return std::nullopt;
        value = parseBoolean(text->trimmed());
    }
    if (!value)
        expected(node, keyPath, u"a boolean"_s, text);
    return value;
}

std::optional<qint64>
ConfigContext::size(const toml::node &node, const QString &keyPath, qint64 min, qint64 max)
{
    std::optional<qint64> value;
    std::optional<QString> text;
    if (const auto *number = node.as_integer()) {
        value = number->get();
    } else if (node.is_string()) {
        text = expanded(node, keyPath);
        if (!text)
            return std::nullopt;
        const auto bytes = parseSize(*text);
        if (!bytes) {
            error(node.source(), keyPath, bytes.error().message);
            return std::nullopt;
        }
        value = *bytes;
    }
    if (!value || *value < min || *value > max) {
        expected(node, keyPath, sizeExpectation(min, max), text);
        return std::nullopt;
    }
    return value;
}

std::optional<QString> ConfigContext::choice(const toml::node &node,
                                             const QString &keyPath,
                                             const QStringList &choices,
                                             const QList<PlannedChoice> &planned)
{
    QStringList quotedChoices;
    for (const QString &choice : choices)
        quotedChoices.append(quoted(choice));
    const QString what =
        (choices.size() == 1 ? QString() : u"one of "_s) + quotedChoices.join(u", "_s);
    if (!node.is_string()) {
        expected(node, keyPath, what);
        return std::nullopt;
    }
    auto text = expanded(node, keyPath);
    if (text && !choices.contains(*text)) {
        QString reason;
        for (const PlannedChoice &choice : planned) {
            if (choice.value == *text)
                reason = choice.reason;
        }
        expected(node, keyPath, what, text, reason);
        return std::nullopt;
    }
    return text;
}

std::optional<QStringList>
ConfigContext::stringList(const toml::node &node, const QString &keyPath, StringRule rule)
{
    const auto *array = node.as_array();
    if (!array) {
        expected(node, keyPath, u"an array of strings"_s);
        return std::nullopt;
    }
    QStringList list;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const auto text = string((*array)[i], joinIndex(keyPath, qsizetype(i)), rule);
        ok = ok && text.has_value();
        if (text)
            list.append(*text);
    }
    return ok ? std::optional<QStringList>(list) : std::nullopt;
}

QVariant ConfigContext::variant(const toml::node &node, const QString &keyPath)
{
    switch (node.type()) {
    case toml::node_type::string:
        return expanded(node, keyPath).value_or(QString());
    case toml::node_type::integer:
        return QVariant::fromValue(qint64(node.as_integer()->get()));
    case toml::node_type::floating_point:
        return node.as_floating_point()->get();
    case toml::node_type::boolean:
        return node.as_boolean()->get();
    case toml::node_type::table:
        return variantMap(*node.as_table(), keyPath);
    case toml::node_type::array: {
        QVariantList list;
        const auto &array = *node.as_array();
        for (std::size_t i = 0; i < array.size(); ++i)
            list.append(variant(array[i], joinIndex(keyPath, qsizetype(i))));
        return list;
    }
    default: // dates and times, as ISO 8601 strings
        return printNode(node);
    }
}

QVariantMap ConfigContext::variantMap(const toml::table &table, const QString &keyPath)
{
    QVariantMap map;
    for (auto &&[key, value] : table)
        map.insert(fromStd(key.str()), variant(value, joinKey(keyPath, key.str())));
    return map;
}

TableReader::TableReader(ConfigContext &context, const toml::table &table, QString path)
    : m_context(context)
    , m_table(table)
    , m_path(std::move(path))
{ }

int TableReader::line() const
{
    return int(m_table.source().begin.line);
}

const toml::node *TableReader::node(std::string_view key)
{
    m_known.emplace_back(key);
    return m_table.get(key);
}

void TableReader::missing(std::string_view key)
{
    m_context.error(m_table.source(), joinKey(m_path, key), u"required key is missing"_s);
}

const toml::table *TableReader::table(std::string_view key)
{
    const auto *value = node(key);
    if (!value)
        return nullptr;
    if (const auto *table = value->as_table())
        return table;
    m_context.expected(*value, joinKey(m_path, key), u"a table"_s);
    return nullptr;
}

std::vector<TableReader::Element> TableReader::tableArray(std::string_view key)
{
    const auto *value = node(key);
    if (!value)
        return {};
    const QString path = joinKey(m_path, key);
    const auto *array = value->as_array();
    if (!array) {
        m_context.expected(*value, path, u"an array of tables ([[%1]])"_s.arg(path));
        return {};
    }
    std::vector<Element> elements;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const QString elementPath = joinIndex(path, qsizetype(i));
        if (const auto *table = (*array)[i].as_table())
            elements.push_back({elementPath, table});
        else
            m_context.expected((*array)[i], elementPath, u"a table"_s);
    }
    return elements;
}

void TableReader::finish()
{
    for (auto &&[key, value] : m_table) {
        if (std::find(m_known.begin(), m_known.end(), key.str()) != m_known.end())
            continue;
        const QString name = fromStd(key.str());
        QString suggestion;
        int best = 3; // suggest only within an edit distance of 2
        for (const std::string &known : m_known) {
            const int distance = levenshtein(name, fromStd(known));
            if (distance < best) {
                best = distance;
                suggestion = fromStd(known);
            }
        }
        QString message = u"unknown key"_s;
        if (!suggestion.isEmpty())
            message += u" (did you mean '%1'?)"_s.arg(suggestion);
        m_context.warning(key.source(), joinKey(m_path, key.str()), message);
    }
}

} // namespace Mtw::Internal
