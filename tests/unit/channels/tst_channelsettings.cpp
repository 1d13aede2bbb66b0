// SPDX-License-Identifier: MIT
#include "channels/channelsettings.h"

#include <QTest>

using namespace Mtw;
using namespace Mtw::Internal;

namespace Mtw::Internal {
// QCOMPARE prints this on failure.
char *toString(const ChannelSettings &s)
{
    return qstrdup(QByteArray("{auth=" + QByteArray::number(s.auth)
                              + " maxMembers=" + QByteArray::number(s.maxMembers)
                              + " history=" + QByteArray::number(s.history)
                              + " presence=" + QByteArray::number(s.presence)
                              + " binary=" + QByteArray::number(s.binary) + '}')
                       .constData());
}
} // namespace Mtw::Internal

namespace {

ChannelConfig entry(const QString &name, int maxMembers, int history = 50)
{
    ChannelConfig c;
    c.name = name;
    c.maxMembers = maxMembers;
    c.history = history;
    return c;
}

ChannelSettings settings(int maxMembers, int history = 50)
{
    ChannelSettings s;
    s.maxMembers = maxMembers;
    s.history = history;
    return s;
}

// File order matters: the first matching pattern wins.
Config sampleConfig()
{
    Config config;
    ChannelConfig authed = entry(QStringLiteral("secure.*"), 5, 10);
    authed.auth = true;
    authed.presence = true;
    config.channels = {
        entry(QStringLiteral("chat.**"), 100),        // 1
        entry(QStringLiteral("chat.*"), 200),         // 2: shadowed by 1
        entry(QStringLiteral("chat.vip"), 3, 7),      // exact beats both patterns
        entry(QStringLiteral("*.typing"), 400, 0),    // 4
        authed,                                       // 5
        entry(QStringLiteral("news.*.sports"), 600),  // 6
        entry(QStringLiteral("bad.**.pattern"), 700), // malformed: ignored
        entry(QStringLiteral("chat.vip"), 999),       // duplicate exact: the first wins
        entry(QStringLiteral("lobby"), 8),
    };
    return config;
}

} // namespace

class tst_ChannelSettings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void resolve_data();
    void resolve();
    void defaultsWithoutConfig();
    void exactNames();
    void binary_data();
    void binary();
    void binaryByDefault_data();
    void binaryByDefault();
};

void tst_ChannelSettings::resolve_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<ChannelSettings>("expected");

    ChannelSettings secure = settings(5, 10);
    secure.auth = true;
    secure.presence = true;

    QTest::newRow("exact wins over earlier patterns")
        << QStringLiteral("chat.vip") << settings(3, 7);
    QTest::newRow("exact without pattern") << QStringLiteral("lobby") << settings(8);
    QTest::newRow("first pattern in file order") << QStringLiteral("chat.general") << settings(100);
    QTest::newRow("final ** two segments") << QStringLiteral("chat.a.b") << settings(100);
    QTest::newRow("chat.typing: chat.** comes before *.typing")
        << QStringLiteral("chat.typing") << settings(100);
    QTest::newRow("leading star") << QStringLiteral("room.typing") << settings(400, 0);
    QTest::newRow("auth and presence from pattern") << QStringLiteral("secure.vault") << secure;
    QTest::newRow("middle star") << QStringLiteral("news.eu.sports") << settings(600);
    QTest::newRow("defaults: no pattern matches") << QStringLiteral("other") << ChannelSettings();
    QTest::newRow("defaults: chat alone is not chat.**")
        << QStringLiteral("chat") << ChannelSettings();
    QTest::newRow("defaults: malformed pattern ignored")
        << QStringLiteral("bad.x.pattern") << ChannelSettings();
    QTest::newRow("defaults: lobby.x is not lobby")
        << QStringLiteral("lobby.x") << ChannelSettings();
}

void tst_ChannelSettings::resolve()
{
    QFETCH(QString, name);
    QFETCH(ChannelSettings, expected);
    const ChannelSettingsResolver resolver(sampleConfig());
    QCOMPARE(resolver.resolve(name), expected);
}

void tst_ChannelSettings::defaultsWithoutConfig()
{
    const ChannelSettingsResolver resolver{Config()};
    const ChannelSettings s = resolver.resolve(QStringLiteral("anything"));
    QCOMPARE(s.auth, false);
    QCOMPARE(s.maxMembers, 0);
    QCOMPARE(s.history, 50);
    QCOMPARE(s.presence, false);
    QCOMPARE(s.binary, false);
    QVERIFY(resolver.exactNames().isEmpty());
    QVERIFY(!resolver.isConfiguredExact(QStringLiteral("anything")));
}

void tst_ChannelSettings::exactNames()
{
    const ChannelSettingsResolver resolver(sampleConfig());
    QCOMPARE(resolver.exactNames(),
             QStringList({QStringLiteral("chat.vip"), QStringLiteral("lobby")}));
    QVERIFY(resolver.isConfiguredExact(QStringLiteral("chat.vip")));
    QVERIFY(resolver.isConfiguredExact(QStringLiteral("lobby")));
    QVERIFY(!resolver.isConfiguredExact(QStringLiteral("chat.general"))); // pattern-matched only
    QVERIFY(!resolver.isConfiguredExact(QStringLiteral("chat.*")));
}

void tst_ChannelSettings::binary_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("binary");
    QTest::addColumn<int>("maxMembers"); // proves which entry was chosen

    QTest::newRow("exact entry codec binary") << QStringLiteral("feed.raw") << true << 11;
    QTest::newRow("pattern entry codec binary") << QStringLiteral("media.cam1") << true << 12;
    QTest::newRow("pattern entry codec json") << QStringLiteral("text.a") << false << 13;
    QTest::newRow("exact json entry listed in binary_channels")
        << QStringLiteral("telemetry") << true << 14;
    QTest::newRow("pattern json entry, name listed in binary_channels")
        << QStringLiteral("text.bin") << true << 13;
    QTest::newRow("no entry, listed in binary_channels") << QStringLiteral("blob") << true << 0;
    QTest::newRow("no entry, matched by binary_channels pattern")
        << QStringLiteral("sensors.a.b") << true << 0;
    QTest::newRow("no entry, binary_channels pattern needs a segment")
        << QStringLiteral("sensors") << false << 0;
    QTest::newRow("no entry, not listed") << QStringLiteral("plain") << false << 0;
}

void tst_ChannelSettings::binary()
{
    QFETCH(QString, name);
    QFETCH(bool, binary);
    QFETCH(int, maxMembers);

    Config config;
    ChannelConfig raw = entry(QStringLiteral("feed.raw"), 11);
    raw.codec = QStringLiteral("binary");
    ChannelConfig media = entry(QStringLiteral("media.*"), 12);
    media.codec = QStringLiteral("binary");
    config.channels = {raw,
                       media,
                       entry(QStringLiteral("text.*"), 13),
                       entry(QStringLiteral("telemetry"), 14)};
    config.codec.binaryChannels = {QStringLiteral("telemetry"),
                                   QStringLiteral("text.bin"),
                                   QStringLiteral("blob"),
                                   QStringLiteral("sensors.**")};

    const ChannelSettingsResolver resolver(config);
    const ChannelSettings s = resolver.resolve(name);
    QCOMPARE(s.binary, binary);
    QCOMPARE(s.maxMembers, maxMembers);
}

// codec.default = "binary": every channel that does not choose a codec is binary.
void tst_ChannelSettings::binaryByDefault_data()
{
    QTest::addColumn<QString>("defaultCodec");
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("binary");
    QTest::addColumn<int>("maxMembers"); // proves which entry was chosen

    const QString binary = QStringLiteral("binary");
    const QString json = QStringLiteral("json");
    QTest::newRow("no entry") << binary << QStringLiteral("free") << true << 0;
    QTest::newRow("exact entry without codec") << binary << QStringLiteral("room") << true << 21;
    QTest::newRow("pattern entry without codec")
        << binary << QStringLiteral("feed.a") << true << 22;
    QTest::newRow("exact entry codec json") << binary << QStringLiteral("text") << false << 23;
    QTest::newRow("pattern entry codec json") << binary << QStringLiteral("log.a") << false << 24;
    QTest::newRow("json default, no entry") << json << QStringLiteral("free") << false << 0;
    QTest::newRow("json default, entry without codec")
        << json << QStringLiteral("room") << false << 21;
}

void tst_ChannelSettings::binaryByDefault()
{
    QFETCH(QString, defaultCodec);
    QFETCH(QString, name);
    QFETCH(bool, binary);
    QFETCH(int, maxMembers);

    Config config;
    config.codec.defaultCodec = defaultCodec;
    ChannelConfig text = entry(QStringLiteral("text"), 23);
    text.codec = QStringLiteral("json");
    ChannelConfig log = entry(QStringLiteral("log.*"), 24);
    log.codec = QStringLiteral("json");
    config.channels = {entry(QStringLiteral("room"), 21),
                       entry(QStringLiteral("feed.*"), 22),
                       text,
                       log};

    const ChannelSettingsResolver resolver(config);
    const ChannelSettings s = resolver.resolve(name);
    QCOMPARE(s.binary, binary);
    QCOMPARE(s.maxMembers, maxMembers);
}

QTEST_APPLESS_MAIN(tst_ChannelSettings)

#include "tst_channelsettings.moc"
