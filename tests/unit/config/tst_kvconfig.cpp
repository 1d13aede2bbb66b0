// SPDX-License-Identifier: MIT
// The [[kv]] section: its keys, defaults, checks (with line numbers) and toToml() round trip.
#include <mtw/config.h>
#include <mtw/configschema.h>

#include <QTest>

using namespace Qt::Literals::StringLiterals;

namespace {

Mtw::ConfigLoadResult parse(const QString &toml)
{
    return Mtw::parseConfig(toml, u"mtw.toml"_s, QProcessEnvironment());
}

QStringList diagnosticStrings(const Mtw::ConfigLoadResult &result)
{
    QStringList list;
    for (const Mtw::ConfigDiagnostic &diagnostic : result.diagnostics)
        list.append(diagnostic.toString());
    return list;
}

} // namespace

class tst_KvConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void schemaDeclaresEveryKey();
    void defaults();
    void everyKey();
    void errors_data();
    void errors();
    void toTomlRoundTrip();
    void changesNeedARestart();
};

void tst_KvConfig::schemaDeclaresEveryKey()
{
    for (const char *name :
         {"kv[].name", "kv[].auth", "kv[].max_value_size", "kv[].max_keys", "kv[].ttl"}) {
        const auto key = Mtw::ConfigSchema::key(QString::fromLatin1(name));
        QVERIFY2(key.has_value(), name);
        QCOMPARE(key->apply, Mtw::ConfigApply::Restart);
    }
    QVERIFY(Mtw::ConfigSchema::key(u"kv[].name"_s)->required);
    QCOMPARE(Mtw::ConfigSchema::key(u"kv[].max_value_size"_s)->defaultText, u"\"64KB\""_s);
    // The generated docs table (docs/configuration.md) lists them.
    QVERIFY(Mtw::ConfigSchema::markdown().contains(u"kv[].max_keys"_s));
}

void tst_KvConfig::defaults()
{
    const auto result = parse(u"[[kv]]\nname = \"room.*\"\n"_s);
    QCOMPARE(diagnosticStrings(result), QStringList());
    QCOMPARE(result.config.kv.size(), 1);
    const Mtw::KvBucketConfig &bucket = result.config.kv.first();
    QCOMPARE(bucket.name, u"room.*"_s);
    QCOMPARE(bucket.auth, false);
    QCOMPARE(bucket.maxValueSize, qint64(64000));
    QCOMPARE(bucket.maxKeys, 10000);
    QCOMPARE(bucket.ttl, 0);
    QCOMPARE(bucket.line, 1);
    QVERIFY(parse(QString()).config.kv.isEmpty()); // no bucket exists by default
}

void tst_KvConfig::everyKey()
{
    const auto result = parse(u"[server]\nport = 1\n\n[[kv]]\nname = \"rooms\"\nauth = true\n"
                              "max_value_size = \"1KiB\"\nmax_keys = 5\nttl = 60\n"_s);
    QCOMPARE(diagnosticStrings(result), QStringList());
    const Mtw::KvBucketConfig &bucket = result.config.kv.first();
    QCOMPARE(bucket.auth, true);
    QCOMPARE(bucket.maxValueSize, qint64(1024));
    QCOMPARE(bucket.maxKeys, 5);
    QCOMPARE(bucket.ttl, 60);
    QCOMPARE(bucket.line, 4);
    QCOMPARE(Mtw::ConfigSchema::value(result.config, u"kv[0].max_keys"_s), QVariant(5));
}

void tst_KvConfig::errors_data()
{
    QTest::addColumn<QString>("toml");
    QTest::addColumn<QString>("expected");
    QTest::newRow("reserved name")
        << u"[[kv]]\nname = \"$x\""_s
        << u"mtw.toml:2:8: kv[0].name: expected a bucket name or pattern (dot-separated "
           "segments, \"*\" for one segment, a final \"**\" for the rest; at most 251 "
           "characters, not starting with \"$\"), got \"$x\""_s;
    QTest::newRow("name missing") << u"[[kv]]\nauth = true"_s
                                  << u"mtw.toml:1:1: kv[0].name: required key is missing"_s;
    QTest::newRow("duplicate")
        << u"[[kv]]\nname = \"a\"\n[[kv]]\nname = \"a\""_s
        << u"mtw.toml:4:8: kv[1].name: duplicate bucket \"a\" (defined at lines 1 and 3)"_s;
    QTest::newRow("size") << u"[[kv]]\nname = \"a\"\nmax_value_size = \"huge\""_s
                          << u"mtw.toml:3:18: kv[0].max_value_size: invalid size \"huge\": "
                             "expected a number followed by B, KB, MB, GB, TB, KiB, MiB, GiB "
                             "or TiB"_s;
    QTest::newRow("max_keys") << u"[[kv]]\nname = \"a\"\nmax_keys = 0"_s
                              << u"mtw.toml:3:12: kv[0].max_keys: expected an integer "
                                 "1-10000000, got 0"_s;
    QTest::newRow("ttl") << u"[[kv]]\nname = \"a\"\nttl = -1"_s
                         << u"mtw.toml:3:7: kv[0].ttl: expected an integer 0-31536000, got -1"_s;
    QTest::newRow("auth") << u"[[kv]]\nname = \"a\"\nauth = \"yes\""_s
                          << u"mtw.toml:3:8: kv[0].auth: expected a boolean, got \"yes\""_s;
    QTest::newRow("unknown key") << u"[[kv]]\nname = \"a\"\nbogus = 1"_s
                                 << u"mtw.toml:3:1: warning: kv[0].bogus: unknown key"_s;
}

void tst_KvConfig::errors()
{
    QFETCH(QString, toml);
    QFETCH(QString, expected);
    QCOMPARE(diagnosticStrings(parse(toml)), QStringList{expected});
}

void tst_KvConfig::toTomlRoundTrip()
{
    Mtw::Config config;
    config.kv.append(Mtw::KvBucketConfig{.name = u"rooms"_s,
                                         .auth = true,
                                         .maxValueSize = 1000,
                                         .maxKeys = 7,
                                         .ttl = 30});
    config.kv.append(Mtw::KvBucketConfig{.name = u"room.*"_s});
    const QString toml = config.toToml(false);
    QVERIFY(toml.contains(u"[[kv]]\nname = \"rooms\"\nauth = true\nmax_value_size = \"1KB\""_s));
    const auto again = parse(toml);
    QCOMPARE(diagnosticStrings(again), QStringList());
    QVERIFY(again.config == config);
}

void tst_KvConfig::changesNeedARestart()
{
    Mtw::Config old;
    old.kv.append(Mtw::KvBucketConfig{.name = u"rooms"_s});
    Mtw::Config next = old;
    next.kv[0].maxKeys = 3;
    const auto changes = Mtw::diffConfigs(old, next);
    QCOMPARE(changes.size(), 1);
    QCOMPARE(changes.first().key, u"kv[0].max_keys"_s);
    QCOMPARE(Mtw::restartRequiredKeys(changes), QStringList{u"kv[0].max_keys"_s});
}

QTEST_GUILESS_MAIN(tst_KvConfig)
#include "tst_kvconfig.moc"
