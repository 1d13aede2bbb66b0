// SPDX-License-Identifier: MIT
// mtw.toml → Config, driven by the schema (configkeys.cpp): every key is read and checked as
// declared there; TableReader does the reporting.

#include "config_p.h"
#include "configreader_p.h"

#include <QHash>
#include <QHostAddress>

#include <algorithm>
#include <map>
#include <memory>

using namespace Qt::Literals::StringLiterals;

namespace Mtw::Internal {

namespace {

std::string_view view(const QByteArray &utf8)
{
    return std::string_view(utf8.constData(), std::size_t(utf8.size()));
}

// The value of `node` as `key` declares it, or nullopt (reported).
std::optional<QVariant>
readValue(ConfigContext &context, const KeySpec &key, const toml::node &node, const QString &path)
{
    switch (key.type) {
    case KeyType::Boolean:
        if (const auto flag = context.boolean(node, path))
            return QVariant(*flag);
        break;
    case KeyType::Integer:
        if (const auto number = context.integer(node, path, key.min, key.max))
            return QVariant(int(*number));
        break;
    case KeyType::Size:
        if (const auto bytes = context.size(node, path, key.min, key.max))
            return QVariant::fromValue(*bytes);
        break;
    case KeyType::String:
        if (auto text = context.string(node, path, key.rule))
            return QVariant(*text);
        break;
    case KeyType::Choice:
        if (auto text = context.choice(node, path, key.choices, key.planned))
            return QVariant(*text);
        break;
    case KeyType::StringList:
        if (auto list = context.stringList(node, path, key.rule))
            return QVariant(*list);
        break;
    case KeyType::Table:
        // A module's own table: its keys are the module's business, so no unknown-key warnings.
        if (const auto *table = node.as_table())
            return QVariant(context.variantMap(*table, path));
        context.expected(node, path, u"a table"_s);
        break;
    }
    return std::nullopt;
}

// Reads the keys of `section` from `reader` into `config` (into entry `entry` for arrays).
void readKeys(ConfigContext &context,
              TableReader &reader,
              const SectionSpec &section,
              Config &config,
              qsizetype entry)
{
    for (const KeySpec &key : section.keys) {
        const QByteArray name = key.name.toUtf8();
        const toml::node *node = reader.node(view(name));
        if (!node) {
            if (key.required)
                reader.missing(view(name));
            continue;
        }
        if (auto value = readValue(context, key, *node, joinKey(reader.path(), view(name))))
            key.set(config, entry, *value);
    }
}

// Reads every [[key]] table of an array section; entries whose unique key repeats an earlier
// one are errors naming both lines.
void readEntries(ConfigContext &context,
                 TableReader &parent,
                 std::string_view leaf,
                 const SectionSpec &section,
                 Config &config)
{
    const KeySpec *unique = nullptr;
    for (const KeySpec &key : section.keys) {
        if (key.name == section.uniqueKey)
            unique = &key;
    }
    QHash<QString, int> firstLine;
    for (const auto &element : parent.tableArray(leaf)) {
        TableReader reader(context, *element.table, element.path);
        const qsizetype entry = section.append(config);
        section.setLine(config, entry, reader.line());
        readKeys(context, reader, section, config, entry);
        reader.finish();
        if (!unique)
            continue;
        const QString value = unique->get(config, entry).toString();
        if (value.isEmpty()) // missing or invalid, already reported
            continue;
        if (!firstLine.contains(value)) {
            firstLine.insert(value, reader.line());
            continue;
        }
        const QByteArray name = unique->name.toUtf8();
        context.error(element.table->get(view(name))->source(),
                      joinKey(element.path, view(name)),
                      u"duplicate %1 %2 (defined at lines %3 and %4)"_s.arg(
                          section.noun,
                          quoted(value),
                          QString::number(firstLine.value(value)),
                          QString::number(reader.line())));
    }
}

// Walks the schema's sections in order; each is read from its parent table's reader, so a
// section's table is known to its parent and everything else there is an unknown key.
void readSections(ConfigContext &context, const toml::table &root, Config &config)
{
    std::map<QString, std::unique_ptr<TableReader>> readers; // the tables present, by path
    readers.emplace(QString(), std::make_unique<TableReader>(context, root, QString()));
    for (const SectionSpec &section : schemaSections()) {
        const qsizetype dot = section.path.lastIndexOf(QLatin1Char('.'));
        const auto parent = readers.find(dot < 0 ? QString() : section.path.left(dot));
        if (parent == readers.end()) // absent, or not a table (reported)
            continue;
        TableReader &reader = *parent->second;
        const QByteArray leaf = section.path.mid(dot + 1).toUtf8();
        if (section.isRefused()) {
            if (const toml::node *node = reader.node(view(leaf))) {
                const bool array = section.kind == SectionSpec::Kind::Array;
                context.error(node->source(),
                              section.path,
                              u"%1; remove the %2 %3"_s.arg(section.refusal,
                                                            section.header(),
                                                            array ? u"tables"_s : u"table"_s));
            }
        } else if (section.kind == SectionSpec::Kind::Array) {
            readEntries(context, reader, view(leaf), section, config);
        } else if (const toml::table *table = reader.table(view(leaf))) {
            auto child = std::make_unique<TableReader>(context, *table, section.path);
            readKeys(context, *child, section, config, 0);
            readers.emplace(section.path, std::move(child));
        }
    }
    for (auto &[path, reader] : readers)
        reader->finish();
}

// [orchestrator] against [[agents]]: the pipeline names agents that exist, and is given with
// strategy "pipeline" and only then (a key that is read must act).
void checkOrchestrator(ConfigContext &context, const toml::table &root, const Config &config)
{
    const toml::table *table = root["orchestrator"].as_table();
    if (!table)
        return;
    const OrchestratorConfig &orchestrator = config.orchestrator;
    const bool isPipeline = orchestrator.strategy == u"pipeline";
    const toml::node *pipeline = table->get("pipeline");
    const toml::node *strategy = table->get("strategy");
    const bool reported =
        (strategy && strategy->value<std::string>() != orchestrator.strategy.toStdString())
        || (pipeline && orchestrator.pipeline.isEmpty()
            && !(pipeline->is_array() && pipeline->as_array()->empty()));
    if (reported)
        return; // a bad value, already an error
    if (isPipeline && orchestrator.pipeline.isEmpty()) {
        const toml::node *at = pipeline ? pipeline : strategy;
        context.error(at->source(),
                      u"orchestrator.pipeline"_s,
                      u"strategy \"pipeline\" needs the agents in order, e.g. pipeline = "
                      u"[\"draft\", \"review\"]"_s);
        return;
    }
    if (!pipeline || orchestrator.pipeline.isEmpty())
        return;
    if (!isPipeline) {
        context.error(pipeline->source(),
                      u"orchestrator.pipeline"_s,
                      u"only strategy \"pipeline\" uses it (strategy is %1); remove it or set "
                      u"strategy = \"pipeline\""_s.arg(quoted(orchestrator.strategy)));
        return;
    }
    const toml::array *names = pipeline->as_array();
    for (qsizetype i = 0; names && i < orchestrator.pipeline.size(); ++i) {
        const QString &name = orchestrator.pipeline.at(i);
        const bool known =
            std::any_of(config.agents.cbegin(),
                        config.agents.cend(),
                        [&](const AgentConfig &agent) { return agent.name == name; });
        if (!known)
            context.error(names->get(std::size_t(i))->source(),
                          u"orchestrator.pipeline[%1]"_s.arg(i),
                          u"no [[agents]] entry is named %1"_s.arg(quoted(name)));
    }
}

// Bytes in the UTF-8 sequence that `lead` starts; 0 when it cannot start one.
int sequenceLength(uchar lead)
{
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0)
        return 2;
    if ((lead & 0xF0) == 0xE0)
        return 3;
    if ((lead & 0xF8) == 0xF0)
        return 4;
    return 0;
}

// Offset of the first byte that does not start a valid UTF-8 sequence, or -1. toml++ checks too, but
// reports the character before the bad byte.
qsizetype firstInvalidUtf8(const QByteArray &bytes)
{
    static constexpr char32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000}; // overlong below these
    const auto *data = reinterpret_cast<const uchar *>(bytes.constData());
    const qsizetype size = bytes.size();
    for (qsizetype i = 0; i < size;) {
        const int length = sequenceLength(data[i]);
        if (length == 0 || i + length > size)
            return i;
        char32_t cp = data[i] & (0x7F >> length);
        for (int k = 1; k < length; ++k) {
            if ((data[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (data[i + k] & 0x3F);
        }
        if (cp < minimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += length;
    }
    return -1;
}

ConfigDiagnostic invalidUtf8(const QByteArray &bytes, qsizetype offset, const QString &fileName)
{
    const qsizetype lineStart = bytes.lastIndexOf('\n', offset - 1) + 1; // 0 when none
    int column = 1;
    for (qsizetype i = lineStart; i < offset; ++i) {
        if ((uchar(bytes[i]) & 0xC0) != 0x80) // count characters, not continuation bytes
            ++column;
    }
    ConfigDiagnostic diagnostic;
    diagnostic.file = fileName;
    diagnostic.line = int(bytes.left(offset).count('\n')) + 1;
    diagnostic.column = column;
    diagnostic.message =
        u"not valid UTF-8 (byte 0x%1)"_s.arg(uchar(bytes[offset]), 2, 16, QLatin1Char('0'));
    return diagnostic;
}

} // namespace

bool isAddressRange(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.contains(QLatin1Char('/')))
        return QHostAddress::parseSubnet(trimmed).second >= 0;
    return !QHostAddress(trimmed).isNull();
}

bool isChannelPattern(const QString &name)
{
    const QStringList segments = name.split(QLatin1Char('.'));
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const QString &segment = segments[i];
        if (segment.isEmpty())
            return false;
        if (segment == u"*"_s || (segment == u"**"_s && i == segments.size() - 1))
            continue;
        if (segment.contains(QLatin1Char('*')))
            return false;
    }
    return true;
}

ConfigLoadResult
parseConfigUtf8(const QByteArray &utf8, const QString &fileName, const QProcessEnvironment &env)
{
    ConfigLoadResult result;
    if (const qsizetype bad = firstInvalidUtf8(utf8); bad >= 0) {
        result.diagnostics.append(invalidUtf8(utf8, bad, fileName));
        return result;
    }
    toml::table root;
    try {
        root = toml::parse(std::string_view(utf8.constData(), std::size_t(utf8.size())));
    } catch (const toml::parse_error &error) {
        // toml++ stops at the first syntax error.
        ConfigDiagnostic diagnostic;
        diagnostic.file = fileName;
        diagnostic.line = int(error.source().begin.line);
        diagnostic.column = int(error.source().begin.column);
        const std::string_view description = error.description();
        diagnostic.message = QString::fromUtf8(description.data(), qsizetype(description.size()));
        result.diagnostics.append(diagnostic);
        return result;
    }
    ConfigContext context(fileName, env);
    readSections(context, root, result.config);
    checkOrchestrator(context, root, result.config);
    result.diagnostics = context.takeDiagnostics();
    return result;
}

} // namespace Mtw::Internal

namespace Mtw {

ConfigLoadResult
parseConfig(const QString &text, const QString &fileName, const QProcessEnvironment &env)
{
    return Internal::parseConfigUtf8(text.toUtf8(), fileName, env);
}

} // namespace Mtw
