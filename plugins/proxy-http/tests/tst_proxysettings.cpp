// SPDX-License-Identifier: MIT
// mtw-proxy-http's config table: defaults, every key read, and each bad value refused with an
// error that names the key and the value (and never shows a backend header's value).
#include "proxysettings.h"

#include <QtTest>

using namespace Qt::StringLiterals;
using Mtw::ProxyHttp::ProxyKind;
using Mtw::ProxyHttp::ProxySettings;

class tst_ProxySettings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults()
    {
        const auto settings =
            ProxySettings::fromConfig({{u"connect_url"_s, u"http://127.0.0.1:9/connect"_s}}, 1000);
        QVERIFY2(settings, settings ? "" : qPrintable(settings.error().message));
        QVERIFY(settings->enabled(ProxyKind::Connect));
        QVERIFY(!settings->enabled(ProxyKind::Subscribe));
        QVERIFY(!settings->enabled(ProxyKind::Publish));
        QVERIFY(!settings->enabled(ProxyKind::Rpc));
        QCOMPARE(settings->timeoutMs, 750); // 3/4 of server.decision_timeout_ms
        QCOMPARE(settings->maxConcurrent, 32);
        QCOMPARE(settings->maxQueue, 256);
    }

    void everyKey()
    {
        const QVariantMap config{
            {u"connect_url"_s, u"https://backend.test/connect"_s},
            {u"subscribe_url"_s, u"http://backend.test/subscribe"_s},
            {u"publish_url"_s, u"http://backend.test/publish"_s},
            {u"rpc_url"_s, u"http://backend.test/rpc"_s},
            {u"rpc_actions"_s, QVariantList{u"app.echo"_s, u"app.sum"_s}},
            {u"timeout_ms"_s, qint64(400)},
            {u"max_concurrent"_s, qint64(7)},
            {u"max_queue"_s, qint64(0)},
            {u"headers"_s, QVariantList{u"Cookie"_s, u"X-Tenant"_s}},
            {u"backend_headers"_s, QVariantMap{{u"Authorization"_s, u"Bearer s3cret"_s}}},
        };
        const auto settings = ProxySettings::fromConfig(config, 1000);
        QVERIFY2(settings, settings ? "" : qPrintable(settings.error().message));
        QCOMPARE(settings->url(ProxyKind::Rpc), QUrl(u"http://backend.test/rpc"_s));
        QCOMPARE(settings->rpcActions, (QStringList{u"app.echo"_s, u"app.sum"_s}));
        QCOMPARE(settings->timeoutMs, 400);
        QCOMPARE(settings->maxConcurrent, 7);
        QCOMPARE(settings->maxQueue, 0);
        QCOMPARE(settings->forwardHeaders, (QList<QByteArray>{"cookie", "x-tenant"}));
        QCOMPARE(settings->extraHeaders.size(), 1);
        QCOMPARE(settings->extraHeaders.constFirst().second, "Bearer s3cret"_ba);
    }

    // A readable file without a certificate (the positive case, a CA the server then trusts, is
    // tst_proxy's tlsBackend).
    void caFileWithoutCertificate()
    {
        const QString notCertificate = QStringLiteral(MTW_TEST_DATA_DIR "/jwt/rs256.pub.pem");
        const auto settings =
            ProxySettings::fromConfig({{u"rpc_url"_s, u"https://127.0.0.1:1/rpc"_s},
                                       {u"rpc_actions"_s, QVariantList{u"a"_s}},
                                       {u"ca_file"_s, notCertificate}},
                                      1000);
        QVERIFY(!settings);
        QCOMPARE(settings.error().message,
                 u"mtw-proxy-http: ca_file \"%1\" holds no PEM certificate"_s.arg(notCertificate));
    }

    void refused_data()
    {
        QTest::addColumn<QVariantMap>("config");
        QTest::addColumn<QString>("expected");
        const QString url = u"http://127.0.0.1:9/x"_s;
        QTest::newRow("nothing to proxy") << QVariantMap{} << u"set at least one of"_s;
        QTest::newRow("unknown key") << QVariantMap{{u"connect_url"_s, url}, {u"timeout"_s, 5}}
                                     << u"unknown config key 'timeout'"_s;
        QTest::newRow("not http") << QVariantMap{{u"connect_url"_s, u"ftp://host/x"_s}}
                                  << u"connect_url must be an http:// or https:// URL"_s;
        QTest::newRow("url not a string") << QVariantMap{{u"publish_url"_s, qint64(3)}}
                                          << u"publish_url must be a string, got \"3\""_s;
        QTest::newRow("timeout not below the decision deadline")
            << QVariantMap{{u"connect_url"_s, url}, {u"timeout_ms"_s, qint64(1000)}}
            << u"timeout_ms must be an integer from 1 to 999, got \"1000\""_s;
        QTest::newRow("timeout a string")
            << QVariantMap{{u"connect_url"_s, url}, {u"timeout_ms"_s, u"fast"_s}}
            << u"timeout_ms must be an integer from 1 to 999, got \"fast\""_s;
        QTest::newRow("max_concurrent 0")
            << QVariantMap{{u"connect_url"_s, url}, {u"max_concurrent"_s, qint64(0)}}
            << u"max_concurrent must be an integer from 1 to 1024, got \"0\""_s;
        QTest::newRow("max_queue negative")
            << QVariantMap{{u"connect_url"_s, url}, {u"max_queue"_s, qint64(-1)}}
            << u"max_queue must be an integer from 0 to 100000, got \"-1\""_s;
        QTest::newRow("rpc_url without actions")
            << QVariantMap{{u"rpc_url"_s, url}} << u"rpc_actions is empty"_s;
        QTest::newRow("actions without rpc_url")
            << QVariantMap{{u"connect_url"_s, url}, {u"rpc_actions"_s, QVariantList{u"a"_s}}}
            << u"rpc_actions = [a] needs rpc_url"_s;
        QTest::newRow("rpc_actions not a list")
            << QVariantMap{{u"rpc_url"_s, url}, {u"rpc_actions"_s, u"a"_s}}
            << u"rpc_actions must be a list of strings, got \"a\""_s;
        QTest::newRow("bad header name")
            << QVariantMap{{u"connect_url"_s, url}, {u"headers"_s, QVariantList{u"a b"_s}}}
            << u"headers: \"a b\" is not an HTTP header name"_s;
        QTest::newRow("framing header")
            << QVariantMap{{u"connect_url"_s, url}, {u"headers"_s, QVariantList{u"Host"_s}}}
            << u"headers: \"Host\" belongs to the HTTP request itself"_s;
        QTest::newRow("headers without connect")
            << QVariantMap{{u"subscribe_url"_s, url}, {u"headers"_s, QVariantList{u"cookie"_s}}}
            << u"headers are forwarded with connect only"_s;
        QTest::newRow("backend header with a newline")
            << QVariantMap{{u"connect_url"_s, url},
                           {u"backend_headers"_s,
                            QVariantMap{{u"Authorization"_s, u"Bearer s3cret\r\nX: y"_s}}}}
            << u"backend_headers.Authorization must be a non-empty one-line string"_s;
        QTest::newRow("backend_headers not a table")
            << QVariantMap{{u"connect_url"_s, url}, {u"backend_headers"_s, u"x"_s}}
            << u"backend_headers must be a table"_s;
        QTest::newRow("ca_file without https")
            << QVariantMap{{u"connect_url"_s, url}, {u"ca_file"_s, u"/etc/hostname"_s}}
            << u"ca_file \"/etc/hostname\" is set but no *_url is https://"_s;
        QTest::newRow("ca_file missing")
            << QVariantMap{{u"connect_url"_s, u"https://127.0.0.1:9/x"_s},
                           {u"ca_file"_s, u"/nonexistent/ca.pem"_s}}
            << u"ca_file \"/nonexistent/ca.pem\" cannot be read"_s;
    }

    void refused()
    {
        QFETCH(QVariantMap, config);
        QFETCH(QString, expected);
        const auto settings = ProxySettings::fromConfig(config, 1000);
        QVERIFY(!settings);
        QVERIFY2(settings.error().message.contains(expected), qPrintable(settings.error().message));
        QVERIFY2(settings.error().message.startsWith(u"mtw-proxy-http: "_s),
                 qPrintable(settings.error().message));
        QVERIFY(!settings.error().message.contains(u"s3cret"_s)); // a secret is never shown
    }
};

QTEST_GUILESS_MAIN(tst_ProxySettings)
#include "tst_proxysettings.moc"
