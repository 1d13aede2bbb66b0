// SPDX-License-Identifier: MIT
// The schema and what is derived from it, key by key: the parser's checks (range, choices,
// unknown keys), toToml() round trips, diffConfigs()'s classification, live changes, the table.

#include "configsamples.h"

#include <mtw/config.h>
#include <mtw/configschema.h>

#include <QLoggingCategory>
#include <QTest>

using namespace Qt::Literals::StringLiterals;
using Mtw::ConfigApply;
using Mtw::ConfigChange;
using Mtw::ConfigKey;

Q_DECLARE_METATYPE(Mtw::ConfigKey)

namespace {

Mtw::Config parse(const QString &toml)
{
    return Mtw::parseConfig(toml, u"mtw.toml"_s, QProcessEnvironment()).config;
}

QStringList diagnosticStrings(const QString &toml)
{
    QStringList list;
    for (const auto &d : Mtw::parseConfig(toml, u"mtw.toml"_s, QProcessEnvironment()).diagnostics)
        list.append(d.toString());
    return list;
}

// One row per key of the schema.
void keyRows(bool withType(const ConfigKey &))
{
    QTest::addColumn<ConfigKey>("key");
    for (const ConfigKey &key : Mtw::ConfigSchema::keys()) {
        if (withType(key))
            QTest::newRow(qPrintable(key.name)) << key;
    }
}

bool any(const ConfigKey &)
{
    return true;
}

bool numeric(const ConfigKey &key)
{
    return key.type == ConfigKey::Type::Integer || key.type == ConfigKey::Type::Size;
}

QString header(const ConfigKey &key)
{
    QString section = key.name.left(key.name.lastIndexOf(u'.'));
    if (!key.isEntryKey())
        return u"[%1]\n"_s.arg(section);
    section.chop(2);
    // An agent needs its provider too; every other entry only its name.
    if (section == u"agents")
        return u"[[agents]]\nname = \"a\"\nprovider = \"p\"\n"_s;
    return u"[[%1]]\nname = \"a\"\n"_s.arg(section);
}

QString leaf(const ConfigKey &key)
{
    return key.name.mid(key.name.lastIndexOf(u'.') + 1);
}

QString concrete(const ConfigKey &key)
{
    return QString(key.name).replace(u"[]"_s, u"[0]"_s);
}

} // namespace

class tst_ConfigSchema : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QLoggingCategory::setFilterRules(QString()); }

    void keysAreUniqueAndDocumented();
    void lookup();
    void roundTripAtOtherValue_data() { keyRows(any); }
    void roundTripAtOtherValue();
    void diffClassifiesAsDeclared_data() { keyRows(any); }
    void diffClassifiesAsDeclared();
    void rangeViolation_data() { keyRows(numeric); }
    void rangeViolation();
    void choiceViolation_data();
    void choiceViolation();
    void unknownKey_data();
    void unknownKey();
    void diffEntriesAndModuleTables();
    void liveKeys();
    void applyLiveChanges();
    void markdownTable();
};

void tst_ConfigSchema::keysAreUniqueAndDocumented()
{
    QStringList names;
    for (const ConfigKey &key : Mtw::ConfigSchema::keys()) {
        QVERIFY2(!names.contains(key.name), qPrintable(key.name));
        names.append(key.name);
        QVERIFY2(!key.doc.isEmpty() && !key.doc.contains(u'\n'), qPrintable(key.name));
        // codec and model: empty means another key's value (codec.default, default_model).
        QVERIFY2(key.required || !key.defaultText.isEmpty() || key.name == "channels[].codec"_L1
                     || key.name == "agents[].model"_L1,
                 qPrintable(key.name));
    }
    QVERIFY(names.contains(u"server.decision_timeout_ms"_s));
    QVERIFY(names.contains(u"transport.websocket.max_queue_size"_s));
    QVERIFY(names.contains(u"channels[].history"_s));
    QVERIFY(names.contains(u"transport.http.api_key"_s));
    QVERIFY(names.contains(u"orchestrator.pipeline"_s));
}

void tst_ConfigSchema::lookup()
{
    const auto timeout = Mtw::ConfigSchema::key(u"server.decision_timeout_ms"_s);
    QVERIFY(timeout);
    QCOMPARE(timeout->type, ConfigKey::Type::Integer);
    QCOMPARE(timeout->defaultValue, QVariant(1000));
    QCOMPARE(timeout->minimum, qint64(10));
    QCOMPARE(timeout->maximum, qint64(60000));
    QCOMPARE(timeout->apply, ConfigApply::Live); // each worker's next decision
    QCOMPARE(Mtw::ConfigSchema::key(u"server.workers"_s)->apply, ConfigApply::Restart);
    QCOMPARE(timeout->typeText, u"integer (milliseconds)"_s);
    QCOMPARE(Mtw::ConfigSchema::key(u"channels[3].history"_s)->name, u"channels[].history"_s);
    QVERIFY(!Mtw::ConfigSchema::key(u"server.prot"_s));
    QVERIFY(!Mtw::ConfigSchema::key(u"channels.history"_s)); // an entry key needs its []
    QCOMPARE(Mtw::ConfigSchema::key(u"orchestrator.strategy"_s)->defaultValue,
             QVariant(u"channel-based"_s));

    Mtw::Config config;
    config.server.decisionTimeoutMs = 250;
    config.channels.append(Mtw::ChannelConfig{.name = u"a"_s, .history = 7});
    QCOMPARE(Mtw::ConfigSchema::value(config, u"server.decision_timeout_ms"_s), QVariant(250));
    QCOMPARE(Mtw::ConfigSchema::value(config, u"channels[0].history"_s), QVariant(7));
    QVERIFY(Mtw::ConfigSchema::value(config, u"channels[1].history"_s).isNull());
    QVERIFY(Mtw::ConfigSchema::value(config, u"channels[].history"_s).isNull());
}

void tst_ConfigSchema::roundTripAtOtherValue()
{
    QFETCH(ConfigKey, key);
    const KeySample sample = Samples::sample(key);
    if (sample.changed.isEmpty()) {
        // transport.default: nothing else is implemented; orchestrator.pipeline is valid only
        // with the [[agents]] it names and strategy "pipeline" (tst_config's orchestrator rows).
        QVERIFY2(key.choices.size() == 1 || key.name == u"orchestrator.pipeline"_s,
                 qPrintable(key.name));
        return;
    }
    const Mtw::Config config = parse(sample.changed);
    const QVariant value = Mtw::ConfigSchema::value(config, sample.key);
    QVERIFY2(value != key.defaultValue, qPrintable(sample.changed));

    const QString written = config.toToml(false);
    const auto reread = Mtw::parseConfig(written, u"written.toml"_s, QProcessEnvironment());
    QVERIFY2(reread.diagnostics.isEmpty(), qPrintable(written));
    QCOMPARE(Mtw::ConfigSchema::value(reread.config, sample.key), value);
    QVERIFY(reread.config == config);
    QCOMPARE(reread.config.toToml(false), written);
}

void tst_ConfigSchema::diffClassifiesAsDeclared()
{
    QFETCH(ConfigKey, key);
    const KeySample sample = Samples::sample(key);
    if (sample.changed.isEmpty())
        return; // see roundTripAtOtherValue
    const Mtw::Config base = parse(sample.base);
    const Mtw::Config changed = parse(sample.changed);
    QVERIFY(Mtw::diffConfigs(base, base).isEmpty());

    const QList<ConfigChange> changes = Mtw::diffConfigs(base, changed);
    if (key.type == ConfigKey::Type::Table) { // a module's table is compared key by key
        QCOMPARE(changes.size(), 1);
        QCOMPARE(changes.first().key, sample.key + u".changed"_s);
        QCOMPARE(changes.first().apply, key.apply);
        return;
    }
    const QList<ConfigChange> expected{{sample.key,
                                        Mtw::ConfigSchema::value(base, sample.key),
                                        Mtw::ConfigSchema::value(changed, sample.key),
                                        key.apply}};
    QCOMPARE(changes, expected);
    QCOMPARE(Mtw::restartRequiredKeys(changes),
             key.apply == ConfigApply::Restart ? QStringList{sample.key} : QStringList());
}

void tst_ConfigSchema::rangeViolation()
{
    QFETCH(ConfigKey, key);
    const bool integer = key.type == ConfigKey::Type::Integer;
    const bool unbounded = key.maximum
        == (integer ? qint64(std::numeric_limits<int>::max()) : std::numeric_limits<qint64>::max());
    // Message shapes as documented in docs/configuration.md.
    QString range;
    if (integer && unbounded)
        range = u"an integer >= %1"_s.arg(key.minimum);
    else if (integer)
        range = u"an integer %1-%2"_s.arg(key.minimum).arg(key.maximum);
    else if (unbounded) // allowed: ">= 1KiB"
        range = u"a size of at least "_s + key.allowed.mid(3);
    else // allowed: "1KiB-1GiB"
        range = u"a size from "_s + QString(key.allowed).replace(u'-', u" to "_s);

    QList<qint64> outside{key.minimum - 1};
    if (!unbounded)
        outside.append(key.maximum + 1);
    for (const qint64 value : outside) {
        const QString toml = header(key) + leaf(key) + u" = "_s + QString::number(value);
        const int line = int(toml.count(u'\n')) + 1;
        const QString expected = u"mtw.toml:%1:%2: %3: expected %4, got %5"_s.arg(line)
                                     .arg(leaf(key).size() + 4)
                                     .arg(concrete(key), range)
                                     .arg(value);
        QCOMPARE(diagnosticStrings(toml), QStringList{expected});
    }
}

void tst_ConfigSchema::choiceViolation_data()
{
    keyRows([](const ConfigKey &key) { return key.type == ConfigKey::Type::Choice; });
}

void tst_ConfigSchema::choiceViolation()
{
    QFETCH(ConfigKey, key);
    QStringList quoted;
    for (const QString &choice : std::as_const(key.choices))
        quoted.append(u'"' + choice + u'"');
    const QString allowed = (quoted.size() > 1 ? u"one of "_s : QString()) + quoted.join(u", "_s);
    const QString toml = header(key) + leaf(key) + u" = \"nope\""_s;
    QCOMPARE(
        diagnosticStrings(toml),
        QStringList{u"mtw.toml:%1:%2: %3: expected %4, got \"nope\""_s.arg(toml.count(u'\n') + 1)
                        .arg(leaf(key).size() + 4)
                        .arg(concrete(key), allowed)});
}

void tst_ConfigSchema::unknownKey_data()
{
    QTest::addColumn<QString>("section");
    QStringList sections;
    for (const ConfigKey &key : Mtw::ConfigSchema::keys()) {
        const QString section = key.name.left(key.name.lastIndexOf(u'.'));
        if (!sections.contains(section))
            sections.append(section);
    }
    for (const QString &section : std::as_const(sections))
        QTest::newRow(qPrintable(section)) << section;
}

void tst_ConfigSchema::unknownKey()
{
    QFETCH(QString, section);
    const bool entry = section.endsWith(u"[]"_s);
    const QString name = entry ? section.chopped(2) : section;
    // An agent needs its provider as well as its name.
    const QString required =
        name == u"agents"_s ? u"name = \"a\"\nprovider = \"p\"\n"_s : u"name = \"a\"\n"_s;
    const QString toml = entry ? u"[[%1]]\n%2histroy = 1\n"_s.arg(name, required)
                               : u"[%1]\nhistroy = 1\n"_s.arg(name);
    const QString path = entry ? name + u"[0]"_s : name;
    const auto result = Mtw::parseConfig(toml, u"mtw.toml"_s, QProcessEnvironment());
    QVERIFY(!result.hasErrors()); // a warning: the file still loads
    const QString suggestion = name == u"channels"_s ? u" (did you mean 'history'?)"_s : QString();
    QCOMPARE(diagnosticStrings(toml),
             QStringList{
                 u"mtw.toml:%1:1: warning: %2.histroy: unknown key%3"_s.arg(int(toml.count(u'\n')))
                     .arg(path, suggestion)});
}

void tst_ConfigSchema::diffEntriesAndModuleTables()
{
    const Mtw::Config base = parse(u"[[channels]]\nname = \"a\"\n\n"
                                   "[[modules]]\nname = \"m\"\n"
                                   "config = { secret = \"s1\", db = { host = \"h\" } }\n"_s);
    // Layout and positions are not configuration.
    const Mtw::Config moved = parse(u"# moved\n[[modules]]\nname = \"m\"\n"
                                    "[modules.config]\nsecret = \"s1\"\ndb = { host = \"h\" }\n"
                                    "[[channels]]\nname = \"a\"\n"_s);
    QCOMPARE(Mtw::diffConfigs(base, moved), QList<ConfigChange>());
    QVERIFY(base == moved);

    Mtw::Config next = base;
    next.modules[0].config =
        QVariantMap{{u"secret"_s, u"s2"_s}, {u"db"_s, QVariantMap{{u"host"_s, u"h2"_s}}}};
    next.channels.append(Mtw::ChannelConfig{.name = u"b"_s});
    const QList<ConfigChange> changes = Mtw::diffConfigs(base, next);
    QCOMPARE(changes.size(), 3);
    QCOMPARE(changes.at(0).key, u"modules[0].config.db.host"_s);
    QCOMPARE(changes.at(0).oldValue, QVariant(u"h"_s));
    QCOMPARE(changes.at(0).newValue, QVariant(u"h2"_s));
    QCOMPARE(changes.at(1).key, u"modules[0].config.secret"_s);
    QCOMPARE(changes.at(2).key, u"channels[1]"_s); // an entry only one side has
    QVERIFY(changes.at(2).oldValue.isNull());
    QCOMPARE(changes.at(2).newValue.toMap().value(u"name"_s), QVariant(u"b"_s));
    QCOMPARE(changes.at(2).newValue.toMap().value(u"history"_s), QVariant(50));
    // A module's own table needs a restart here (Server::applyConfig asks the module); every
    // key of [[channels]] is live, so an entry added or removed is too.
    QCOMPARE(changes.at(0).apply, ConfigApply::Restart);
    QCOMPARE(changes.at(1).apply, ConfigApply::Restart);
    QCOMPARE(changes.at(2).apply, ConfigApply::Live);

    const QList<ConfigChange> removed = Mtw::diffConfigs(next, base);
    QCOMPARE(removed.last().key, u"channels[1]"_s);
    QVERIFY(removed.last().newValue.isNull());
}

void tst_ConfigSchema::liveKeys()
{
    // A key is live only with what makes it take effect (applyLiveChanges, or the running
    // server's applyConfig for the TLS files and the config watch); adding one means adding
    // that, and this list.
    QStringList live;
    for (const ConfigKey &key : Mtw::ConfigSchema::keys()) {
        if (key.apply == ConfigApply::Live)
            live.append(key.name);
    }
    QCOMPARE(live,
             (QStringList{u"server.max_connections"_s,
                          u"server.max_channels"_s,
                          u"server.max_channels_per_connection"_s,
                          u"server.trusted_proxies"_s,
                          u"server.decision_timeout_ms"_s,
                          u"server.watch_config"_s,
                          u"server.tls.cert"_s,
                          u"server.tls.key"_s,
                          u"server.tls.ca"_s,
                          u"server.tls.client_auth"_s,
                          u"server.tls.min_version"_s,
                          u"transport.websocket.ping_interval"_s,
                          u"transport.websocket.max_message_size"_s,
                          u"transport.websocket.handshake_timeout"_s,
                          u"transport.websocket.max_queue_size"_s,
                          u"transport.websocket.allowed_origins"_s,
                          u"transport.websocket.max_pending_handshakes_per_ip"_s,
                          u"transport.websocket.max_protocol_errors"_s,
                          u"transport.websocket.rate_limit"_s,
                          u"transport.websocket.rate_burst"_s,
                          u"transport.http.api_key"_s,
                          u"transport.http.insecure"_s,
                          u"transport.http.max_body_size"_s,
                          u"transport.http.keepalive_timeout"_s,
                          u"codec.default"_s,
                          u"codec.binary_channels"_s,
                          u"channels[].name"_s,
                          u"channels[].auth"_s,
                          u"channels[].max_members"_s,
                          u"channels[].history"_s,
                          u"channels[].history_ttl"_s,
                          u"channels[].history_bytes"_s,
                          u"channels[].presence"_s,
                          u"channels[].codec"_s,
                          u"logging.level"_s,
                          u"logging.rules"_s}));
}

void tst_ConfigSchema::applyLiveChanges()
{
    QLoggingCategory category("mtw.schematest", QtInfoMsg);
    QVERIFY(!category.isDebugEnabled());

    Mtw::Config running;
    const Mtw::Config next =
        parse(u"[server]\nport = 9\n[logging]\nlevel = \"debug\"\nformat = \"json\"\n"_s);
    const QList<ConfigChange> changes = Mtw::applyLiveChanges(running, next);
    QCOMPARE(Mtw::restartRequiredKeys(changes),
             (QStringList{u"server.port"_s, u"logging.format"_s}));
    QCOMPARE(changes.size(), 3);
    QCOMPARE(running.logging.level, u"debug"_s); // taken
    QCOMPARE(running.logging.format, u"text"_s); // needs a restart: kept
    QCOMPARE(running.server.port, 8080);
    QVERIFY(category.isDebugEnabled());

    // Only the restart keys still differ; rules join the level in one set of filter rules.
    Mtw::Config quieter = next;
    quieter.logging.level = u"info"_s;
    quieter.logging.rules = u"mtw.schematest.info=false"_s;
    QCOMPARE(Mtw::restartRequiredKeys(Mtw::applyLiveChanges(running, quieter)),
             (QStringList{u"server.port"_s, u"logging.format"_s}));
    QVERIFY(!category.isDebugEnabled());
    QVERIFY(!category.isInfoEnabled());
    QVERIFY(category.isWarningEnabled());
}

void tst_ConfigSchema::markdownTable()
{
    const QString table = Mtw::ConfigSchema::markdown();
    const QStringList lines = table.split(u'\n');
    QCOMPARE(lines.at(0), u"| key | type | allowed | default | applies | meaning |"_s);
    for (const ConfigKey &key : Mtw::ConfigSchema::keys())
        QVERIFY2(table.contains(u"\n| `"_s + key.name + u"` | "_s), qPrintable(key.name));
    QVERIFY(lines.contains(
        u"| `server.decision_timeout_ms` | integer (milliseconds) | 10-60000 | `1000` | live | "
        "How long a module may take to answer a decision (authenticate, message filter, request "
        "handler) before it counts as a reject. Applies to asynchronous module answers. |"_s));
    QVERIFY(lines.contains(u"| `transport.websocket.max_queue_size` | size | >= 1KiB | `\"8MB\"` | "
                           "live | Outbound bytes queued per connection, counting every byte "
                           "(fan-out, replies, history, pongs); a slower consumer is "
                           "disconnected. One message up to `max_message_size` always fits into "
                           "an empty queue; a reply larger than both gets error 413. |"_s));
    QVERIFY(lines.contains(u"| `logging.level` | string | `\"debug\"`, `\"info\"`, `\"warning\"`, "
                           "`\"error\"` | `\"info\"` | live | Lowest level written for the "
                           "`mtw.*` categories. |"_s));
    for (const auto &[section, reason] : Mtw::ConfigSchema::refusedSections())
        QVERIFY2(table.contains(u"`: "_s + reason + u".\n"_s), qPrintable(section));
    // [transport.http], [[agents]] and [orchestrator] are implemented now: nothing is refused.
    QVERIFY(Mtw::ConfigSchema::refusedSections().isEmpty());
}

QTEST_GUILESS_MAIN(tst_ConfigSchema)
#include "tst_configschema.moc"
