// SPDX-License-Identifier: MIT
// Config files: the annotated default file, toToml() round trips and
// masking, loadConfigFile(), findConfigFile() and the MTW_* environment overrides.

#include <mtw/config.h>
#include <mtw/configschema.h>

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::Literals::StringLiterals;

Q_DECLARE_METATYPE(Mtw::Config)

namespace {

const QString DataDir = QStringLiteral(MTW_TEST_DATA_DIR "/config");
const QString SourceDir = QStringLiteral(MTW_SOURCE_DIR);

QProcessEnvironment envFrom(const QStringList &vars)
{
    QProcessEnvironment env;
    for (const QString &var : vars) {
        const qsizetype eq = var.indexOf(QLatin1Char('='));
        env.insert(var.left(eq), var.mid(eq + 1));
    }
    return env;
}

QStringList diagnosticStrings(const Mtw::ConfigLoadResult &result)
{
    QStringList list;
    for (const Mtw::ConfigDiagnostic &diagnostic : result.diagnostics)
        list.append(diagnostic.toString());
    return list;
}

QString readText(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QString();
    return QString::fromUtf8(file.readAll());
}

// "section.key" for every `key = value` line of TOML text, with `[[name]]` sections as
// "name[].key". With `commented`, lines starting with "# " count too (the file's examples).
QStringList keyPaths(const QString &toml, bool commented)
{
    static const QRegularExpression header(u"^\\[\\[?([a-z.]+)\\]\\]?$"_s);
    static const QRegularExpression keyLine(u"^([a-z_]+) = "_s);
    QStringList paths;
    QString section;
    for (QString line : toml.split(QLatin1Char('\n'))) {
        if (commented && line.startsWith(u"# "_s))
            line = line.mid(2);
        if (const auto match = header.match(line); match.hasMatch()) {
            section = match.captured(1) + (line.startsWith(u"[["_s) ? u"[]"_s : QString());
        } else if (const auto key = keyLine.match(line); key.hasMatch()) {
            paths.append(section + QLatin1Char('.') + key.captured(1));
        }
    }
    return paths;
}

Mtw::ModuleConfig moduleNamed(const QString &name)
{
    Mtw::ModuleConfig module;
    module.name = name;
    return module;
}

// One entry in each array of tables, so that toToml() writes their keys too.
Mtw::Config configWithEntries()
{
    Mtw::Config config;
    config.modules.append(moduleNamed(u"m"_s));
    config.channels.append(Mtw::ChannelConfig{.name = u"c"_s});
    return config;
}

Mtw::Config trickyConfig()
{
    Mtw::Config config;
    config.server.host = u"h\u00f6st \"quoted\" \\ back\tslash"_s;
    config.server.pluginsDir = u"${NOT_A_VAR} and $${two} and $$${three} and $"_s;
    config.transport.websocket.maxMessageSize = 1234567;   // no unit divides it
    config.transport.websocket.maxQueueSize = 3 * 1048576; // 3MiB
    config.codec.binaryChannels = QStringList{u"a\nb"_s, QString(), u"\u263a"_s};
    config.logging.rules = QString(QChar(0x01)) + u"\r\f\b"_s + QChar(0x7f);
    QVariantMap nested{
        {u"deep list"_s, QVariantList{QVariantMap{{u"x"_s, qint64(-1)}}, QVariantList{}}},
        {u"empty"_s, QVariantMap()}};
    config.modules.append(Mtw::ModuleConfig{u"m1"_s,
                                            u">=1.0"_s,
                                            false,
                                            true,
                                            {{u"int"_s, qint64(-9223372036854775807LL - 1)},
                                             {u"float"_s, 1.0},
                                             {u"big"_s, 1e300},
                                             {u"small"_s, -2.5e-10},
                                             {u"yes"_s, true},
                                             {u"text"_s, u"${literal}"_s},
                                             {u"key.with.dots"_s, u"v"_s},
                                             {u"nested"_s, nested}},
                                            12});
    config.modules.append(moduleNamed(u"m2"_s));
    config.channels.append(
        Mtw::ChannelConfig{u"c.**"_s, true, 5, 0, 60, 4096, true, u"binary"_s, 0});
    config.channels.append(Mtw::ChannelConfig{.name = u"*.x"_s});
    return config;
}

} // namespace

class tst_ConfigFile : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultFileIsDefaultConfig();
    void defaultFileShowsEveryKey();
    void roundTrip_data();
    void roundTrip();
    void toTomlWritesSizesWithUnits();
    void toTomlMasksSecrets();
    void loadFile();
    void loadFileReportsGivenPath();
    void loadMissingFile();
    void loadDirectory();
    void loadInvalidUtf8();
    void loadInvalidUtf8Sequences_data();
    void loadInvalidUtf8Sequences();
    void findConfigFile_data();
    void findConfigFile();
    void findConfigFileInCurrentDirectory();
    void environmentOverrides_data();
    void environmentOverrides();
};

void tst_ConfigFile::defaultFileIsDefaultConfig()
{
    const auto loaded =
        Mtw::loadConfigFile(SourceDir + u"/resources/mtw.toml"_s, QProcessEnvironment());
    QVERIFY2(loaded.has_value(), qPrintable(loaded ? QString() : loaded.error().message));
    QCOMPARE(diagnosticStrings(*loaded), QStringList());
    QVERIFY(loaded->config == Mtw::Config{});
    QCOMPARE(loaded->config.toToml(false), Mtw::Config{}.toToml(false));
}

void tst_ConfigFile::defaultFileShowsEveryKey()
{
    const QString file = readText(SourceDir + u"/resources/mtw.toml"_s);
    QVERIFY(!file.isEmpty());
    const QStringList active = keyPaths(file, false);
    const QStringList withExamples = keyPaths(file, true);
    QVERIFY(!Mtw::ConfigSchema::keys().isEmpty());
    for (const Mtw::ConfigKey &key : Mtw::ConfigSchema::keys()) {
        const QStringList &shown = key.isEntryKey() ? withExamples : active;
        QVERIFY2(shown.contains(key.name), qPrintable(key.name));
    }
    // ... and nothing the schema does not know (a refused section, a key dropped from it).
    for (const QString &path : withExamples)
        QVERIFY2(Mtw::ConfigSchema::key(path).has_value(), qPrintable(path));
    // Every key line in the file carries a comment line above it.
    const QStringList lines = file.split(QLatin1Char('\n'));
    static const QRegularExpression keyLine(u"^(# )?[a-z_]+ = "_s);
    for (qsizetype i = 1; i < lines.size(); ++i) {
        if (keyLine.match(lines[i]).hasMatch())
            QVERIFY2(lines[i - 1].startsWith(u"# "_s) || lines[i - 1].startsWith(u"# # "_s),
                     qPrintable(u"no comment above line %1: %2"_s.arg(i + 1).arg(lines[i])));
    }
}

void tst_ConfigFile::roundTrip_data()
{
    QTest::addColumn<Mtw::Config>("config");
    QTest::newRow("defaults") << Mtw::Config{};
    QTest::newRow("entries with defaults") << configWithEntries();
    QTest::newRow("tricky values") << trickyConfig();

    const auto full = Mtw::loadConfigFile(DataDir + u"/full.toml"_s,
                                          envFrom({u"JWT_SECRET=s3cr3t"_s, u"REDIS_HOST=cache"_s}));
    QVERIFY(full.has_value());
    QCOMPARE(diagnosticStrings(*full), QStringList());
    QTest::newRow("full.toml") << full->config;
}

void tst_ConfigFile::roundTrip()
{
    QFETCH(Mtw::Config, config);
    const QString text = config.toToml(false);
    // The environment must not matter: written strings carry no live ${...}.
    const auto parsed = Mtw::parseConfig(text, u"written.toml"_s, envFrom({u"NOT_A_VAR=oops"_s}));
    QVERIFY2(parsed.diagnostics.isEmpty(),
             qPrintable(diagnosticStrings(parsed).join(u'\n') + u'\n' + text));
    QVERIFY2(parsed.config == config,
             qPrintable(text + u"\n---\n"_s + parsed.config.toToml(false)));
    QCOMPARE(parsed.config.toToml(false), text);
}

void tst_ConfigFile::toTomlWritesSizesWithUnits()
{
    const QString text = Mtw::Config{}.toToml();
    QVERIFY(text.contains(u"\n[transport.websocket]\npath = \"/ws\"\n"_s));
    QVERIFY(text.contains(u"\nmax_message_size = \"10MB\"\n"_s));
    QVERIFY(text.contains(u"\nmax_queue_size = \"8MB\"\n"_s));
    QVERIFY(text.contains(u"\nport = 8080\n"_s));
    QVERIFY(text.startsWith(u"[server]\n"_s));
    QVERIFY(trickyConfig().toToml().contains(u"\nmax_message_size = 1234567\n"_s));
    QVERIFY(trickyConfig().toToml().contains(u"\nmax_queue_size = \"3MiB\"\n"_s));
}

void tst_ConfigFile::toTomlMasksSecrets()
{
    Mtw::Config config;
    const QVariantMap settings{
        {u"secret"_s, u"s1"_s},
        {u"API_KEY"_s, u"s2"_s},
        {u"apikey"_s, u"s3"_s},
        {u"db_password"_s, u"s4"_s},
        {u"passwd"_s, u"s5"_s},
        {u"private_key"_s, u"s6"_s},
        {u"Key"_s, u"s7"_s},
        {u"refresh_token"_s, u"s8"_s},
        {u"tokens"_s, QVariantList{u"s9"_s, u"s10"_s}},
        {u"auth"_s, QVariantMap{{u"client_secret"_s, u"s11"_s}, {u"user"_s, u"alice"_s}}},
        {u"token_ttl"_s, qint64(3600)},
        {u"keyboard"_s, u"qwerty"_s},
        {u"url"_s, u"redis://cache"_s},
    };
    config.modules.append(Mtw::ModuleConfig{u"m"_s, {}, true, false, settings});

    const QString masked = config.toToml(true);
    QVERIFY(config.toToml() == masked);
    for (int i = 1; i <= 11; ++i) {
        const QString secret = u"\"s%1\""_s.arg(i);
        QVERIFY2(!masked.contains(secret), qPrintable(secret + u" in\n"_s + masked));
    }
    const auto parsed = Mtw::parseConfig(masked, u"masked.toml"_s, {});
    QCOMPARE(diagnosticStrings(parsed), QStringList());
    const QVariantMap read = parsed.config.modules.first().config;
    for (const char *key : {"secret",
                            "API_KEY",
                            "apikey",
                            "db_password",
                            "passwd",
                            "private_key",
                            "Key",
                            "refresh_token"}) {
        QCOMPARE(read.value(QLatin1String(key)).toString(), u"***"_s);
    }
    QCOMPARE(read.value(u"tokens"_s).toList(), (QVariantList{u"***"_s, u"***"_s}));
    const QVariantMap auth = read.value(u"auth"_s).toMap();
    QCOMPARE(auth.value(u"client_secret"_s).toString(), u"***"_s);
    QCOMPARE(auth.value(u"user"_s).toString(), u"alice"_s);
    QCOMPARE(read.value(u"token_ttl"_s), QVariant::fromValue(qint64(3600)));
    QCOMPARE(read.value(u"keyboard"_s).toString(), u"qwerty"_s);
    QCOMPARE(read.value(u"url"_s).toString(), u"redis://cache"_s);

    const QString plain = config.toToml(false);
    for (int i = 1; i <= 11; ++i)
        QVERIFY(plain.contains(u"\"s%1\""_s.arg(i)));
    QVERIFY(!plain.contains(u"***"_s));
}

void tst_ConfigFile::loadFile()
{
    const QString path = DataDir + u"/full.toml"_s;
    const auto loaded = Mtw::loadConfigFile(path, envFrom({u"JWT_SECRET=s3cr3t"_s}));
    QVERIFY(loaded.has_value());
    QCOMPARE(diagnosticStrings(*loaded), QStringList());
    const Mtw::Config &config = loaded->config;
    QCOMPARE(config.sourcePath, QFileInfo(path).absoluteFilePath());
    QCOMPARE(config.server.port, 9001);
    QCOMPARE(config.transport.websocket.maxMessageSize, qint64(1500000));
    QCOMPARE(config.modules.size(), 2);
    QCOMPARE(config.modules.at(0).config.value(u"secret"_s).toString(), u"s3cr3t"_s);
    QCOMPARE(config.modules.at(1).config.value(u"url"_s).toString(), u"redis://localhost:6379"_s);
    QCOMPARE(config.modules.at(1).config.value(u"since"_s).toString(), u"2024-01-02T03:04:05Z"_s);
    const QVariantMap pool = config.modules.at(1).config.value(u"pool"_s).toMap();
    QCOMPARE(pool.value(u"odd key"_s).toString(), u"a \"quoted\" value\twith\\escapes"_s);
    QCOMPARE(pool.value(u"literal"_s).toString(), u"${NOT_EXPANDED}"_s);
    QCOMPARE(config.modules.at(1).line, 34);
    QCOMPARE(config.server.decisionTimeoutMs, 250);
    QCOMPARE(config.codec.defaultCodec, u"binary"_s);
    QCOMPARE(config.channels.size(), 3);
    QCOMPARE(config.channels.at(1).codec, u"binary"_s);
    QCOMPARE(config.channels.at(2).codec, QString());
    QCOMPARE(config.channels.at(2).name, u"notifications.**"_s);
    QCOMPARE(config.channels.at(2).line, 57);
    QCOMPARE(config.logging.format, u"json"_s);
}

void tst_ConfigFile::loadFileReportsGivenPath()
{
    const QString path = DataDir + u"/errors.toml"_s;
    const auto loaded = Mtw::loadConfigFile(path, {});
    QVERIFY(loaded.has_value());
    QCOMPARE(
        diagnosticStrings(*loaded),
        (QStringList{path + u":2:8: server.port: expected an integer 0-65535, got \"eighty\""_s,
                     path + u":3:1: warning: server.prot: unknown key (did you mean 'port'?)"_s}));
    QVERIFY(loaded->hasErrors());

    // A relative path stays relative in messages; sourcePath is absolute.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(QFile::copy(path, dir.filePath(u"mtw.toml"_s)));
    const QString previous = QDir::currentPath();
    QVERIFY(QDir::setCurrent(dir.path()));
    const auto relative = Mtw::loadConfigFile(u"mtw.toml"_s, {});
    QVERIFY(QDir::setCurrent(previous));
    QVERIFY(relative.has_value());
    QCOMPARE(relative->diagnostics.first().file, u"mtw.toml"_s);
    QCOMPARE(relative->config.sourcePath, QDir(dir.path()).absoluteFilePath(u"mtw.toml"_s));
}

void tst_ConfigFile::loadMissingFile()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"mtw.toml"_s);
    const auto loaded = Mtw::loadConfigFile(path, {});
    QVERIFY(!loaded.has_value());
    QCOMPARE(loaded.error().code, 404);
    QCOMPARE(loaded.error().message,
             u"cannot read config file %1: No such file or directory"_s.arg(path));
}

void tst_ConfigFile::loadDirectory()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const auto loaded = Mtw::loadConfigFile(dir.path(), {});
    QVERIFY(!loaded.has_value());
    QCOMPARE(loaded.error().code, 403);
    QCOMPARE(loaded.error().message,
             u"cannot read config file %1: Is a directory"_s.arg(dir.path()));
}

void tst_ConfigFile::loadInvalidUtf8()
{
    const QString path = DataDir + u"/invalid-utf8.toml"_s;
    const auto loaded = Mtw::loadConfigFile(path, {});
    QVERIFY(loaded.has_value());
    QCOMPARE(diagnosticStrings(*loaded),
             QStringList{path + u":3:12: not valid UTF-8 (byte 0xe9)"_s});
    QVERIFY(loaded->hasErrors());
}

void tst_ConfigFile::loadInvalidUtf8Sequences_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected"); // after the file name
    QTest::newRow("after multibyte characters") << QByteArray("a = \"\xc3\xa9\xe2\x82\xac\xff\"\n")
                                                << u":1:8: not valid UTF-8 (byte 0xff)"_s;
    QTest::newRow("in a comment, line 2")
        << QByteArray("a = 1\n# \x80\n") << u":2:3: not valid UTF-8 (byte 0x80)"_s;
    QTest::newRow("truncated at the end")
        << QByteArray("a = 1 # \xe2\x82") << u":1:9: not valid UTF-8 (byte 0xe2)"_s;
    QTest::newRow("overlong") << QByteArray("a = \"\xc0\xaf\"")
                              << u":1:6: not valid UTF-8 (byte 0xc0)"_s;
    QTest::newRow("surrogate") << QByteArray("a = \"\xed\xa0\x80\"")
                               << u":1:6: not valid UTF-8 (byte 0xed)"_s;
    QTest::newRow("beyond U+10FFFF")
        << QByteArray("a = \"\xf4\x90\x80\x80\"") << u":1:6: not valid UTF-8 (byte 0xf4)"_s;
}

void tst_ConfigFile::loadInvalidUtf8Sequences()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"mtw.toml"_s);
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(bytes), bytes.size());
    file.close();
    const auto loaded = Mtw::loadConfigFile(path, {});
    QVERIFY(loaded.has_value());
    QCOMPARE(diagnosticStrings(*loaded), QStringList{path + expected});
}

void tst_ConfigFile::findConfigFile_data()
{
    QTest::addColumn<QStringList>(
        "files"); // relative to the working directory; "x/" is a directory
    QTest::addColumn<QString>("explicitPath");
    QTest::addColumn<QString>("expected"); // relative to the working directory; empty = none found
    QTest::newRow("explicit wins")
        << QStringList{u"mtw.toml"_s} << u"/somewhere/else.toml"_s << u"/somewhere/else.toml"_s;
    QTest::newRow("explicit relative, kept as given")
        << QStringList() << u"my.toml"_s << u"my.toml"_s;
    QTest::newRow("./mtw.toml first")
        << QStringList{u"config/mtw.toml"_s, u"mtw.toml"_s} << QString() << u"mtw.toml"_s;
    QTest::newRow("./config/mtw.toml next")
        << QStringList{u"config/mtw.toml"_s} << QString() << u"config/mtw.toml"_s;
    QTest::newRow("a directory is not a file")
        << QStringList{u"mtw.toml/"_s, u"config/mtw.toml"_s} << QString() << u"config/mtw.toml"_s;
    QTest::newRow("other names ignored")
        << QStringList{u"mtw.conf"_s, u"config/other.toml"_s} << QString() << QString();
}

void tst_ConfigFile::findConfigFile()
{
    QFETCH(QStringList, files);
    QFETCH(QString, explicitPath);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    for (const QString &name : files) {
        QVERIFY(QDir(dir.path()).mkpath(QFileInfo(dir.filePath(name)).path()));
        if (name.endsWith(QLatin1Char('/'))) {
            QVERIFY(QDir(dir.path()).mkpath(name));
        } else {
            QFile file(dir.filePath(name));
            QVERIFY(file.open(QIODevice::WriteOnly));
        }
    }
    QString want = expected;
    if (!expected.isEmpty() && explicitPath.isEmpty())
        want = dir.filePath(expected);
    if (expected.isEmpty() && QFileInfo(u"/etc/mtw/mtw.toml"_s).isFile())
        want = u"/etc/mtw/mtw.toml"_s; // the last place searched exists on this machine
    QCOMPARE(Mtw::findConfigFile(explicitPath, dir.path()), want);
}

void tst_ConfigFile::findConfigFileInCurrentDirectory()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(QDir(dir.path()).mkpath(u"config"_s));
    QFile file(dir.filePath(u"config/mtw.toml"_s));
    QVERIFY(file.open(QIODevice::WriteOnly));
    const QString previous = QDir::currentPath();
    QVERIFY(QDir::setCurrent(dir.path()));
    const QString found = Mtw::findConfigFile(QString());
    QVERIFY(QDir::setCurrent(previous));
    QCOMPARE(QFileInfo(found).canonicalFilePath(), QFileInfo(file).canonicalFilePath());
}

void tst_ConfigFile::environmentOverrides_data()
{
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<int>("maxConnections");
    QTest::addColumn<QString>("error"); // empty = success
    const QString host = u"10.0.0.1"_s;
    QTest::newRow("none") << QStringList() << host << 7000 << 77 << QString();
    QTest::newRow("all") << QStringList{u"MTW_HOST=::1"_s,
                                        u"MTW_PORT=0"_s,
                                        u"MTW_MAX_CONNECTIONS=5"_s}
                         << u"::1"_s << 0 << 5 << QString();
    QTest::newRow("port only") << QStringList{u"MTW_PORT=65535"_s} << host << 65535 << 77
                               << QString();
    QTest::newRow("empty ignored")
        << QStringList{u"MTW_HOST="_s, u"MTW_PORT="_s, u"MTW_MAX_CONNECTIONS="_s} << host << 7000
        << 77 << QString();
    QTest::newRow("other variables ignored")
        << QStringList{u"MTW_WORKERS=3"_s, u"PORT=1"_s} << host << 7000 << 77 << QString();
    QTest::newRow("port not a number")
        << QStringList{u"MTW_HOST=other"_s, u"MTW_PORT=x"_s} << host << 7000 << 77
        << u"MTW_PORT: expected an integer 0-65535, got \"x\""_s;
    QTest::newRow("port too large") << QStringList{u"MTW_PORT=65536"_s} << host << 7000 << 77
                                    << u"MTW_PORT: expected an integer 0-65535, got \"65536\""_s;
    QTest::newRow("max_connections zero")
        << QStringList{u"MTW_MAX_CONNECTIONS=0"_s} << host << 7000 << 77
        << u"MTW_MAX_CONNECTIONS: expected an integer >= 1, got \"0\""_s;
    QTest::newRow("blank host") << QStringList{u"MTW_HOST=  "_s} << host << 7000 << 77
                                << u"MTW_HOST: expected a non-empty host, got \"  \""_s;
}

void tst_ConfigFile::environmentOverrides()
{
    QFETCH(QStringList, env);
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(int, maxConnections);
    QFETCH(QString, error);
    Mtw::Config config;
    config.server.host = u"10.0.0.1"_s;
    config.server.port = 7000;
    config.server.maxConnections = 77;
    const Mtw::Config before = config;
    const auto result = Mtw::applyEnvironmentOverrides(config, envFrom(env));
    if (error.isEmpty()) {
        QVERIFY2(result.has_value(), qPrintable(result ? QString() : result.error().message));
    } else {
        QVERIFY(!result.has_value());
        QCOMPARE(result.error().code, 400);
        QCOMPARE(result.error().message, error);
        QVERIFY2(config == before, "a failed override changes nothing");
    }
    QCOMPARE(config.server.host, host);
    QCOMPARE(config.server.port, port);
    QCOMPARE(config.server.maxConnections, maxConnections);
}

QTEST_GUILESS_MAIN(tst_ConfigFile)
#include "tst_configfile.moc"
