// SPDX-License-Identifier: MIT
// Version and VersionRange: the parsing and matching behind [[modules]] version and the
// dependencies of a plugin's metadata.
#include "modules/version.h"

#include <QTest>

using namespace Mtw::Internal;
using namespace Qt::StringLiterals;

class tst_Version : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parse_data();
    void parse();
    void parseInvalid_data();
    void parseInvalid();
    void compare_data();
    void compare();
    void contains_data();
    void contains();
    void rangeInvalid_data();
    void rangeInvalid();
};

void tst_Version::parse_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("major");
    QTest::addColumn<int>("minor");
    QTest::addColumn<int>("patch");
    QTest::addColumn<int>("parts");

    QTest::newRow("major") << u"1"_s << 1 << 0 << 0 << 1;
    QTest::newRow("major.minor") << u"1.2"_s << 1 << 2 << 0 << 2;
    QTest::newRow("full") << u"1.2.3"_s << 1 << 2 << 3 << 3;
    QTest::newRow("zeros") << u"0.0.0"_s << 0 << 0 << 0 << 3;
    QTest::newRow("big numbers") << u"10.200.3000"_s << 10 << 200 << 3000 << 3;
    QTest::newRow("v prefix") << u"v2.5.1"_s << 2 << 5 << 1 << 3;
    QTest::newRow("pre-release suffix ignored") << u"1.2.3-beta.1"_s << 1 << 2 << 3 << 3;
    QTest::newRow("surrounding spaces") << u"  4.5  "_s << 4 << 5 << 0 << 2;
}

void tst_Version::parse()
{
    QFETCH(QString, text);
    QFETCH(int, major);
    QFETCH(int, minor);
    QFETCH(int, patch);
    QFETCH(int, parts);
    const auto version = Version::parse(text);
    QVERIFY2(version, qPrintable(version ? QString() : version.error().message));
    QCOMPARE(version->major, major);
    QCOMPARE(version->minor, minor);
    QCOMPARE(version->patch, patch);
    QCOMPARE(version->parts, parts);
}

void tst_Version::parseInvalid_data()
{
    QTest::addColumn<QString>("text");

    QTest::newRow("empty") << QString();
    QTest::newRow("blank") << u"   "_s;
    QTest::newRow("word") << u"latest"_s;
    QTest::newRow("four parts") << u"1.2.3.4"_s;
    QTest::newRow("empty part") << u"1..2"_s;
    QTest::newRow("trailing dot") << u"1.2."_s;
    QTest::newRow("letter part") << u"1.x"_s;
    QTest::newRow("negative") << u"-1"_s;
    QTest::newRow("only a suffix") << u"-beta"_s;
    QTest::newRow("overflow") << u"99999999999"_s;
    QTest::newRow("only v") << u"v"_s;
}

void tst_Version::parseInvalid()
{
    QFETCH(QString, text);
    const auto version = Version::parse(text);
    QVERIFY(!version);
    QCOMPARE(version.error().code, 400);
    QCOMPARE(version.error().message,
             u"invalid version \"%1\": expected MAJOR[.MINOR[.PATCH]]"_s.arg(text));
}

void tst_Version::compare_data()
{
    QTest::addColumn<QString>("left");
    QTest::addColumn<QString>("right");
    QTest::addColumn<int>("order"); // -1 left < right, 0 equal, 1 left > right

    QTest::newRow("missing parts are zero") << u"1"_s << u"1.0.0"_s << 0;
    QTest::newRow("suffix does not count") << u"1.2.3-rc1"_s << u"1.2.3"_s << 0;
    QTest::newRow("patch") << u"1.2.9"_s << u"1.2.10"_s << -1;
    QTest::newRow("minor, numerically") << u"1.10"_s << u"1.9"_s << 1;
    QTest::newRow("major wins") << u"2.0.0"_s << u"1.99.99"_s << 1;
}

void tst_Version::compare()
{
    QFETCH(QString, left);
    QFETCH(QString, right);
    QFETCH(int, order);
    const auto a = Version::parse(left);
    const auto b = Version::parse(right);
    QVERIFY(a && b);
    QCOMPARE(*a == *b, order == 0);
    QCOMPARE(*a < *b, order < 0);
    QCOMPARE(*a > *b, order > 0);
}

void tst_Version::contains_data()
{
    QTest::addColumn<QString>("range");
    QTest::addColumn<QString>("version");
    QTest::addColumn<bool>("contained");

    QTest::newRow("empty: any") << QString() << u"0.0.1"_s << true;
    QTest::newRow("*: any") << u"*"_s << u"7.3.1"_s << true;

    QTest::newRow(">= equal") << u">=1.2"_s << u"1.2.0"_s << true;
    QTest::newRow(">= above") << u">=1.2"_s << u"3.0"_s << true;
    QTest::newRow(">= below") << u">=1.2"_s << u"1.1.9"_s << false;
    QTest::newRow("> equal") << u">1.2"_s << u"1.2.0"_s << false;
    QTest::newRow("> above") << u">1.2"_s << u"1.2.1"_s << true;
    QTest::newRow("<= equal") << u"<=2"_s << u"2.0.0"_s << true;
    QTest::newRow("<= below") << u"<=2"_s << u"1.9.9"_s << true;
    QTest::newRow("<= above") << u"<=2"_s << u"3.0"_s << false;
    QTest::newRow("< below") << u"<2"_s << u"1.9.9"_s << true;
    QTest::newRow("< equal") << u"<2"_s << u"2.0.0"_s << false;
    QTest::newRow("= same") << u"=1.2.3"_s << u"1.2.3"_s << true;
    QTest::newRow("= other patch") << u"=1.2.3"_s << u"1.2.4"_s << false;
    QTest::newRow("= ignores suffix") << u"=1.2.3"_s << u"1.2.3-rc1"_s << true;

    QTest::newRow("^ lower bound") << u"^1.2"_s << u"1.2.0"_s << true;
    QTest::newRow("^ later minor") << u"^1.2"_s << u"1.9.4"_s << true;
    QTest::newRow("^ below") << u"^1.2"_s << u"1.1.9"_s << false;
    QTest::newRow("^ next major") << u"^1.2"_s << u"2.0.0"_s << false;
    QTest::newRow("^ major only") << u"^1"_s << u"1.7.0"_s << true;
    QTest::newRow("^ full, patch above") << u"^1.2.3"_s << u"1.2.4"_s << true;
    QTest::newRow("^ full, patch below") << u"^1.2.3"_s << u"1.2.2"_s << false;
    QTest::newRow("~ lower bound") << u"~1.2"_s << u"1.2.0"_s << true;
    QTest::newRow("~ later patch") << u"~1.2"_s << u"1.2.9"_s << true;
    QTest::newRow("~ next minor") << u"~1.2"_s << u"1.3.0"_s << false;
    QTest::newRow("~ earlier minor") << u"~1.2"_s << u"1.1.0"_s << false;
    QTest::newRow("~ full, patch above") << u"~1.2.3"_s << u"1.2.9"_s << true;
    QTest::newRow("~ full, patch below") << u"~1.2.3"_s << u"1.2.2"_s << false;
    // As in npm and Cargo: a tilde on a bare major pins the major only.
    QTest::newRow("~ major only, later minor") << u"~1"_s << u"1.5.0"_s << true;
    QTest::newRow("~ major only, next major") << u"~1"_s << u"2.0.0"_s << false;

    QTest::newRow("bare major") << u"1"_s << u"1.9.9"_s << true;
    QTest::newRow("bare major, other") << u"1"_s << u"2.0.0"_s << false;
    QTest::newRow("bare major.minor") << u"1.2"_s << u"1.2.7"_s << true;
    QTest::newRow("bare major.minor, other minor") << u"1.2"_s << u"1.3.0"_s << false;
    QTest::newRow("bare full") << u"1.2.3"_s << u"1.2.3"_s << true;
    QTest::newRow("bare full, other patch") << u"1.2.3"_s << u"1.2.4"_s << false;
    QTest::newRow("bare with v") << u"v1.2"_s << u"1.2.1"_s << true;

    QTest::newRow("two comparators, inside") << u">=1.2 <2"_s << u"1.5.0"_s << true;
    QTest::newRow("two comparators, at upper") << u">=1.2 <2"_s << u"2.0.0"_s << false;
    QTest::newRow("two comparators, below") << u">=1.2 <2"_s << u"1.1.0"_s << false;
    QTest::newRow("extra spaces") << u"  >1.0   <=1.4  "_s << u"1.4.0"_s << true;
    QTest::newRow("three comparators") << u">1.0.0 <=1.4.0 ^1.1"_s << u"1.0.5"_s << false;
    QTest::newRow("contradiction") << u">2 <1"_s << u"1.5.0"_s << false;
    QTest::newRow("* with a comparator") << u"* >=3"_s << u"2.0.0"_s << false;
}

void tst_Version::contains()
{
    QFETCH(QString, range);
    QFETCH(QString, version);
    QFETCH(bool, contained);
    const auto parsedRange = VersionRange::parse(range);
    QVERIFY2(parsedRange, qPrintable(parsedRange ? QString() : parsedRange.error().message));
    const auto parsedVersion = Version::parse(version);
    QVERIFY(parsedVersion);
    QCOMPARE(parsedRange->contains(*parsedVersion), contained);
}

void tst_Version::rangeInvalid_data()
{
    QTest::addColumn<QString>("range");
    QTest::addColumn<QString>("message");

    const QString expected = u"expected MAJOR[.MINOR[.PATCH]]"_s;
    QTest::newRow("operator only") << u">="_s << u"invalid version \"\": "_s + expected;
    QTest::newRow("caret only") << u"^"_s << u"invalid version \"\": "_s + expected;
    QTest::newRow("word") << u"latest"_s << u"invalid version \"latest\": "_s + expected;
    QTest::newRow("wildcard part") << u">=1.x"_s << u"invalid version \"1.x\": "_s + expected;
    QTest::newRow("reversed operator") << u"=>1"_s << u"invalid version \">1\": "_s + expected;
    QTest::newRow("unknown operator") << u"!1"_s << u"invalid version \"!1\": "_s + expected;
    QTest::newRow("one bad of three")
        << u">=1 <2 bogus"_s << u"invalid version \"bogus\": "_s + expected;
    QTest::newRow("four parts") << u"^1.2.3.4"_s << u"invalid version \"1.2.3.4\": "_s + expected;
}

void tst_Version::rangeInvalid()
{
    QFETCH(QString, range);
    QFETCH(QString, message);
    const auto parsed = VersionRange::parse(range);
    QVERIFY(!parsed);
    QCOMPARE(parsed.error().code, 400);
    // The message names the whole range, then what is wrong in it.
    QCOMPARE(parsed.error().message, u"invalid version range \"%1\": %2"_s.arg(range, message));
}

QTEST_APPLESS_MAIN(tst_Version)
#include "tst_version.moc"
