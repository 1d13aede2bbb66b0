// SPDX-License-Identifier: MIT
#include "channels/channelpattern.h"

#include <QTest>

using namespace Mtw::Internal;

class tst_ChannelPattern : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void validName_data();
    void validName();
    void isPattern_data();
    void isPattern();
    void matches_data();
    void matches();
};

void tst_ChannelPattern::validName_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("valid");

    QTest::newRow("single segment") << QStringLiteral("chat") << true;
    QTest::newRow("two segments") << QStringLiteral("chat.general") << true;
    QTest::newRow("many segments") << QStringLiteral("a.b.c.d.e") << true;
    QTest::newRow("dashes, digits, underscore") << QStringLiteral("room-1.user_42:x") << true;
    QTest::newRow("unicode") << QStringLiteral("caf\u00e9.\u4e2d\u6587") << true;
    QTest::newRow("one char") << QStringLiteral("x") << true;
    QTest::newRow("255 chars") << QString(255, u'a') << true;
    QTest::newRow("255 chars with dots")
        << (QString(127, u'a') + u'.' + QString(127, u'b')) << true;

    QTest::newRow("empty") << QString() << false;
    QTest::newRow("256 chars") << QString(256, u'a') << false;
    QTest::newRow("only a dot") << QStringLiteral(".") << false;
    QTest::newRow("leading dot") << QStringLiteral(".chat") << false;
    QTest::newRow("trailing dot") << QStringLiteral("chat.") << false;
    QTest::newRow("double dot") << QStringLiteral("chat..general") << false;
    QTest::newRow("star segment") << QStringLiteral("chat.*") << false;
    QTest::newRow("double star segment") << QStringLiteral("chat.**") << false;
    QTest::newRow("star inside segment") << QStringLiteral("ch*t") << false;
    QTest::newRow("space") << QStringLiteral("chat general") << false;
    QTest::newRow("leading space") << QStringLiteral(" chat") << false;
    QTest::newRow("tab") << QStringLiteral("chat\tgeneral") << false;
    QTest::newRow("newline") << QStringLiteral("chat\n") << false;
    QTest::newRow("nul") << QString(QStringLiteral("chat") + QChar(0)) << false;
    QTest::newRow("DEL") << QString(QStringLiteral("chat") + QChar(0x7f)) << false;
    QTest::newRow("C1 control") << QString(QStringLiteral("chat") + QChar(0x85)) << false;
    QTest::newRow("no-break space") << QString(QStringLiteral("a") + QChar(0xa0) + u'b') << false;
}

void tst_ChannelPattern::validName()
{
    QFETCH(QString, name);
    QFETCH(bool, valid);
    QCOMPARE(isValidChannelName(name), valid);
}

void tst_ChannelPattern::isPattern_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("pattern");

    QTest::newRow("star alone") << QStringLiteral("*") << true;
    QTest::newRow("double star alone") << QStringLiteral("**") << true;
    QTest::newRow("final star") << QStringLiteral("chat.*") << true;
    QTest::newRow("middle star") << QStringLiteral("chat.*.typing") << true;
    QTest::newRow("final double star") << QStringLiteral("chat.**") << true;
    QTest::newRow("star then double star") << QStringLiteral("*.**") << true;

    QTest::newRow("plain name") << QStringLiteral("chat.general") << false;
    QTest::newRow("empty") << QString() << false;
    QTest::newRow("double star in the middle") << QStringLiteral("chat.**.x") << false;
    QTest::newRow("leading double star") << QStringLiteral("**.x") << false;
    QTest::newRow("partial star") << QStringLiteral("chat.gen*") << false;
    QTest::newRow("triple star") << QStringLiteral("chat.***") << false;
    QTest::newRow("empty segment") << QStringLiteral("chat..*") << false;
    QTest::newRow("trailing dot") << QStringLiteral("chat.*.") << false;
    QTest::newRow("space") << QStringLiteral("chat .*") << false;
    QTest::newRow("too long") << (QString(254, u'a') + QStringLiteral(".*")) << false;
}

void tst_ChannelPattern::isPattern()
{
    QFETCH(QString, text);
    QFETCH(bool, pattern);
    QCOMPARE(isChannelPattern(text), pattern);
}

void tst_ChannelPattern::matches_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("match");

    // exact
    QTest::newRow("exact equal") << QStringLiteral("chat.general") << QStringLiteral("chat.general")
                                 << true;
    QTest::newRow("exact single") << QStringLiteral("chat") << QStringLiteral("chat") << true;
    QTest::newRow("exact differs")
        << QStringLiteral("chat.general") << QStringLiteral("chat.random") << false;
    QTest::newRow("exact is prefix")
        << QStringLiteral("chat") << QStringLiteral("chat.general") << false;
    QTest::newRow("exact longer") << QStringLiteral("chat.general") << QStringLiteral("chat")
                                  << false;
    QTest::newRow("exact case sensitive")
        << QStringLiteral("Chat") << QStringLiteral("chat") << false;
    QTest::newRow("exact segment prefix")
        << QStringLiteral("chat.gen") << QStringLiteral("chat.general") << false;

    // `*`: exactly one segment
    QTest::newRow("star one") << QStringLiteral("chat.*") << QStringLiteral("chat.general") << true;
    QTest::newRow("star needs a segment")
        << QStringLiteral("chat.*") << QStringLiteral("chat") << false;
    QTest::newRow("star only one")
        << QStringLiteral("chat.*") << QStringLiteral("chat.a.b") << false;
    QTest::newRow("star prefix differs")
        << QStringLiteral("chat.*") << QStringLiteral("news.a") << false;
    QTest::newRow("star alone one segment")
        << QStringLiteral("*") << QStringLiteral("chat") << true;
    QTest::newRow("star alone two segments")
        << QStringLiteral("*") << QStringLiteral("chat.a") << false;
    QTest::newRow("leading star") << QStringLiteral("*.typing") << QStringLiteral("room1.typing")
                                  << true;
    QTest::newRow("leading star wrong tail")
        << QStringLiteral("*.typing") << QStringLiteral("room1.typed") << false;
    QTest::newRow("middle star") << QStringLiteral("a.*.c") << QStringLiteral("a.b.c") << true;
    QTest::newRow("middle star too many")
        << QStringLiteral("a.*.c") << QStringLiteral("a.b.x.c") << false;
    QTest::newRow("middle star missing")
        << QStringLiteral("a.*.c") << QStringLiteral("a.c") << false;
    QTest::newRow("two stars") << QStringLiteral("*.*") << QStringLiteral("x.y") << true;
    QTest::newRow("two stars three segments")
        << QStringLiteral("*.*") << QStringLiteral("x.y.z") << false;

    // final `**`: one or more segments
    QTest::newRow("double star one")
        << QStringLiteral("chat.**") << QStringLiteral("chat.a") << true;
    QTest::newRow("double star two")
        << QStringLiteral("chat.**") << QStringLiteral("chat.a.b") << true;
    QTest::newRow("double star many")
        << QStringLiteral("chat.**") << QStringLiteral("chat.a.b.c.d") << true;
    QTest::newRow("double star needs one")
        << QStringLiteral("chat.**") << QStringLiteral("chat") << false;
    QTest::newRow("double star prefix differs")
        << QStringLiteral("chat.**") << QStringLiteral("chats.a") << false;
    QTest::newRow("double star alone")
        << QStringLiteral("**") << QStringLiteral("any.thing.at.all") << true;
    QTest::newRow("star then double star")
        << QStringLiteral("*.**") << QStringLiteral("a.b") << true;
    QTest::newRow("star then double star short")
        << QStringLiteral("*.**") << QStringLiteral("a") << false;

    // `**` anywhere but last is invalid: it matches nothing
    QTest::newRow("double star middle")
        << QStringLiteral("chat.**.x") << QStringLiteral("chat.a.x") << false;
    QTest::newRow("double star middle literal")
        << QStringLiteral("chat.**.x") << QStringLiteral("chat.**.x") << false;
    QTest::newRow("double star first") << QStringLiteral("**.x") << QStringLiteral("a.x") << false;

    // malformed patterns and names
    QTest::newRow("partial star") << QStringLiteral("chat.gen*") << QStringLiteral("chat.general")
                                  << false;
    QTest::newRow("triple star") << QStringLiteral("chat.***") << QStringLiteral("chat.a") << false;
    QTest::newRow("empty pattern") << QString() << QStringLiteral("chat") << false;
    QTest::newRow("empty name") << QStringLiteral("*") << QString() << false;
    QTest::newRow("empty pattern segment")
        << QStringLiteral("chat..*") << QStringLiteral("chat.a.b") << false;
    QTest::newRow("pattern trailing dot")
        << QStringLiteral("chat.") << QStringLiteral("chat") << false;
    QTest::newRow("name empty segment")
        << QStringLiteral("chat.*") << QStringLiteral("chat.") << false;
    QTest::newRow("name double dot") << QStringLiteral("**") << QStringLiteral("a..b") << false;
    QTest::newRow("name with space")
        << QStringLiteral("chat.*") << QStringLiteral("chat.a b") << false;
    QTest::newRow("name is a pattern")
        << QStringLiteral("chat.*") << QStringLiteral("chat.*") << false;
}

void tst_ChannelPattern::matches()
{
    QFETCH(QString, pattern);
    QFETCH(QString, name);
    QFETCH(bool, match);
    QCOMPARE(channelPatternMatches(pattern, name), match);
}

QTEST_APPLESS_MAIN(tst_ChannelPattern)

#include "tst_channelpattern.moc"
