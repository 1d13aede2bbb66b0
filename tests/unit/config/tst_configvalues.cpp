// SPDX-License-Identifier: MIT
// The value helpers on their own: parseSize(), expandEnvironment(), ConfigDiagnostic::toString()
// and Config equality.

#include <mtw/config.h>

#include <QTest>

using namespace Qt::Literals::StringLiterals;

Q_DECLARE_METATYPE(Mtw::ConfigDiagnostic)

namespace {

QProcessEnvironment envFrom(const QStringList &vars)
{
    QProcessEnvironment env;
    for (const QString &var : vars) {
        const qsizetype eq = var.indexOf(QLatin1Char('='));
        env.insert(var.left(eq), var.mid(eq + 1));
    }
    return env;
}

const QString Units = u"expected a number followed by B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"_s;

} // namespace

class tst_ConfigValues : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseSize_data();
    void parseSize();
    void parseSizeErrors_data();
    void parseSizeErrors();
    void expandEnvironment_data();
    void expandEnvironment();
    void expandEnvironmentErrors_data();
    void expandEnvironmentErrors();
    void diagnosticToString_data();
    void diagnosticToString();
    void equality();
    void loggingRules_data();
    void loggingRules();
};

void tst_ConfigValues::parseSize_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<qint64>("bytes");
    QTest::newRow("10MB") << u"10MB"_s << qint64(10000000);
    QTest::newRow("512KiB") << u"512KiB"_s << qint64(524288);
    QTest::newRow("1GB") << u"1GB"_s << qint64(1000000000);
    QTest::newRow("1GiB") << u"1GiB"_s << qint64(1073741824);
    QTest::newRow("2TB") << u"2TB"_s << qint64(2000000000000);
    QTest::newRow("1TiB") << u"1TiB"_s << qint64(1099511627776);
    QTest::newRow("3MiB") << u"3MiB"_s << qint64(3145728);
    QTest::newRow("1KB") << u"1KB"_s << qint64(1000);
    QTest::newRow("10B") << u"10B"_s << qint64(10);
    QTest::newRow("1.5MB") << u"1.5MB"_s << qint64(1500000);
    QTest::newRow("0.5KiB") << u"0.5KiB"_s << qint64(512);
    QTest::newRow("rounded down") << u"1.9999B"_s << qint64(1);
    QTest::newRow("fraction of a byte") << u"0.0001KB"_s << qint64(0);
    QTest::newRow("exact fraction") << u"0.1KB"_s << qint64(100);
    QTest::newRow("long fraction") << u"1.0000001GB"_s << qint64(1000000100);
    QTest::newRow("64 kb") << u"64 kb"_s << qint64(64000);
    QTest::newRow("lower case mib") << u"2mib"_s << qint64(2097152);
    QTest::newRow("upper case KIB") << u"1 KIB"_s << qint64(1024);
    QTest::newRow("plain bytes") << u"123"_s << qint64(123);
    QTest::newRow("zero") << u"0"_s << qint64(0);
    QTest::newRow("outer spaces") << u" 5MB "_s << qint64(5000000);
    QTest::newRow("largest") << u"9223372036854775807"_s << qint64(9223372036854775807);
    QTest::newRow("largest in TiB") << u"8388607TiB"_s << qint64(8388607) * 1099511627776;
}

void tst_ConfigValues::parseSize()
{
    QFETCH(QString, text);
    QFETCH(qint64, bytes);
    const auto result = Mtw::parseSize(text);
    QVERIFY2(result.has_value(), qPrintable(result ? QString() : result.error().message));
    QCOMPARE(*result, bytes);
}

void tst_ConfigValues::parseSizeErrors_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    const auto invalid = [](const QString &text) {
        return u"invalid size \"%1\": %2"_s.arg(text, Units);
    };
    QTest::newRow("empty") << QString() << invalid(QString());
    QTest::newRow("unknown unit") << u"10XB"_s << invalid(u"10XB"_s);
    QTest::newRow("unit only") << u"MB"_s << invalid(u"MB"_s);
    QTest::newRow("dot without fraction") << u"1.MB"_s << invalid(u"1.MB"_s);
    QTest::newRow("two spaces") << u"10  MB"_s << invalid(u"10  MB"_s);
    QTest::newRow("exponent") << u"1e3"_s << invalid(u"1e3"_s);
    QTest::newRow("comma") << u"1,5MB"_s << invalid(u"1,5MB"_s);
    QTest::newRow("hex") << u"0x10"_s << invalid(u"0x10"_s);
    QTest::newRow("plus sign") << u"+5MB"_s << invalid(u"+5MB"_s);
    QTest::newRow("EiB unsupported") << u"1EiB"_s << invalid(u"1EiB"_s);
    QTest::newRow("negative") << u"-5MB"_s << u"invalid size \"-5MB\": a size cannot be negative"_s;
    QTest::newRow("overflow") << u"9223372036854775808"_s
                              << u"invalid size \"9223372036854775808\": too large"_s;
    QTest::newRow("overflow with unit")
        << u"8388608TiB"_s << u"invalid size \"8388608TiB\": too large"_s;
    QTest::newRow("too many digits")
        << u"100000000000000000000"_s << u"invalid size \"100000000000000000000\": too large"_s;
}

void tst_ConfigValues::parseSizeErrors()
{
    QFETCH(QString, text);
    QFETCH(QString, message);
    const auto result = Mtw::parseSize(text);
    QVERIFY(!result.has_value());
    QCOMPARE(result.error().code, 400);
    QCOMPARE(result.error().message, message);
}

void tst_ConfigValues::expandEnvironment_data()
{
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("expected");
    const QStringList env{u"A=alpha"_s, u"B=beta"_s, u"EMPTY="_s, u"_X1=x"_s};
    QTest::newRow("no variables") << env << u"plain $ text {}"_s << u"plain $ text {}"_s;
    QTest::newRow("set") << env << u"${A}"_s << u"alpha"_s;
    QTest::newRow("in text") << env << u"<${A}-${B}>"_s << u"<alpha-beta>"_s;
    QTest::newRow("unset") << env << u"[${NOPE}]"_s << u"[]"_s;
    QTest::newRow("underscore and digits") << env << u"${_X1}"_s << u"x"_s;
    QTest::newRow("default unused") << env << u"${A:-d}"_s << u"alpha"_s;
    QTest::newRow("default for unset") << env << u"${NOPE:-d}"_s << u"d"_s;
    QTest::newRow("default for empty") << env << u"${EMPTY:-d}"_s << u"d"_s;
    QTest::newRow("empty default") << env << u"${NOPE:-}"_s << QString();
    QTest::newRow("default with text") << env << u"${NOPE:-a b:c-d}"_s << u"a b:c-d"_s;
    QTest::newRow("nested, inner set") << env << u"${NOPE:-${B:-x}}"_s << u"beta"_s;
    QTest::newRow("nested, none set") << env << u"${NOPE:-${NADA:-x}}"_s << u"x"_s;
    QTest::newRow("nested deeper") << env << u"${N1:-${N2:-${N3:-deep}}}!"_s << u"deep!"_s;
    QTest::newRow("default with variable and text")
        << env << u"${NOPE:-pre-${A}-post}"_s << u"pre-alpha-post"_s;
    QTest::newRow("escape") << env << u"$${A}"_s << u"${A}"_s;
    QTest::newRow("escape in default") << env << u"${NOPE:-$${A}}"_s << u"${A}"_s;
    QTest::newRow("dollar dollar") << env << u"$$ and $"_s << u"$$ and $"_s;
    QTest::newRow("three dollars") << env << u"$$${A}"_s << u"$${A}"_s;
    QTest::newRow("stray closing brace") << env << u"${A}}"_s << u"alpha}"_s;
    QTest::newRow("value is not re-expanded") << QStringList{u"V=${A}"_s} << u"${V}"_s << u"${A}"_s;
}

void tst_ConfigValues::expandEnvironment()
{
    QFETCH(QStringList, env);
    QFETCH(QString, text);
    QFETCH(QString, expected);
    const auto result = Mtw::expandEnvironment(text, envFrom(env));
    QVERIFY2(result.has_value(), qPrintable(result ? QString() : result.error().message));
    QCOMPARE(*result, expected);
}

void tst_ConfigValues::expandEnvironmentErrors_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("unterminated") << u"${A"_s << u"unterminated ${ in \"${A\""_s;
    QTest::newRow("bare") << u"x ${"_s << u"unterminated ${ in \"x ${\""_s;
    QTest::newRow("unterminated default") << u"${A:-x"_s << u"unterminated ${ in \"${A:-x\""_s;
    QTest::newRow("unterminated outer") << u"${A:-${B}"_s << u"unterminated ${ in \"${A:-${B}\""_s;
    QTest::newRow("quote shown escaped") << u"\"${A"_s << u"unterminated ${ in \"\\\"${A\""_s;
    QTest::newRow("digit first") << u"${1A}"_s << u"invalid variable name \"1A\" in \"${1A}\""_s;
    QTest::newRow("empty name") << u"${}"_s << u"invalid variable name \"\" in \"${}\""_s;
    QTest::newRow("space") << u"a${A B}"_s << u"invalid variable name \"A B\" in \"a${A B}\""_s;
    QTest::newRow("dash") << u"${A-B}"_s << u"invalid variable name \"A-B\" in \"${A-B}\""_s;
    QTest::newRow("colon without dash")
        << u"${A:b}"_s << u"invalid variable name \"A:b\" in \"${A:b}\""_s;
    QTest::newRow("in default") << u"${A:-${%}}"_s
                                << u"invalid variable name \"%\" in \"${A:-${%}}\""_s;
}

void tst_ConfigValues::expandEnvironmentErrors()
{
    QFETCH(QString, text);
    QFETCH(QString, message);
    const auto result = Mtw::expandEnvironment(text, envFrom({u"A=alpha"_s}));
    QVERIFY(!result.has_value());
    QCOMPARE(result.error().code, 400);
    QCOMPARE(result.error().message, message);
}

void tst_ConfigValues::diagnosticToString_data()
{
    using Severity = Mtw::ConfigDiagnostic::Severity;
    QTest::addColumn<Mtw::ConfigDiagnostic>("diagnostic");
    QTest::addColumn<QString>("expected");
    QTest::newRow("error")
        << Mtw::ConfigDiagnostic{Severity::Error,
                                 u"mtw.toml"_s,
                                 4,
                                 8,
                                 u"server.port"_s,
                                 u"expected an integer 0-65535, got \"eighty\""_s}
        << u"mtw.toml:4:8: server.port: expected an integer 0-65535, got \"eighty\""_s;
    QTest::newRow("warning")
        << Mtw::ConfigDiagnostic{Severity::Warning,
                                 u"mtw.toml"_s,
                                 7,
                                 1,
                                 u"server.prot"_s,
                                 u"unknown key (did you mean 'port'?)"_s}
        << u"mtw.toml:7:1: warning: server.prot: unknown key (did you mean 'port'?)"_s;
    QTest::newRow("no key path") << Mtw::ConfigDiagnostic{Severity::Error,
                                                          u"/etc/mtw/mtw.toml"_s,
                                                          2,
                                                          5,
                                                          QString(),
                                                          u"syntax"_s}
                                 << u"/etc/mtw/mtw.toml:2:5: syntax"_s;
    QTest::newRow("no column")
        << Mtw::ConfigDiagnostic{Severity::Error, u"a.toml"_s, 3, 0, u"k"_s, u"m"_s}
        << u"a.toml:3: k: m"_s;
    QTest::newRow("no position")
        << Mtw::ConfigDiagnostic{Severity::Warning, u"a.toml"_s, 0, 0, u"k"_s, u"m"_s}
        << u"a.toml: warning: k: m"_s;
}

void tst_ConfigValues::diagnosticToString()
{
    QFETCH(Mtw::ConfigDiagnostic, diagnostic);
    QFETCH(QString, expected);
    QCOMPARE(diagnostic.toString(), expected);
}

void tst_ConfigValues::equality()
{
    const Mtw::Config defaults;
    Mtw::Config other;
    QVERIFY(other == defaults);
    other.sourcePath = u"/etc/mtw/mtw.toml"_s;
    QVERIFY2(other == defaults, "sourcePath is not compared");

    other.server.port = 1;
    QVERIFY(other != defaults);
    other = defaults;
    other.transport.websocket.allowedOrigins = QStringList{u"https://a"_s};
    QVERIFY(other != defaults);
    other = defaults;
    other.logging.rules = u"x"_s;
    QVERIFY(other != defaults);
    other = defaults;
    other.admin.tokenFile = u"/run/t"_s;
    QVERIFY2(other != defaults, "every key of the schema is compared, the admin section too");
    other = defaults;
    other.server.decisionTimeoutMs = 10;
    QVERIFY(other != defaults);

    Mtw::Config a;
    a.channels.append(
        Mtw::ChannelConfig{u"chat.*"_s, true, 0, 50, 300, 1000000, false, u"json"_s, 3});
    a.modules.append(Mtw::ModuleConfig{u"m"_s, {}, true, false, {{u"k"_s, 1}}, 7});
    Mtw::Config b = a;
    b.channels[0].line = 30;
    b.modules[0].line = 70;
    QVERIFY2(a == b, "lines say where an entry was written, not what it configures");
    b.channels[0].auth = false;
    QVERIFY(a != b);
    b = a;
    b.modules[0].config.insert(u"k"_s, 2);
    QVERIFY(a != b);
    b = a;
    b.channels.append(a.channels.first());
    QVERIFY(a != b);
}

void tst_ConfigValues::loggingRules_data()
{
    QTest::addColumn<QString>("level");
    QTest::addColumn<QString>("rules");
    QTest::addColumn<QString>("expected");
    QTest::newRow("info is Qt's default") << u"info"_s << QString() << QString();
    QTest::newRow("debug") << u"debug"_s << QString() << u"mtw.*.debug=true"_s;
    QTest::newRow("warning") << u"warning"_s << QString()
                             << u"mtw.*.debug=false\nmtw.*.info=false"_s;
    QTest::newRow("error") << u"error"_s << QString()
                           << u"mtw.*.debug=false\nmtw.*.info=false\nmtw.*.warning=false"_s;
    QTest::newRow("extra rules, ; and newline separated")
        << u"info"_s << u"mtw.channels.debug=true; qt.network.*=false\nmtw.admin.info=false"_s
        << u"mtw.channels.debug=true\nqt.network.*=false\nmtw.admin.info=false"_s;
}

void tst_ConfigValues::loggingRules()
{
    QFETCH(QString, level);
    QFETCH(QString, rules);
    QFETCH(QString, expected);
    Mtw::LoggingConfig logging;
    logging.level = level;
    logging.rules = rules;
    QCOMPARE(Mtw::loggingFilterRules(logging), expected);
}

QTEST_GUILESS_MAIN(tst_ConfigValues)
#include "tst_configvalues.moc"
