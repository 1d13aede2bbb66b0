// SPDX-License-Identifier: MIT
// mtw-store-redis's config: every key, its bounds, the URL forms, and errors that name the
// offending value without the password in it.
#include "redissettings.h"

#include <QtTest>

using namespace Qt::StringLiterals;
using Mtw::StoreRedis::RedisAddress;
using Mtw::StoreRedis::RedisSettings;

class tst_RedisSettings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults();
    void urls_data();
    void urls();
    void refused_data();
    void refused();
    void sharding();
};

void tst_RedisSettings::defaults()
{
    const auto settings = RedisSettings::fromConfig({});
    QVERIFY(settings);
    QCOMPARE(settings->shards.size(), 1);
    QCOMPARE(settings->shards.at(0).display(), u"redis://127.0.0.1:6379/0"_s);
    QCOMPARE(settings->prefix, u"mtw"_s);
    QCOMPARE(settings->nodeTtlMs, 10000);
    QCOMPARE(settings->heartbeatMs, 2000);
    QCOMPARE(settings->maxQueued, 10000);
}

void tst_RedisSettings::urls_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<int>("db");
    QTest::newRow("plain") << u"redis://10.0.0.5:6380/2"_s << u"10.0.0.5"_s << 6380 << QString()
                           << QString() << 2;
    QTest::newRow("default port and db")
        << u"redis://cache"_s << u"cache"_s << 6379 << QString() << QString() << 0;
    QTest::newRow("password") << u"redis://:pw@h:1/0"_s << u"h"_s << 1 << QString() << u"pw"_s << 0;
    QTest::newRow("ACL user") << u"redis://app:pw@h:1/3"_s << u"h"_s << 1 << u"app"_s << u"pw"_s
                              << 3;
}

void tst_RedisSettings::urls()
{
    QFETCH(QString, url);
    const auto settings = RedisSettings::fromConfig({{u"url"_s, url}});
    QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().message));
    const RedisAddress &address = settings->shards.at(0);
    QTEST(address.host, "host");
    QTEST(address.port, "port");
    QTEST(address.user, "user");
    QTEST(address.password, "password");
    QTEST(address.db, "db");
    QVERIFY(!address.display().contains(u"pw"_s));
}

void tst_RedisSettings::refused_data()
{
    QTest::addColumn<QVariantMap>("config");
    QTest::addColumn<QString>("message"); // a part of the error
    QTest::newRow("unknown key") << QVariantMap{{u"uri"_s, u"redis://h"_s}}
                                 << u"unknown config key 'uri'"_s;
    QTest::newRow("tls") << QVariantMap{{u"url"_s, u"rediss://:secret@h:1/0"_s}}
                         << u"rediss:// (TLS) is not supported"_s;
    QTest::newRow("scheme") << QVariantMap{{u"url"_s, u"http://h:1"_s}}
                            << u"the scheme must be redis://"_s;
    QTest::newRow("db") << QVariantMap{{u"url"_s, u"redis://:secret@h:1/zero"_s}}
                        << u"the database must be a number, not 'zero'"_s;
    QTest::newRow("not a string") << QVariantMap{{u"url"_s, 5}} << u"'url' must be a string"_s;
    QTest::newRow("both") << QVariantMap{{u"url"_s, u"redis://a"_s},
                                         {u"urls"_s, QVariantList{u"redis://b"_s}}}
                          << u"give 'url' or 'urls', not both"_s;
    QTest::newRow("empty urls") << QVariantMap{{u"urls"_s, QVariantList{}}}
                                << u"'urls' must be a non-empty list"_s;
    QTest::newRow("timeout bound") << QVariantMap{{u"timeout_ms"_s, 10}}
                                   << u"'timeout_ms' must be between 50 and 600000, not 10"_s;
    QTest::newRow("ttl vs heartbeat")
        << QVariantMap{{u"heartbeat_ms"_s, 1000}, {u"node_ttl_ms"_s, 1500}}
        << u"node_ttl_ms (1500) must be at least twice heartbeat_ms (1000)"_s;
    QTest::newRow("prefix") << QVariantMap{{u"prefix"_s, u"a b"_s}}
                            << u"'prefix' must be a non-empty string without spaces"_s;
    QTest::newRow("integer type") << QVariantMap{{u"max_queued"_s, u"many"_s}}
                                  << u"'max_queued' must be an integer"_s;
}

void tst_RedisSettings::refused()
{
    QFETCH(QVariantMap, config);
    QFETCH(QString, message);
    const auto settings = RedisSettings::fromConfig(config);
    QVERIFY(!settings);
    QVERIFY2(settings.error().message.contains(message), qPrintable(settings.error().message));
    QVERIFY2(settings.error().message.startsWith(u"mtw-store-redis: "_s),
             qPrintable(settings.error().message));
    QVERIFY(!settings.error().message.contains(u"secret"_s));
}

void tst_RedisSettings::sharding()
{
    const auto settings = RedisSettings::fromConfig(
        {{u"urls"_s, QVariantList{u"redis://a:1/0"_s, u"redis://b:2/1"_s}}});
    QVERIFY(settings);
    QCOMPARE(settings->shards.size(), 2);
    QCOMPARE(settings->shards.at(1).display(), u"redis://b:2/1"_s);
}

QTEST_GUILESS_MAIN(tst_RedisSettings)
#include "tst_redissettings.moc"
