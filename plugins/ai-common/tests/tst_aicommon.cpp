// SPDX-License-Identifier: MIT
// What the provider modules share (plugins/ai-common): the event-stream parser, the retry delay
// (retry-after, back-off) and the config keys. The HTTP engine itself is exercised end to end by
// tst_agents against a local fake provider.
#include "providerengine.h"
#include "providersettings.h"
#include "sseparser.h"

#include <QDateTime>
#include <QTest>

using namespace Qt::StringLiterals;
using Mtw::Ai::ProviderDefaults;
using Mtw::Ai::ProviderEngine;
using Mtw::Ai::ProviderSettings;
using Mtw::Ai::SseParser;

namespace {

ProviderDefaults defaults(bool keyRequired = true)
{
    return {u"mtw-ai-test"_s,
            u"test"_s,
            u"https://api.example.com"_s,
            u"/v1/x"_s,
            u"m-1"_s,
            keyRequired};
}

QStringList render(const QList<Mtw::Ai::SseEvent> &events)
{
    QStringList out;
    for (const auto &event : events)
        out.append(QString::fromUtf8(event.event + '|' + event.data));
    return out;
}

} // namespace

class TestAiCommon : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sse_data()
    {
        QTest::addColumn<QByteArray>("stream");
        QTest::addColumn<QStringList>("events");
        QTest::newRow("LF") << QByteArray("event: a\ndata: {\"x\":1}\n\n")
                            << QStringList{u"a|{\"x\":1}"_s};
        QTest::newRow("CRLF") << QByteArray("event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n")
                              << QStringList{u"a|1"_s, u"|2"_s};
        QTest::newRow("CR") << QByteArray("data: 1\r\rdata: 2\r\r")
                            << QStringList{u"|1"_s, u"|2"_s};
        QTest::newRow("comments and unknown fields")
            << QByteArray(": keep-alive\nid: 7\nretry: 10\ndata: x\n\n") << QStringList{u"|x"_s};
        QTest::newRow("multi-line data")
            << QByteArray("data: a\ndata: b\n\n") << QStringList{u"|a\nb"_s};
        QTest::newRow("no space after colon")
            << QByteArray("data:[DONE]\n\n") << QStringList{u"|[DONE]"_s};
        QTest::newRow("an event without data is none")
            << QByteArray("event: ping\n\n") << QStringList{};
        QTest::newRow("unfinished event stays")
            << QByteArray("data: 1\n\ndata: 2\n") << QStringList{u"|1"_s};
    }

    // The same events whether the bytes come at once or one at a time.
    void sse()
    {
        QFETCH(QByteArray, stream);
        QFETCH(QStringList, events);
        SseParser whole;
        QCOMPARE(render(whole.feed(stream)), events);
        SseParser bytewise;
        QList<Mtw::Ai::SseEvent> collected;
        for (const char c : stream)
            collected += bytewise.feed(QByteArray(1, c));
        QCOMPARE(render(collected), events);
        QCOMPARE(whole.hasPartial(),
                 !stream.endsWith("\n\n") && !stream.endsWith("\r\r")
                     && !stream.endsWith("\r\n\r\n"));
    }

    void retryDelay_data()
    {
        QTest::addColumn<QByteArray>("retryAfter");
        QTest::addColumn<int>("attempt");
        QTest::addColumn<int>("expected");
        QTest::newRow("no header, first retry") << QByteArray() << 1 << 500;
        QTest::newRow("no header, doubled") << QByteArray() << 3 << 2000;
        QTest::newRow("no header, capped at 60 s") << QByteArray() << 12 << 60000;
        QTest::newRow("seconds") << QByteArray("2") << 1 << 2000;
        QTest::newRow("fraction") << QByteArray(" 0.25 ") << 1 << 250;
        QTest::newRow("zero") << QByteArray("0") << 4 << 0;
        QTest::newRow("longer than max_retry_after") << QByteArray("61") << 1 << -1;
        QTest::newRow("a date in the past")
            << QByteArray("Wed, 21 Oct 2015 07:28:00 GMT") << 1 << 0;
        QTest::newRow("garbage: back-off") << QByteArray("soon") << 2 << 1000;
    }

    void retryDelay()
    {
        QFETCH(QByteArray, retryAfter);
        QFETCH(int, attempt);
        QFETCH(int, expected);
        const auto settings = ProviderSettings::fromConfig({{u"api_key"_s, u"k"_s}}, defaults());
        QVERIFY(settings);
        QCOMPARE(settings->maxRetryAfterMs, 60000);
        QCOMPARE(ProviderEngine::retryDelayMs(*settings, retryAfter, attempt), expected);
    }

    void retryDelayHttpDateAhead()
    {
        const auto settings = ProviderSettings::fromConfig({{u"api_key"_s, u"k"_s}}, defaults());
        QVERIFY(settings);
        const QByteArray at =
            QDateTime::currentDateTimeUtc().addSecs(30).toString(Qt::RFC2822Date).toLatin1();
        const int delay = ProviderEngine::retryDelayMs(*settings, at, 1);
        QVERIFY2(delay > 20000 && delay <= 31000, qPrintable(QString::number(delay)));
    }

    void settingsDefaults()
    {
        const auto settings = ProviderSettings::fromConfig({}, defaults(false));
        QVERIFY(settings);
        QCOMPARE(settings->name, u"test"_s);
        QCOMPARE(settings->url, QUrl(u"https://api.example.com/v1/x"_s));
        QCOMPARE(settings->defaultModel, u"m-1"_s);
        QCOMPARE(settings->maxTokens, 1024);
        QCOMPARE(settings->timeoutMs, 60000);
        QCOMPARE(settings->retries, 2);
        QCOMPARE(settings->retryBackoffMs, 500);
        const auto custom =
            ProviderSettings::fromConfig({{u"base_url"_s, u"http://127.0.0.1:11434/v1/"_s},
                                          {u"name"_s, u"ollama"_s},
                                          {u"timeout"_s, qint64(300)},
                                          {u"retries"_s, qint64(0)},
                                          {u"max_tokens"_s, qint64(64)},
                                          {u"retry_backoff_ms"_s, qint64(0)},
                                          {u"max_retry_after"_s, qint64(5)},
                                          {u"default_model"_s, u"llama3.2"_s}},
                                         defaults(false));
        QVERIFY(custom);
        QCOMPARE(custom->url, QUrl(u"http://127.0.0.1:11434/v1/v1/x"_s));
        QCOMPARE(custom->name, u"ollama"_s);
        QCOMPARE(custom->timeoutMs, 300000);
        QCOMPARE(custom->retries, 0);
        QCOMPARE(custom->maxTokens, 64);
        QCOMPARE(custom->retryBackoffMs, 0);
        QCOMPARE(custom->maxRetryAfterMs, 5000);
        QCOMPARE(custom->defaultModel, u"llama3.2"_s);
    }

    void settingsErrors_data()
    {
        QTest::addColumn<QVariantMap>("config");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown key") << QVariantMap{{u"api_key"_s, u"k"_s}, {u"modle"_s, u"x"_s}}
                                     << u"mtw-ai-test: unknown config key 'modle'"_s;
        QTest::newRow("no key")
            << QVariantMap{}
            << u"mtw-ai-test: api_key is empty (set it, e.g. api_key = \"${ANTHROPIC_API_KEY}\""_s;
        QTest::newRow("key of another type")
            << QVariantMap{{u"api_key"_s, qint64(5)}} << u"mtw-ai-test: api_key must be a string"_s;
        QTest::newRow("timeout 0")
            << QVariantMap{{u"api_key"_s, u"k"_s}, {u"timeout"_s, qint64(0)}}
            << u"mtw-ai-test: timeout must be an integer 1-3600, got \"0\""_s;
        QTest::newRow("retries as text")
            << QVariantMap{{u"api_key"_s, u"k"_s}, {u"retries"_s, u"three"_s}}
            << u"mtw-ai-test: retries must be an integer 0-10, got \"three\""_s;
        QTest::newRow("base_url scheme")
            << QVariantMap{{u"api_key"_s, u"k"_s}, {u"base_url"_s, u"ftp://x"_s}}
            << u"mtw-ai-test: base_url must be an http:// or https:// URL without query, got \"ftp://x\""_s;
        QTest::newRow("base_url query")
            << QVariantMap{{u"api_key"_s, u"k"_s}, {u"base_url"_s, u"https://x/?a=1"_s}}
            << u"mtw-ai-test: base_url must be an http:// or https:// URL"_s;
        QTest::newRow("empty model")
            << QVariantMap{{u"api_key"_s, u"k"_s}, {u"default_model"_s, QString()}}
            << u"mtw-ai-test: default_model must not be empty"_s;
        QTest::newRow("empty name") << QVariantMap{{u"api_key"_s, u"k"_s}, {u"name"_s, QString()}}
                                    << u"mtw-ai-test: name must not be empty"_s;
    }

    // Every key acts: a bad value is an error naming the key and the value, never a default.
    void settingsErrors()
    {
        QFETCH(QVariantMap, config);
        QFETCH(QString, message);
        const auto settings = ProviderSettings::fromConfig(config, defaults());
        QVERIFY(!settings);
        QVERIFY2(settings.error().message.startsWith(message),
                 qPrintable(settings.error().message));
        QCOMPARE(settings.error().code, 400);
    }
};

QTEST_GUILESS_MAIN(TestAiCommon)
#include "tst_aicommon.moc"
