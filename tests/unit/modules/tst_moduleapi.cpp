// SPDX-License-Identifier: MIT
// The value types of the module API (implicitly shared: copies are independent once written)
// and ServerSettings, the read-only view of the server's config that modules get.
#include "modules/serversettings_p.h"

#include <mtw/modulestatus.h>
#include <mtw/services.h>

#include <QJsonArray>
#include <QTest>

using namespace Mtw;
using namespace Qt::StringLiterals;

class tst_ModuleApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults()
    {
        const ClientInfo client;
        QVERIFY(client.connId().isEmpty());
        QVERIFY(client.remoteAddress().isNull());
        QCOMPARE(client.connectedAt(), 0);
        QVERIFY(!client.isAuthenticated());
        const Identity identity;
        QCOMPARE(identity.expiresAt(), 0);
        QVERIFY(identity.claims().isEmpty());
        const ModuleHealth health;
        QCOMPARE(health.status(), HealthStatus::Healthy);
        QVERIFY(health.reason().isEmpty());
        QCOMPARE(ModuleMetadata().apiVersion(), ModuleApiVersion);
        QCOMPARE(ModuleStatus().state(), ModuleState::Discovered);
        QVERIFY(!ModuleStatus().isRequired());
    }

    // A copy shares the data until one side writes; then they are independent.
    void copiesDetachOnWrite()
    {
        ClientInfo original;
        original.setConnId(u"c1"_s);
        original.setRoles({u"reader"_s});
        ClientInfo copy = original;
        QCOMPARE(copy.connId(), u"c1"_s);
        copy.setConnId(u"c2"_s);
        copy.setAuthenticated(true);
        QCOMPARE(original.connId(), u"c1"_s);
        QVERIFY(!original.isAuthenticated());
        QCOMPARE(copy.roles(), QStringList{u"reader"_s});

        AuthRequest request;
        request.setHeaders({{"authorization", "Bearer x"}});
        AuthRequest assigned;
        assigned = request;
        request.setToken(u"t"_s);
        QVERIFY(assigned.token().isEmpty());
        QCOMPARE(assigned.headers().value("authorization"), QByteArray("Bearer x"));
    }

    void healthFromBraces()
    {
        const auto report = []() -> ModuleHealth {
            return {HealthStatus::Degraded, u"cache cold"_s};
        };
        QCOMPARE(report().status(), HealthStatus::Degraded);
        QCOMPARE(report().reason(), u"cache cold"_s);
    }

    void metadataEquality()
    {
        ModuleMetadata a;
        a.setId(u"x"_s);
        a.setVersion(u"1.0.0"_s);
        a.setDependencies({ModuleDependency(u"y"_s, u"^1"_s)});
        ModuleMetadata b = a;
        QVERIFY(a == b);
        b.setDependencies({ModuleDependency(u"y"_s, u"^2"_s)});
        QVERIFY(!(a == b));
        QCOMPARE(a.dependencies().constFirst().versionRange(), u"^1"_s);
    }

    void metadataFromJson()
    {
        const auto metadata = ModuleMetadata::fromJson(
            QJsonObject{{u"id"_s, u"room"_s},
                        {u"version"_s, u"1.2.3"_s},
                        {u"apiVersion"_s, 2},
                        {u"dependencies"_s,
                         QJsonArray{QJsonObject{{u"id"_s, u"store"_s}, {u"version"_s, u"^1"_s}}}}});
        QVERIFY2(metadata, qPrintable(metadata ? QString() : metadata.error().message));
        QCOMPARE(metadata->id(), u"room"_s);
        QCOMPARE(metadata->name(), u"room"_s); // defaults to the id
        QCOMPARE(metadata->apiVersion(), 2);
        QCOMPARE(metadata->dependencies(),
                 QList<ModuleDependency>{ModuleDependency(u"store"_s, u"^1"_s)});
        const auto invalid = ModuleMetadata::fromJson(QJsonObject{{u"id"_s, u"room"_s}});
        QVERIFY(!invalid);
        QCOMPARE(invalid.error().message, u"\"version\" must be a non-empty string"_s);
    }

    // Every key of today's Config by its TOML name, the admin secret left out.
    void serverSettings_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QVariant>("value");
        QTest::newRow("server.host") << u"server.host"_s << QVariant(u"10.0.0.1"_s);
        QTest::newRow("server.port") << u"server.port"_s << QVariant(9000);
        QTest::newRow("server.trusted_proxies")
            << u"server.trusted_proxies"_s << QVariant(QStringList{u"10.0.0.0/8"_s});
        QTest::newRow("transport.websocket.max_queue_size")
            << u"transport.websocket.max_queue_size"_s << QVariant(qint64(123456));
        QTest::newRow("transport.websocket.path")
            << u"transport.websocket.path"_s << QVariant(u"/ws"_s);
        QTest::newRow("server.decision_timeout_ms")
            << u"server.decision_timeout_ms"_s << QVariant(1000);
        QTest::newRow("logging.level") << u"logging.level"_s << QVariant(u"info"_s);
        QTest::newRow("admin.path") << u"admin.path"_s << QVariant(u"/admin"_s);
        QTest::newRow("admin.token (secret)") << u"admin.token"_s << QVariant();
        QTest::newRow("unknown") << u"server.nope"_s << QVariant();
    }

    void serverSettings()
    {
        QFETCH(QString, key);
        QFETCH(QVariant, value);
        Config config;
        config.server.host = u"10.0.0.1"_s;
        config.server.port = 9000;
        config.server.trustedProxies = {u"10.0.0.0/8"_s};
        config.transport.websocket.maxQueueSize = 123456;
        config.admin.token = u"hunter2"_s;
        const ServerSettings settings = Internal::ServerSettingsPrivate::fromConfig(config);
        QCOMPARE(settings.contains(key), value.isValid());
        QCOMPARE(settings.value(key), value);
        QCOMPARE(settings.keys().contains(key), value.isValid());
        for (const QString &each : settings.keys())
            QVERIFY2(settings.value(each) != QVariant(u"hunter2"_s), qPrintable(each));
        QCOMPARE(settings.host(), u"10.0.0.1"_s);
        QCOMPARE(settings.port(), 9000);
        QCOMPARE(settings.workers(), 0);
    }

    void emptySettings()
    {
        const ServerSettings settings;
        QVERIFY(settings.keys().isEmpty());
        QVERIFY(!settings.value(u"server.port").isValid());
        QCOMPARE(settings.port(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_ModuleApi)
#include "tst_moduleapi.moc"
