// SPDX-License-Identifier: MIT
// [[agents]] end to end (docs/agents.md): a real Server with the real provider modules
// (mtw-ai-anthropic, mtw-ai-openai) talking to FakeProvider, a local HTTP server that replays
// each provider's recorded streaming format; WebSocket clients on loopback. No real provider.
#include "fakeprovider.h"
#include "testclient.h"

#include <mtw/config.h>
#include <mtw/module.h>
#include <mtw/modulestatus.h>
#include <mtw/server.h>

#include <QJsonArray>
#include <QNetworkRequest>
#include <QTest>
#include <QWebSocket>

#include <functional>
#include <memory>
#include <thread>

using namespace Qt::StringLiterals;

Q_DECLARE_METATYPE(FakeProvider::Response)

namespace {

QJsonObject text(const QString &value)
{
    return QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, value}};
}

QJsonObject json(const QJsonValue &value)
{
    return QJsonObject{{u"kind"_s, u"Json"_s}, {u"data"_s, value}};
}

QString streamed(const QList<QJsonObject> &chunks)
{
    QString all;
    for (const QJsonObject &chunk : chunks)
        all += chunk.value(u"payload"_s).toObject().value(u"data"_s).toString();
    return all;
}

// An Anthropic stream in which the model calls `tools` (name, arguments JSON), the arguments in
// fragments of 5 bytes.
QByteArray toolUseStream(const QList<QPair<QString, QByteArray>> &tools)
{
    QByteArray out =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
        "\"claude-test\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n";
    int index = 0;
    for (const auto &[name, arguments] : tools) {
        out += "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"
            + QByteArray::number(index)
            + ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_"
            + QByteArray::number(index) + "\",\"name\":\"" + name.toUtf8()
            + "\",\"input\":{}}}\n\n";
        for (qsizetype at = 0; at < arguments.size(); at += 5) {
            const QByteArray piece =
                QJsonDocument(QJsonArray{QString::fromUtf8(arguments.mid(at, 5))})
                    .toJson(QJsonDocument::Compact)
                    .mid(1)
                    .chopped(1);
            out += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"
                + QByteArray::number(index)
                + ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":" + piece + "}}\n\n";
        }
        out += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"
            + QByteArray::number(index) + "}\n\n";
        ++index;
    }
    out += "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
           "\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n"
           "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    return out;
}

// An Anthropic text stream that says `deltas`, with that usage.
FakeProvider::Response
textStream(const QStringList &deltas, int inputTokens = 5, int outputTokens = 2)
{
    QByteArray out =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
        "\"claude-test\",\"usage\":{\"input_tokens\":"
        + QByteArray::number(inputTokens)
        + ",\"output_tokens\":1}}}\n\n"
          "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
          "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    for (const QString &delta : deltas) {
        const QByteArray text =
            QJsonDocument(QJsonArray{delta}).toJson(QJsonDocument::Compact).mid(1).chopped(1);
        out += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_delta\",\"text\":"
            + text + "}}\n\n";
    }
    out += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
           "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
           "\"end_turn\"},\"usage\":{\"output_tokens\":"
        + QByteArray::number(outputTokens)
        + "}}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    return FakeProvider::Response{200, {}, out};
}

// A module tool: answers later, from another thread, with the order it was asked for.
class OrderTool : public Mtw::IModule, public Mtw::IAgentTool
{
public:
    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        context.registerAgentTool(this);
        return {};
    }
    QString name() const override { return u"lookup_order"_s; }
    QString description() const override { return u"Finds an order by its number"_s; }
    QJsonObject inputSchema() const override
    {
        return {
            {u"type"_s, u"object"_s},
            {u"properties"_s, QJsonObject{{u"number"_s, QJsonObject{{u"type"_s, u"string"_s}}}}}};
    }
    void call(const QJsonObject &arguments, Mtw::ToolReply reply) override
    {
        std::thread([arguments, reply] {
            reply.result(u"order %1: shipped"_s.arg(arguments.value(u"number"_s).toString()));
        }).detach();
    }
};

} // namespace

class TestAgents : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<FakeProvider> fake;
    std::unique_ptr<Mtw::Server> server;
    int providerTimeout = 5; // the modules' `timeout`, seconds

    // Both provider modules at `fake`, a few agents; `extra` is appended to the file.
    bool startServer(const QString &extra = QString(),
                     const std::function<void(Mtw::Server &)> &prepare = {})
    {
        const QString base = u"http://127.0.0.1:%1"_s.arg(fake->port());
        const QString text =
            u"[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = 2\nshutdown_timeout = 2\n"
            "plugins_dir = \"%1\"\n\n"
            "[[modules]]\nname = \"mtw-ai-anthropic\"\n"
            "config = { api_key = \"${MTW_TEST_ANTHROPIC_KEY}\", base_url = \"%2\", timeout = %4, "
            "retries = 2, retry_backoff_ms = 10, default_model = \"claude-default\" }\n\n"
            "[[modules]]\nname = \"mtw-ai-openai\"\n"
            "config = { api_key = \"sk-test-openai\", base_url = \"%2/v1/\", timeout = %4, "
            "retries = 2, retry_backoff_ms = 10 }\n\n"
            "[[agents]]\nname = \"claude\"\nprovider = \"anthropic\"\nmodel = \"claude-test\"\n"
            "system = \"Be brief.\"\ntools = [\"get_weather\"]\nchannels = [\"room.*\"]\n\n"
            "[[agents]]\nname = \"gpt\"\nprovider = \"mtw-ai-openai\"\nmodel = \"gpt-test\"\n"
            "system = \"Be brief.\"\ntools = [\"get_weather\"]\n\n"
            "[[agents]]\nname = \"solo\"\nprovider = \"anthropic\"\nmax_concurrent = 1\n"
            "max_queued = 1\n\n"
            "[[agents]]\nname = \"nowhere\"\nprovider = \"no-such-provider\"\n\n"
            "[[channels]]\nname = \"room.*\"\n%3"_s.arg(QStringLiteral(MTW_PLUGIN_DIR), base, extra)
                .arg(providerTimeout);
        QProcessEnvironment env;
        env.insert(u"MTW_TEST_ANTHROPIC_KEY"_s, u"sk-ant-test-key"_s);
        const Mtw::ConfigLoadResult loaded = Mtw::parseConfig(text, u"agents.toml"_s, env);
        for (const Mtw::ConfigDiagnostic &diagnostic : loaded.diagnostics)
            qWarning().noquote() << diagnostic.toString();
        if (loaded.hasErrors())
            return false;
        server = std::make_unique<Mtw::Server>(loaded.config);
        if (prepare)
            prepare(*server);
        const auto started = server->start();
        if (!started)
            qWarning().noquote() << started.error().message;
        return bool(started);
    }

    // The admin API's first message (its snapshot), or empty after 5 s.
    QJsonObject adminSnapshot()
    {
        QWebSocket admin;
        QNetworkRequest upgrade(QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(server->port())));
        upgrade.setRawHeader("Authorization", "Bearer " + server->adminToken().toUtf8());
        QJsonObject snapshot;
        connect(&admin, &QWebSocket::textMessageReceived, this, [&](const QString &frame) {
            if (snapshot.isEmpty())
                snapshot = QJsonDocument::fromJson(frame.toUtf8()).object();
        });
        admin.open(upgrade);
        (void)QTest::qWaitFor([&] { return !snapshot.isEmpty(); }, 5000);
        return snapshot;
    }

    QUrl url() const { return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server->port())); }

    static void sendTask(TestClient &client,
                         const QString &id,
                         const QString &agent,
                         const QString &prompt,
                         QJsonObject metadata = {})
    {
        metadata.insert(u"agent"_s, agent);
        client.sendEnvelope(u"agent_task"_s,
                            id,
                            {{u"payload"_s, text(prompt)}, {u"metadata"_s, metadata}});
    }

    static QList<QJsonObject>
    forTask(const TestClient &client, const QString &type, const QString &id)
    {
        QList<QJsonObject> out;
        for (const QJsonObject &message : client.received) {
            if (message.value(u"type"_s).toString() == type
                && message.value(u"ref_id"_s).toString() == id)
                out.append(message);
        }
        return out;
    }

    // The error for task `id` (waits for it).
    static QJsonObject errorOf(TestClient &client, const QString &id, int timeoutMs = 8000)
    {
        QJsonObject found;
        (void)QTest::qWaitFor(
            [&] {
                const auto errors = forTask(client, u"error"_s, id);
                if (!errors.isEmpty())
                    found =
                        errors.first().value(u"payload"_s).toObject().value(u"data"_s).toObject();
                return !errors.isEmpty();
            },
            timeoutMs);
        return found;
    }

private Q_SLOTS:
    void init()
    {
        fake = std::make_unique<FakeProvider>();
        QVERIFY(fake->listen());
        providerTimeout = 5;
    }

    void cleanup()
    {
        server.reset();
        fake.reset();
    }

    void directTask_data()
    {
        QTest::addColumn<QString>("agent");
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<int>("pieceSize");
        QTest::addColumn<QByteArray>("path");
        QTest::addColumn<QByteArray>("keyHeader");
        QTest::addColumn<QByteArray>("keyValue");
        QTest::addColumn<int>("tokensIn");
        QTest::newRow("anthropic")
            << u"claude"_s << u"anthropic-text.sse"_s << 0 << QByteArray("/v1/messages")
            << QByteArray("x-api-key") << QByteArray("sk-ant-test-key") << 25;
        // Events and lines split across reads.
        QTest::newRow("anthropic, 13-byte pieces")
            << u"claude"_s << u"anthropic-text.sse"_s << 13 << QByteArray("/v1/messages")
            << QByteArray("x-api-key") << QByteArray("sk-ant-test-key") << 25;
        QTest::newRow("openai, 11-byte pieces")
            << u"gpt"_s << u"openai-text.sse"_s << 11 << QByteArray("/v1/chat/completions")
            << QByteArray("authorization") << QByteArray("Bearer sk-test-openai") << 9;
        QTest::newRow("openai") << u"gpt"_s << u"openai-text.sse"_s << 0
                                << QByteArray("/v1/chat/completions") << QByteArray("authorization")
                                << QByteArray("Bearer sk-test-openai") << 9;
    }

    // Chunks stream with ref_id = the task id, then agent_complete (payload None) with usage,
    // model and stop_reason; the request carries the model, system prompt, context and key.
    void directTask()
    {
        QFETCH(QString, agent);
        QFETCH(QString, fixture);
        QFETCH(int, pieceSize);
        QFETCH(QByteArray, path);
        QFETCH(QByteArray, keyHeader);
        QFETCH(QByteArray, keyValue);
        QFETCH(int, tokensIn);
        FakeProvider::Response response = FakeProvider::sse(fixture);
        response.pieceSize = pieceSize;
        fake->push(response);
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        const QJsonArray context{
            QJsonObject{{u"role"_s, u"user"_s}, {u"content"_s, u"Hi"_s}},
            QJsonObject{{u"role"_s, u"assistant"_s}, {u"content"_s, u"Hello"_s}}};
        sendTask(client, u"t1"_s, agent, u"Say hello"_s, {{u"context"_s, context}});
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"t1"_s).size(), 1, 8000);
        const auto chunks = forTask(client, u"agent_chunk"_s, u"t1"_s);
        QCOMPARE(chunks.size(), 3);
        QCOMPARE(streamed(chunks), u"Hello, world!"_s);
        QCOMPARE(chunks.first().value(u"payload"_s).toObject().value(u"kind"_s).toString(),
                 u"Text"_s);
        const QJsonObject done = forTask(client, u"agent_complete"_s, u"t1"_s).first();
        QCOMPARE(done.value(u"payload"_s).toObject().value(u"kind"_s).toString(), u"None"_s);
        const QJsonObject metadata = done.value(u"metadata"_s).toObject();
        QCOMPARE(metadata.value(u"usage"_s).toObject().value(u"input_tokens"_s).toInt(), tokensIn);
        QVERIFY(!metadata.value(u"stop_reason"_s).toString().isEmpty());
        QVERIFY(!metadata.value(u"model"_s).toString().isEmpty());
        QVERIFY(forTask(client, u"error"_s, u"t1"_s).isEmpty());
        // The admin API's counters add the agents' (tokens from the provider's usage).
        const QJsonObject snapshot = adminSnapshot();
        QVERIFY(!snapshot.isEmpty());
        const QJsonObject agents =
            snapshot.value(u"counters"_s).toObject().value(u"agents"_s).toObject();
        QCOMPARE(agents.value(u"completed"_s).toInt(), 1);
        QCOMPARE(agents.value(u"running"_s).toInt(), 0);
        QCOMPARE(agents.value(u"tokens_in"_s).toInt(), tokensIn);
        QVERIFY(agents.value(u"tokens_out"_s).toInt() > 0);

        QCOMPARE(fake->requests.size(), 1);
        const FakeProvider::Request &request = fake->requests.first();
        QCOMPARE(request.path, path);
        QCOMPARE(request.headers.value(keyHeader), keyValue);
        QCOMPARE(request.body.value(u"stream"_s).toBool(), true);
        QCOMPARE(request.body.value(u"model"_s).toString(),
                 agent == u"claude" ? u"claude-test"_s : u"gpt-test"_s);
        const QJsonArray messages = request.body.value(u"messages"_s).toArray();
        QCOMPARE(messages.last().toObject().value(u"content"_s).toString(), u"Say hello"_s);
        if (agent == u"claude") {
            QCOMPARE(request.body.value(u"system"_s).toString(), u"Be brief."_s);
            QCOMPARE(messages.size(), 3);
            QCOMPARE(request.headers.value("anthropic-version"), QByteArray("2023-06-01"));
        } else {
            QCOMPARE(messages.first().toObject().value(u"role"_s).toString(), u"system"_s);
            QCOMPARE(messages.size(), 4);
        }
    }

    void providerFailures_data()
    {
        QTest::addColumn<QString>("agent");
        QTest::addColumn<QList<FakeProvider::Response>>("script");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("says");
        QTest::addColumn<int>("requests");
        QTest::addColumn<QString>("partial");
        using R = FakeProvider::Response;
        const R overloaded{529, {}, FakeProvider::fixture(u"anthropic-overloaded.json"_s)};
        const R limited{429,
                        {{"retry-after", "0"}},
                        FakeProvider::fixture(u"anthropic-ratelimited.json"_s)};
        const R hang{200, {}, QByteArray(), true};
        QTest::newRow("anthropic cut")
            << u"claude"_s << QList<R>{FakeProvider::sse(u"anthropic-cut.sse"_s)} << 502
            << u"message_stop"_s << 1 << u"Hello, world!"_s;
        QTest::newRow("openai cut") << u"gpt"_s << QList<R>{FakeProvider::sse(u"openai-cut.sse"_s)}
                                    << 502 << u"cut in the middle"_s << 1 << u"Hello"_s;
        QTest::newRow("anthropic malformed")
            << u"claude"_s << QList<R>{FakeProvider::sse(u"anthropic-malformed.sse"_s)} << 502
            << u"malformed"_s << 1 << u"Hi"_s;
        QTest::newRow("openai malformed")
            << u"gpt"_s << QList<R>{FakeProvider::sse(u"openai-malformed.sse"_s)} << 502
            << u"malformed"_s << 1 << u"Hi"_s;
        QTest::newRow("anthropic 529 x3")
            << u"claude"_s << QList<R>{overloaded, overloaded, overloaded} << 503
            << u"HTTP 529 overloaded: overloaded_error"_s << 3 << QString();
        QTest::newRow("openai 500 x3")
            << u"gpt"_s << QList<R>{R{500, {}, "{}"}, R{502, {}, "{}"}, R{503, {}, "{}"}} << 503
            << u"after 2 retries"_s << 3 << QString();
        QTest::newRow("anthropic timeout")
            << u"claude"_s << QList<R>{hang} << 504 << u"timeout"_s << 1 << QString();
        QTest::newRow("openai 401")
            << u"gpt"_s
            << QList<R>{R{401, {}, "{\"error\":{\"message\":\"Incorrect API key provided\"}}"}}
            << 502 << u"HTTP 401: Incorrect API key"_s << 1 << QString();
        QTest::newRow("429 longer than max_retry_after")
            << u"claude"_s << QList<R>{R{429, {{"retry-after", "3600"}}, "{}"}} << 429
            << u"more than max_retry_after"_s << 1 << QString();
        Q_UNUSED(limited);
    }

    // Every failure is an `error` with the task's ref_id and a message that says what happened;
    // what streamed before a cut stays streamed.
    void providerFailures()
    {
        QFETCH(QString, agent);
        QFETCH(QList<FakeProvider::Response>, script);
        QFETCH(int, code);
        QFETCH(QString, says);
        QFETCH(int, requests);
        QFETCH(QString, partial);
        for (const auto &response : script)
            fake->push(response);
        providerTimeout = 1; // the timeout row waits this long
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"bad"_s, agent, u"Hello?"_s);
        const QJsonObject error = errorOf(client, u"bad"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), code);
        QVERIFY2(error.value(u"message"_s).toString().contains(says),
                 qPrintable(error.value(u"message"_s).toString()));
        QVERIFY2(error.value(u"message"_s).toString().contains(u"agent '%1'"_s.arg(agent)),
                 qPrintable(error.value(u"message"_s).toString()));
        QVERIFY(!error.value(u"message"_s).toString().contains(u"sk-"_s));
        QCOMPARE(fake->requests.size(), requests);
        QCOMPARE(streamed(forTask(client, u"agent_chunk"_s, u"bad"_s)), partial);
        QVERIFY(forTask(client, u"agent_complete"_s, u"bad"_s).isEmpty());
    }

    // 429 with retry-after, then a stream: the task completes on the second request.
    void retryAfterThenSuccess()
    {
        fake->push(FakeProvider::Response{429,
                                          {{"retry-after", "0"}},
                                          FakeProvider::fixture(u"anthropic-ratelimited.json"_s)});
        fake->push(FakeProvider::sse(u"anthropic-text.sse"_s));
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"r1"_s, u"claude"_s, u"Hello?"_s);
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"r1"_s).size(), 1, 8000);
        QCOMPARE(fake->requests.size(), 2);
        QCOMPARE(streamed(forTask(client, u"agent_chunk"_s, u"r1"_s)), u"Hello, world!"_s);
    }

    void unknownAgentAndProvider()
    {
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"u1"_s, u"nobody"_s, u"Hello?"_s);
        QJsonObject error = errorOf(client, u"u1"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), 404);
        QCOMPARE(error.value(u"message"_s).toString(), u"agent 'nobody' not found"_s);
        sendTask(client, u"u2"_s, u"nowhere"_s, u"Hello?"_s);
        error = errorOf(client, u"u2"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), 503);
        QVERIFY(error.value(u"message"_s).toString().contains(u"no-such-provider"_s));
        QVERIFY(fake->requests.isEmpty());
        // A tool result for no task of this connection, and one without ref_id.
        client.sendEnvelope(
            u"agent_tool_result"_s,
            u"r1"_s,
            {{u"ref_id"_s, u"u1"_s}, {u"payload"_s, json(QJsonObject{{u"toolCallId"_s, u"x"_s}})}});
        error = errorOf(client, u"r1"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), 404);
        client.sendEnvelope(u"agent_tool_result"_s, u"r2"_s);
        error = errorOf(client, u"r2"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), 400);
        QCOMPARE(error.value(u"message"_s).toString(),
                 u"agent_tool_result needs ref_id = the task's id"_s);
    }

    // Nothing listens at base_url: 503 after the retries, and the server keeps serving.
    void providerDown()
    {
        fake->close(); // base_url keeps its port: nothing listens there now
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"d1"_s, u"gpt"_s, u"Hello?"_s);
        const QJsonObject error = errorOf(client, u"d1"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), 503);
        QVERIFY2(error.value(u"message"_s).toString().contains(u"cannot reach the provider"_s),
                 qPrintable(error.value(u"message"_s).toString()));
        client.sendEnvelope(u"ping"_s, u"p1"_s);
        QCOMPARE(client.reply(u"p1"_s).value(u"type"_s).toString(), u"pong"_s);
    }

    void clientToolRoundTrip_data()
    {
        QTest::addColumn<QString>("agent");
        QTest::addColumn<QString>("toolFixture");
        QTest::addColumn<QString>("textFixture");
        QTest::addColumn<bool>("rustShape");
        QTest::newRow("anthropic, TypeScript shape")
            << u"claude"_s << u"anthropic-tool.sse"_s << u"anthropic-text.sse"_s << false;
        QTest::newRow("anthropic, Rust shape")
            << u"claude"_s << u"anthropic-tool.sse"_s << u"anthropic-text.sse"_s << true;
        QTest::newRow("openai, TypeScript shape")
            << u"gpt"_s << u"openai-tool.sse"_s << u"openai-text.sse"_s << false;
        QTest::newRow("openai, Rust shape")
            << u"gpt"_s << u"openai-tool.sse"_s << u"openai-text.sse"_s << true;
    }

    // The model calls a client tool whose arguments arrive in many fragments: the client gets
    // agent_tool_call {id, name, params, arguments}, answers agent_tool_result, and the result
    // goes back to the provider; the next round's text completes the task.
    void clientToolRoundTrip()
    {
        QFETCH(QString, agent);
        QFETCH(QString, toolFixture);
        QFETCH(QString, textFixture);
        QFETCH(bool, rustShape);
        fake->push(FakeProvider::sse(toolFixture));
        fake->push(FakeProvider::sse(textFixture));
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        const QJsonArray tools{QJsonObject{
            {u"name"_s, u"get_weather"_s},
            {u"description"_s, u"Weather at a place"_s},
            {u"parameters"_s,
             QJsonObject{{u"type"_s, u"object"_s},
                         {u"properties"_s,
                          QJsonObject{{u"location"_s, QJsonObject{{u"type"_s, u"string"_s}}}}}}}}};
        sendTask(client, u"tool1"_s, agent, u"Weather in SF?"_s, {{u"tools"_s, tools}});
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_tool_call"_s, u"tool1"_s).size(),
                                  1,
                                  8000);
        const QJsonObject call = forTask(client, u"agent_tool_call"_s, u"tool1"_s)
                                     .first()
                                     .value(u"payload"_s)
                                     .toObject()
                                     .value(u"data"_s)
                                     .toObject();
        const QJsonObject expected{{u"location"_s, u"San Francisco, CA"_s},
                                   {u"unit"_s, u"fahrenheit"_s}};
        QCOMPARE(call.value(u"name"_s).toString(), u"get_weather"_s);
        QCOMPARE(call.value(u"params"_s).toObject(), expected);
        QCOMPARE(call.value(u"arguments"_s).toObject(), expected);
        const QString callId = call.value(u"id"_s).toString();
        QVERIFY(!callId.isEmpty());
        const QJsonObject result = rustShape ? QJsonObject{{u"tool_call_id"_s, callId},
                                                           {u"name"_s, u"get_weather"_s},
                                                           {u"result"_s, u"72F and sunny"_s},
                                                           {u"is_error"_s, false}}
                                             : QJsonObject{{u"toolCallId"_s, callId},
                                                           {u"content"_s, u"72F and sunny"_s},
                                                           {u"isError"_s, false}};
        client.sendEnvelope(u"agent_tool_result"_s,
                            u"res1"_s,
                            {{u"payload"_s, json(result)}, {u"ref_id"_s, u"tool1"_s}});
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"tool1"_s).size(), 1, 8000);
        QVERIFY(forTask(client, u"error"_s, u"tool1"_s).isEmpty());
        QVERIFY(forTask(client, u"error"_s, u"res1"_s).isEmpty());
        QCOMPARE(fake->requests.size(), 2);
        // The tool definition the client gave went to the provider.
        const QJsonArray sentTools = fake->requests.first().body.value(u"tools"_s).toArray();
        QCOMPARE(sentTools.size(), 1);
        const QByteArray second =
            QJsonDocument(fake->requests.at(1).body).toJson(QJsonDocument::Compact);
        QVERIFY2(second.contains("72F and sunny"), second.constData());
        QVERIFY(second.contains(callId.toUtf8()));
        if (agent == u"claude")
            QVERIFY(second.contains("\"type\":\"tool_result\""));
        else
            QVERIFY(second.contains("\"role\":\"tool\""));
        QVERIFY(
            streamed(forTask(client, u"agent_chunk"_s, u"tool1"_s)).endsWith(u"Hello, world!"_s));
    }

    // A publish on an agent's channel is a task: every subscriber sees the stream, the history
    // holds the answer once, from the agent, and the next task gets it as context.
    void channelBoundAgent()
    {
        fake->push(FakeProvider::sse(u"anthropic-text.sse"_s));
        fake->push(FakeProvider::sse(u"anthropic-text.sse"_s));
        QVERIFY(startServer());
        TestClient a, b, publisher;
        for (TestClient *client : {&a, &b, &publisher})
            QVERIFY(client->open(url()));
        for (TestClient *client : {&a, &b}) {
            client->sendEnvelope(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"room.one"_s}});
            QCOMPARE(client->reply(u"s"_s).value(u"type"_s).toString(), u"response"_s);
        }
        publisher.sendEnvelope(
            u"publish"_s,
            u"q1"_s,
            {{u"channel"_s, u"room.one"_s}, {u"payload"_s, text(u"What is up?"_s)}});
        QCOMPARE(publisher.reply(u"q1"_s).value(u"type"_s).toString(), u"response"_s);
        for (TestClient *client : {&a, &b}) {
            QTRY_COMPARE_WITH_TIMEOUT(client->ofType(u"agent_complete"_s, u"room.one"_s).size(),
                                      1,
                                      8000);
            const auto chunks = client->ofType(u"agent_chunk"_s, u"room.one"_s);
            QCOMPARE(chunks.size(), 3);
            QCOMPARE(streamed(chunks), u"Hello, world!"_s);
            const QJsonObject metadata = chunks.first().value(u"metadata"_s).toObject();
            QCOMPARE(metadata.value(u"agent"_s).toString(), u"claude"_s);
            QCOMPARE(metadata.value(u"task"_s).toString(), u"q1"_s);
            const QJsonObject done = client->ofType(u"agent_complete"_s, u"room.one"_s).first();
            QCOMPARE(done.value(u"payload"_s).toObject().value(u"data"_s).toString(),
                     u"Hello, world!"_s);
            QCOMPARE(done.value(u"metadata"_s).toObject().value(u"from"_s).toString(),
                     u"agent:claude"_s);
        }
        // The publisher is not subscribed: it gets nothing of the stream.
        QVERIFY(publisher.ofType(u"agent_chunk"_s).isEmpty());

        a.sendEnvelope(u"request"_s,
                       u"h"_s,
                       {{u"channel"_s, u"room.one"_s},
                        {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}}}});
        const QJsonArray history = a.reply(u"h"_s)
                                       .value(u"payload"_s)
                                       .toObject()
                                       .value(u"data"_s)
                                       .toObject()
                                       .value(u"messages"_s)
                                       .toArray();
        QCOMPARE(history.size(), 2);
        QCOMPARE(
            history.at(1).toObject().value(u"metadata"_s).toObject().value(u"from"_s).toString(),
            u"agent:claude"_s);

        // The second question carries the first exchange as its conversation.
        publisher.sendEnvelope(
            u"publish"_s,
            u"q2"_s,
            {{u"channel"_s, u"room.one"_s}, {u"payload"_s, text(u"And now?"_s)}});
        QTRY_COMPARE_WITH_TIMEOUT(a.ofType(u"agent_complete"_s, u"room.one"_s).size(), 2, 8000);
        QCOMPARE(fake->requests.size(), 2);
        const QJsonArray messages = fake->requests.at(1).body.value(u"messages"_s).toArray();
        QCOMPARE(messages.size(), 3);
        QCOMPARE(messages.at(0).toObject().value(u"content"_s).toString(), u"What is up?"_s);
        QCOMPARE(messages.at(1).toObject().value(u"role"_s).toString(), u"assistant"_s);
        QCOMPARE(messages.at(1).toObject().value(u"content"_s).toString(), u"Hello, world!"_s);
        QCOMPARE(messages.at(2).toObject().value(u"content"_s).toString(), u"And now?"_s);
        // A channel the agent does not answer on asks nothing.
        publisher.sendEnvelope(u"publish"_s,
                               u"q3"_s,
                               {{u"channel"_s, u"lobby"_s}, {u"payload"_s, text(u"x"_s)}});
        (void)publisher.reply(u"q3"_s);
        QCOMPARE(fake->requests.size(), 2);
    }

    // Module and built-in tools in one round: both run in the server, their results go back to
    // the provider, and the client sees no agent_tool_call.
    void moduleAndBuiltinTools()
    {
        fake->push(FakeProvider::Response{
            200,
            {},
            toolUseStream({{u"lookup_order"_s, R"({"number":"A-1234"})"},
                           {u"channel_history"_s, R"({"channel":"room.tools","limit":5})"},
                           {u"kv_get"_s, R"({"bucket":"none","key":"k"})"}})});
        fake->push(FakeProvider::sse(u"anthropic-text.sse"_s));
        auto tool = std::make_shared<OrderTool>();
        Mtw::ModuleMetadata metadata;
        metadata.setId(u"order-tool"_s);
        metadata.setName(u"Order tool"_s);
        metadata.setVersion(u"1.0.0"_s);
        metadata.setApiVersion(Mtw::ModuleApiVersion);
        QVERIFY(startServer(u"\n[[agents]]\nname = \"toolie\"\nprovider = \"anthropic\"\n"
                            "tools = [\"lookup_order\", \"channel_history\", \"kv_get\"]\n"_s,
                            [&](Mtw::Server &s) { s.addModule(tool, metadata); }));
        TestClient client;
        QVERIFY(client.open(url()));
        client.sendEnvelope(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"room.tools"_s}});
        (void)client.reply(u"s"_s);
        sendTask(client, u"mt"_s, u"toolie"_s, u"Where is A-1234?"_s);
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"mt"_s).size(), 1, 8000);
        QVERIFY(forTask(client, u"agent_tool_call"_s, u"mt"_s).isEmpty());
        QCOMPARE(fake->requests.size(), 2);
        const QJsonArray first = fake->requests.first().body.value(u"tools"_s).toArray();
        QCOMPARE(first.size(), 3);
        QCOMPARE(first.at(0).toObject().value(u"description"_s).toString(),
                 u"Finds an order by its number"_s);
        const QJsonArray messages = fake->requests.at(1).body.value(u"messages"_s).toArray();
        const QJsonArray results = messages.last().toObject().value(u"content"_s).toArray();
        QCOMPARE(results.size(), 3);
        QCOMPARE(results.at(0).toObject().value(u"content"_s).toString(),
                 u"order A-1234: shipped"_s);
        QCOMPARE(results.at(0).toObject().value(u"tool_use_id"_s).toString(), u"toolu_0"_s);
        QCOMPARE(results.at(1).toObject().value(u"is_error"_s).toBool(), false);
        QVERIFY(results.at(1).toObject().value(u"content"_s).toString().startsWith(u"["_s));
        // No such bucket: the model gets an error result, the task goes on.
        QCOMPARE(results.at(2).toObject().value(u"is_error"_s).toBool(), true);
    }

    // A channel answer that fails ends for the subscribers with an error naming the agent and
    // the task; the publisher's publish was answered already.
    void channelTaskFailure()
    {
        fake->push(
            FakeProvider::Response{401, {}, "{\"error\":{\"message\":\"invalid x-api-key\"}}"});
        QVERIFY(startServer());
        TestClient member, publisher;
        QVERIFY(member.open(url()));
        QVERIFY(publisher.open(url()));
        member.sendEnvelope(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"room.two"_s}});
        (void)member.reply(u"s"_s);
        publisher.sendEnvelope(u"publish"_s,
                               u"p"_s,
                               {{u"channel"_s, u"room.two"_s}, {u"payload"_s, text(u"hi"_s)}});
        QCOMPARE(publisher.reply(u"p"_s).value(u"type"_s).toString(), u"response"_s);
        QTRY_COMPARE_WITH_TIMEOUT(member.ofType(u"error"_s, u"room.two"_s).size(), 1, 8000);
        const QJsonObject error = member.ofType(u"error"_s, u"room.two"_s).first();
        QCOMPARE(error.value(u"metadata"_s).toObject().value(u"agent"_s).toString(), u"claude"_s);
        QCOMPARE(error.value(u"metadata"_s).toObject().value(u"task"_s).toString(), u"p"_s);
        QVERIFY(error.value(u"payload"_s)
                    .toObject()
                    .value(u"data"_s)
                    .toObject()
                    .value(u"message"_s)
                    .toString()
                    .contains(u"HTTP 401: invalid x-api-key"_s));
        QVERIFY(member.ofType(u"agent_complete"_s).isEmpty());
    }

    // max_tool_rounds bounds the round trips: a model that keeps calling tools ends with what it
    // said, after 1 + max_tool_rounds provider calls.
    void toolRoundsBounded()
    {
        const QByteArray again =
            toolUseStream({{u"channel_presence"_s, R"({"channel":"room.x"})"}});
        fake->push(FakeProvider::Response{200, {}, again});
        fake->push(FakeProvider::Response{200, {}, again});
        QVERIFY(startServer(u"\n[[agents]]\nname = \"loop\"\nprovider = \"anthropic\"\n"
                            "tools = [\"channel_presence\"]\nmax_tool_rounds = 1\n"_s));
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"lp"_s, u"loop"_s, u"who is there?"_s);
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"lp"_s).size(), 1, 8000);
        QCOMPARE(fake->requests.size(), 2);
        QCOMPARE(forTask(client, u"agent_complete"_s, u"lp"_s)
                     .first()
                     .value(u"metadata"_s)
                     .toObject()
                     .value(u"stop_reason"_s)
                     .toString(),
                 u"tool_use"_s);
    }

    // A graceful shutdown ends every running task with 503 before the connections close.
    void shutdownEndsTasks()
    {
        fake->push(FakeProvider::Response{200, {}, QByteArray(), true});
        providerTimeout = 60;
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"sd"_s, u"claude"_s, u"long story"_s);
        QTRY_COMPARE_WITH_TIMEOUT(fake->requests.size(), 1, 8000);
        QSignalSpy finished(server.get(), &Mtw::Server::finished);
        server->shutdown();
        const QJsonObject error = errorOf(client, u"sd"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), 503);
        QCOMPARE(error.value(u"message"_s).toString(), u"server is shutting down"_s);
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 1001);
        QTRY_COMPARE_WITH_TIMEOUT(fake->disconnects, 1, 5000); // the provider call was aborted
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 8000);
    }

    // A client that goes away cancels its task: the provider's request is aborted.
    void cancelOnDisconnect()
    {
        fake->push(
            FakeProvider::Response{200, {}, FakeProvider::fixture(u"anthropic-text.sse"_s), true});
        providerTimeout = 60; // the abort, not the timeout, ends the request
        QVERIFY(startServer());
        {
            TestClient client;
            QVERIFY(client.open(url()));
            sendTask(client, u"c1"_s, u"claude"_s, u"Take your time"_s);
            QTRY_COMPARE_WITH_TIMEOUT(fake->requests.size(), 1, 8000);
            client.socket.close();
            QVERIFY(client.waitClosed());
        }
        // The engine aborts the held request (its timeout is a minute away).
        QTRY_COMPARE_WITH_TIMEOUT(fake->disconnects, 1, 5000);
    }

    // max_concurrent 1, max_queued 1: the second task waits, the third is refused with 429; when
    // the first ends the second runs.
    void maxConcurrentQueue()
    {
        fake->push(
            FakeProvider::Response{200, {}, FakeProvider::fixture(u"anthropic-text.sse"_s), true});
        fake->push(FakeProvider::sse(u"anthropic-text.sse"_s));
        providerTimeout = 60; // m1 is held until the test releases it
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"m1"_s, u"solo"_s, u"one"_s);
        QTRY_COMPARE_WITH_TIMEOUT(fake->requests.size(), 1, 8000);
        sendTask(client, u"m2"_s, u"solo"_s, u"two"_s);
        sendTask(client, u"m3"_s, u"solo"_s, u"three"_s);
        const QJsonObject refused = errorOf(client, u"m3"_s);
        QCOMPARE(refused.value(u"code"_s).toInt(), 429);
        QVERIFY(refused.value(u"message"_s).toString().contains(u"busy"_s));
        QCOMPARE(fake->requests.size(), 1); // m2 waits
        fake->release();
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"m1"_s).size(), 1, 8000);
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"m2"_s).size(), 1, 8000);
        QCOMPARE(fake->requests.size(), 2);
        QCOMPARE(fake->requests.at(1)
                     .body.value(u"messages"_s)
                     .toArray()
                     .last()
                     .toObject()
                     .value(u"content"_s)
                     .toString(),
                 u"two"_s);
    }

    // Bad provider config stops the module with an error naming the key and the value.
    void badProviderConfig()
    {
        const QString text = u"[server]\nhost = \"127.0.0.1\"\nport = 0\nplugins_dir = \"%1\"\n"
                             "[[modules]]\nname = \"mtw-ai-openai\"\nrequired = true\n"
                             "config = { base_url = \"ftp://x\", retries = 99 }\n"_s.arg(
                                 QStringLiteral(MTW_PLUGIN_DIR));
        const Mtw::ConfigLoadResult loaded = Mtw::parseConfig(text, u"bad.toml"_s, {});
        QVERIFY(!loaded.hasErrors());
        Mtw::Server bad(loaded.config);
        const auto started = bad.start();
        QVERIFY(!started);
        QVERIFY2(started.error().message.contains(u"retries"_s)
                     || started.error().message.contains(u"mtw-ai-openai"_s),
                 qPrintable(started.error().message));
        bool found = false;
        for (const Mtw::ModuleStatus &status : bad.modules())
            found =
                found || status.error().contains(u"retries must be an integer 0-10, got \"99\""_s);
        QVERIFY(found);
    }

    // [orchestrator] (docs/agents.md#orchestrator) --------------------------------------------

    // Two agents on `group.*` (models m1 and m2, answering "one" and "two") and the strategy.
    static QString orchestrated(const QString &strategy, const QString &more = QString())
    {
        return u"\n[[agents]]\nname = \"a1\"\nprovider = \"anthropic\"\nmodel = \"m1\"\n"
               "system = \"First.\"\nchannels = [\"group.*\"]\n\n"
               "[[agents]]\nname = \"a2\"\nprovider = \"anthropic\"\nmodel = \"m2\"\n"
               "system = \"Second.\"\nchannels = [\"group.*\"]\n\n"
               "[[channels]]\nname = \"group.*\"\n\n"
               "[orchestrator]\nstrategy = \"%1\"\n%2"_s.arg(strategy, more);
    }

    // A channel's agent output as one text per agent, from the chunks' metadata.agent.
    static QMap<QString, QString> byAgent(const QList<QJsonObject> &chunks)
    {
        QMap<QString, QString> out;
        for (const QJsonObject &chunk : chunks)
            out[chunk.value(u"metadata"_s).toObject().value(u"agent"_s).toString()] +=
                chunk.value(u"payload"_s).toObject().value(u"data"_s).toString();
        return out;
    }

    static QJsonObject publishTo(TestClient &client, const QString &id, const QString &channel)
    {
        client.sendEnvelope(u"publish"_s,
                            id,
                            {{u"channel"_s, channel}, {u"payload"_s, text(u"Question"_s)}});
        return client.reply(id);
    }

    static QJsonObject subscribe(TestClient &client, const QString &channel)
    {
        client.sendEnvelope(u"subscribe"_s, u"sub-"_s + channel, {{u"channel"_s, channel}});
        return client.reply(u"sub-"_s + channel);
    }

    // channel-based (the default): a publish is the first matching agent's task, one answer.
    void channelBasedAnswersOnce()
    {
        fake->push(textStream({u"one"_s}));
        fake->push(textStream({u"unexpected"_s}));
        QVERIFY(startServer(orchestrated(u"channel-based"_s)));
        TestClient listener, publisher;
        QVERIFY(listener.open(url()) && publisher.open(url()));
        QCOMPARE(subscribe(listener, u"group.x"_s).value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(publishTo(publisher, u"p"_s, u"group.x"_s).value(u"type"_s).toString(),
                 u"response"_s);
        QTRY_COMPARE_WITH_TIMEOUT(listener.ofType(u"agent_complete"_s, u"group.x"_s).size(),
                                  1,
                                  8000);
        // A second answer would have come by the time a ping round trip after the first is back.
        listener.sendEnvelope(u"ping"_s, u"ping"_s);
        QCOMPARE(listener.reply(u"ping"_s).value(u"type"_s).toString(), u"pong"_s);
        QCOMPARE(fake->requests.size(), 1);
        QCOMPARE(fake->requests.first().body.value(u"model"_s).toString(), u"m1"_s);
        QCOMPARE(listener.ofType(u"agent_complete"_s, u"group.x"_s)
                     .first()
                     .value(u"metadata"_s)
                     .toObject()
                     .value(u"from"_s)
                     .toString(),
                 u"agent:a1"_s);
    }

    // round-robin: each publish on the channel is one agent's, in turn; a direct task that gives
    // the channel instead of an agent takes the next turn, and is answered with ref_id only.
    void roundRobin()
    {
        for (int i = 0; i < 4; ++i)
            fake->push(textStream({u"answer %1"_s.arg(i)}));
        QVERIFY(startServer(orchestrated(u"round-robin"_s)));
        TestClient listener, publisher;
        QVERIFY(listener.open(url()) && publisher.open(url()));
        (void)subscribe(listener, u"group.rr"_s);
        QStringList answeredBy;
        for (int i = 0; i < 3; ++i) {
            (void)publishTo(publisher, u"p%1"_s.arg(i), u"group.rr"_s);
            QTRY_COMPARE_WITH_TIMEOUT(listener.ofType(u"agent_complete"_s, u"group.rr"_s).size(),
                                      i + 1,
                                      8000);
            answeredBy.append(listener.ofType(u"agent_complete"_s, u"group.rr"_s)
                                  .last()
                                  .value(u"metadata"_s)
                                  .toObject()
                                  .value(u"agent"_s)
                                  .toString());
        }
        QCOMPARE(answeredBy, (QStringList{u"a1"_s, u"a2"_s, u"a1"_s}));
        publisher.sendEnvelope(
            u"agent_task"_s,
            u"d"_s,
            {{u"channel"_s, u"group.rr"_s}, {u"payload"_s, text(u"Direct question"_s)}});
        QTRY_COMPARE_WITH_TIMEOUT(forTask(publisher, u"agent_complete"_s, u"d"_s).size(), 1, 8000);
        const QJsonObject done = forTask(publisher, u"agent_complete"_s, u"d"_s).first();
        QCOMPARE(done.value(u"metadata"_s).toObject().value(u"agent"_s).toString(), u"a2"_s);
        QVERIFY(!done.contains(u"channel"_s));
        QCOMPARE(streamed(forTask(publisher, u"agent_chunk"_s, u"d"_s)), u"answer 3"_s);
        QCOMPARE(fake->requests.size(), 4);
        QCOMPARE(fake->requests.at(3).body.value(u"model"_s).toString(), u"m2"_s);
        // A task that names its agent gets it, whatever the turn.
        fake->push(textStream({u"named"_s}));
        sendTask(publisher, u"n"_s, u"a2"_s, u"You, please"_s);
        QTRY_COMPARE_WITH_TIMEOUT(forTask(publisher, u"agent_complete"_s, u"n"_s).size(), 1, 8000);
        QCOMPARE(fake->requests.at(4).body.value(u"model"_s).toString(), u"m2"_s);
    }

    // fan-out on a channel: every matching agent answers; each subscriber gets both streams,
    // tagged with their agent, and the history both answers.
    void fanOutToSubscribers()
    {
        auto slow = [](FakeProvider::Response response) {
            response.pieceSize = 40; // the two streams overlap in time
            return response;
        };
        fake->pushFor(u"m1"_s, slow(textStream({u"one, "_s, u"from a1"_s})));
        fake->pushFor(u"m2"_s, slow(textStream({u"two, "_s, u"from a2"_s})));
        QVERIFY(startServer(orchestrated(u"fan-out"_s)));
        TestClient first, second, publisher;
        for (TestClient *client : {&first, &second, &publisher})
            QVERIFY(client->open(url()));
        for (TestClient *client : {&first, &second})
            (void)subscribe(*client, u"group.fan"_s);
        (void)publishTo(publisher, u"q"_s, u"group.fan"_s);
        for (TestClient *client : {&first, &second}) {
            QTRY_COMPARE_WITH_TIMEOUT(client->ofType(u"agent_complete"_s, u"group.fan"_s).size(),
                                      2,
                                      8000);
            const auto texts = byAgent(client->ofType(u"agent_chunk"_s, u"group.fan"_s));
            QCOMPARE(texts.value(u"a1"_s), u"one, from a1"_s);
            QCOMPARE(texts.value(u"a2"_s), u"two, from a2"_s);
            QSet<QString> from;
            for (const QJsonObject &done : client->ofType(u"agent_complete"_s, u"group.fan"_s)) {
                const QJsonObject metadata = done.value(u"metadata"_s).toObject();
                QCOMPARE(metadata.value(u"task"_s).toString(), u"q"_s);
                from.insert(metadata.value(u"from"_s).toString());
            }
            QCOMPARE(from, (QSet<QString>{u"agent:a1"_s, u"agent:a2"_s}));
        }
        first.sendEnvelope(u"request"_s,
                           u"h"_s,
                           {{u"channel"_s, u"group.fan"_s},
                            {u"metadata"_s, QJsonObject{{u"action"_s, u"history"_s}}}});
        QCOMPARE(first.reply(u"h"_s)
                     .value(u"payload"_s)
                     .toObject()
                     .value(u"data"_s)
                     .toObject()
                     .value(u"messages"_s)
                     .toArray()
                     .size(),
                 3);
    }

    // fan-out of a direct task: the client gets each agent's stream whole, one after the other
    // (a client that joins the chunks reads two answers, not a mix), then one agent_complete
    // with each agent's result; one failing member does not fail the task.
    void fanOutDirect_data()
    {
        QTest::addColumn<bool>("secondFails");
        QTest::newRow("both answer") << false;
        QTest::newRow("one fails") << true;
    }

    void fanOutDirect()
    {
        QFETCH(bool, secondFails);
        FakeProvider::Response one = textStream({u"one "_s, u"two "_s, u"three "_s}, 10, 3);
        one.pieceSize = 30;
        FakeProvider::Response other = secondFails ? FakeProvider::sse(u"anthropic-malformed.sse"_s)
                                                   : textStream({u"four "_s, u"five"_s}, 7, 2);
        other.pieceSize = 30;
        fake->pushFor(u"m1"_s, one);
        fake->pushFor(u"m2"_s, other);
        QVERIFY(startServer(orchestrated(u"fan-out"_s)));
        TestClient client;
        QVERIFY(client.open(url()));
        client.sendEnvelope(u"agent_task"_s,
                            u"f"_s,
                            {{u"channel"_s, u"group.any"_s}, {u"payload"_s, text(u"Count"_s)}});
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"f"_s).size(), 1, 8000);
        QVERIFY(forTask(client, u"error"_s, u"f"_s).isEmpty());
        const auto chunks = forTask(client, u"agent_chunk"_s, u"f"_s);
        // The agent changes at most once along the stream.
        int changes = 0;
        for (qsizetype i = 1; i < chunks.size(); ++i) {
            const auto agentOf = [&](qsizetype at) {
                return chunks.at(at).value(u"metadata"_s).toObject().value(u"agent"_s).toString();
            };
            changes += agentOf(i) != agentOf(i - 1) ? 1 : 0;
        }
        QVERIFY2(changes <= 1, qPrintable(QString::number(changes)));
        const auto texts = byAgent(chunks);
        QCOMPARE(texts.value(u"a1"_s), u"one two three "_s);
        if (!secondFails)
            QCOMPARE(texts.value(u"a2"_s), u"four five"_s);
        const QJsonObject metadata =
            forTask(client, u"agent_complete"_s, u"f"_s).first().value(u"metadata"_s).toObject();
        const QJsonArray agents = metadata.value(u"agents"_s).toArray();
        QCOMPARE(agents.size(), 2);
        QCOMPARE(agents.at(0).toObject().value(u"agent"_s).toString(), u"a1"_s);
        QCOMPARE(agents.at(1).toObject().value(u"agent"_s).toString(), u"a2"_s);
        QCOMPARE(agents.at(1).toObject().contains(u"error"_s), secondFails);
        QCOMPARE(metadata.value(u"usage"_s).toObject().value(u"input_tokens"_s).toInt(),
                 secondFails ? 10 : 17);
        QCOMPARE(fake->requests.size(), 2);
    }

    // pipeline: each agent's answer is the next one's prompt (with its own system prompt); only
    // the last one streams, to the client (ref_id) or the channel, and its agent_complete carries
    // the pipeline's usage.
    void pipeline()
    {
        fake->pushFor(u"m1"_s, textStream({u"draft "_s, u"text"_s}, 11, 4));
        fake->pushFor(u"m2"_s, textStream({u"final "_s, u"text"_s}, 6, 5));
        fake->pushFor(u"m1"_s, textStream({u"channel draft"_s}, 11, 4));
        fake->pushFor(u"m2"_s, textStream({u"channel final"_s}, 6, 5));
        QVERIFY(startServer(orchestrated(u"pipeline"_s, u"pipeline = [\"a1\", \"a2\"]\n"_s)));
        TestClient client, listener;
        QVERIFY(client.open(url()) && listener.open(url()));
        sendTask(client, u"p"_s, u"a1"_s, u"Write it"_s);
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"p"_s).size(), 1, 8000);
        QCOMPARE(streamed(forTask(client, u"agent_chunk"_s, u"p"_s)), u"final text"_s);
        const QJsonObject metadata =
            forTask(client, u"agent_complete"_s, u"p"_s).first().value(u"metadata"_s).toObject();
        QCOMPARE(metadata.value(u"agent"_s).toString(), u"a2"_s);
        QCOMPARE(metadata.value(u"usage"_s).toObject().value(u"input_tokens"_s).toInt(), 17);
        QCOMPARE(metadata.value(u"pipeline"_s).toArray().size(), 2);
        QCOMPARE(fake->requests.size(), 2);
        const QJsonObject second = fake->requests.at(1).body;
        QCOMPARE(second.value(u"model"_s).toString(), u"m2"_s);
        QCOMPARE(second.value(u"system"_s).toString(), u"Second."_s);
        const QJsonArray input = second.value(u"messages"_s).toArray();
        QCOMPARE(input.size(), 1);
        QCOMPARE(input.first().toObject().value(u"content"_s).toString(), u"draft text"_s);

        // On the first agent's channel: the subscribers hear the last agent only.
        (void)subscribe(listener, u"group.pipe"_s);
        (void)publishTo(client, u"q"_s, u"group.pipe"_s);
        QTRY_COMPARE_WITH_TIMEOUT(listener.ofType(u"agent_complete"_s, u"group.pipe"_s).size(),
                                  1,
                                  8000);
        QCOMPARE(byAgent(listener.ofType(u"agent_chunk"_s, u"group.pipe"_s)),
                 (QMap<QString, QString>{{u"a2"_s, u"channel final"_s}}));
        const QJsonObject done = listener.ofType(u"agent_complete"_s, u"group.pipe"_s).first();
        QCOMPARE(done.value(u"payload"_s).toObject().value(u"data"_s).toString(),
                 u"channel final"_s);
        QCOMPARE(done.value(u"metadata"_s).toObject().value(u"from"_s).toString(), u"agent:a2"_s);
        QCOMPARE(fake->requests.at(3)
                     .body.value(u"messages"_s)
                     .toArray()
                     .first()
                     .toObject()
                     .value(u"content"_s),
                 QJsonValue(u"channel draft"_s));
    }

    // A failing step ends the pipeline with an error naming the step and its agent; after a
    // failed first step the second is never asked.
    void pipelineStepFails_data()
    {
        QTest::addColumn<int>("failing");
        QTest::newRow("second step") << 2;
        QTest::newRow("first step") << 1;
    }

    void pipelineStepFails()
    {
        QFETCH(int, failing);
        const FakeProvider::Response cut = FakeProvider::sse(u"anthropic-cut.sse"_s);
        fake->pushFor(u"m1"_s, failing == 1 ? cut : textStream({u"draft"_s}));
        fake->pushFor(u"m2"_s, cut);
        QVERIFY(startServer(orchestrated(u"pipeline"_s, u"pipeline = [\"a1\", \"a2\"]\n"_s)));
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"p"_s, u"a1"_s, u"Write it"_s);
        const QJsonObject error = errorOf(client, u"p"_s);
        QCOMPARE(error.value(u"code"_s).toInt(), 502);
        const QString expected = u"pipeline step %1 of 2: agent 'a%1': "_s.arg(failing);
        QVERIFY2(error.value(u"message"_s).toString().startsWith(expected),
                 qPrintable(error.value(u"message"_s).toString()));
        QVERIFY(forTask(client, u"agent_complete"_s, u"p"_s).isEmpty());
        QCOMPARE(fake->requests.size(), failing);
        if (failing == 1) // an inner step streams nothing
            QVERIFY(forTask(client, u"agent_chunk"_s, u"p"_s).isEmpty());
    }

    // /metrics and the admin API's agents after known tasks: tokens from the provider's usage,
    // outcomes, provider errors by kind, the duration histogram, and the running and queued
    // gauges while `solo` is busy.
    void agentMetrics()
    {
        fake->push(FakeProvider::sse(u"anthropic-text.sse"_s));
        QVERIFY(startServer());
        TestClient client;
        QVERIFY(client.open(url()));
        sendTask(client, u"ok"_s, u"claude"_s, u"Hi"_s);
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"ok"_s).size(), 1, 8000);
        fake->push(FakeProvider::sse(u"openai-cut.sse"_s));
        sendTask(client, u"bad"_s, u"gpt"_s, u"Hi"_s);
        QCOMPARE(errorOf(client, u"bad"_s).value(u"code"_s).toInt(), 502);
        fake->push(
            FakeProvider::Response{200, {}, FakeProvider::fixture(u"anthropic-text.sse"_s), true});
        sendTask(client, u"busy"_s, u"solo"_s, u"Hi"_s);
        QTRY_COMPARE_WITH_TIMEOUT(fake->requests.size(), 3, 8000);
        fake->push(FakeProvider::sse(u"anthropic-text.sse"_s));
        sendTask(client, u"waiting"_s, u"solo"_s, u"Hi"_s);
        const auto scrape = [&] {
            const QByteArray response =
                rawHttp(server->port(),
                        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            return QString::fromUtf8(response);
        };
        QTRY_VERIFY_WITH_TIMEOUT(
            scrape().contains(u"\nmtw_agent_tasks_queued{agent=\"solo\"} 1\n"_s),
            8000);
        QString metrics = scrape();
        for (const QString &line :
             {u"mtw_agent_tasks_running{agent=\"solo\"} 1"_s,
              u"mtw_agent_tasks_running{agent=\"claude\"} 0"_s,
              u"mtw_agent_tasks_total{agent=\"claude\",outcome=\"completed\"} 1"_s,
              u"mtw_agent_tasks_total{agent=\"gpt\",outcome=\"failed\"} 1"_s,
              u"mtw_agent_input_tokens_total{agent=\"claude\"} 25"_s,
              u"mtw_agent_output_tokens_total{agent=\"claude\"} 15"_s,
              u"mtw_agent_provider_errors_total{agent=\"gpt\",kind=\"bad_response\"} 1"_s,
              u"mtw_agent_provider_errors_total{agent=\"claude\",kind=\"bad_response\"} 0"_s,
              u"mtw_agent_task_duration_seconds_count{agent=\"claude\"} 1"_s,
              u"mtw_agent_task_duration_seconds_bucket{agent=\"claude\",le=\"+Inf\"} 1"_s,
              u"mtw_agent_task_duration_seconds_count{agent=\"solo\"} 0"_s}) {
            QVERIFY2(metrics.contains(u"\n"_s + line + u"\n"_s), qPrintable(line));
        }
        fake->release();
        QTRY_COMPARE_WITH_TIMEOUT(forTask(client, u"agent_complete"_s, u"waiting"_s).size(),
                                  1,
                                  8000);
        QTRY_VERIFY_WITH_TIMEOUT(
            scrape().contains(
                u"\nmtw_agent_tasks_total{agent=\"solo\",outcome=\"completed\"} 2\n"_s),
            8000);
        metrics = scrape();
        QVERIFY(metrics.contains(u"\nmtw_agent_tasks_running{agent=\"solo\"} 0\n"_s));
        QVERIFY(metrics.contains(u"\nmtw_agent_tasks_queued{agent=\"solo\"} 0\n"_s));

        // The admin API: one row per agent.
        const QJsonObject snapshot = adminSnapshot();
        QVERIFY(!snapshot.isEmpty());
        QMap<QString, QJsonObject> rows;
        for (const QJsonValue &row : snapshot.value(u"agents"_s).toArray())
            rows.insert(row.toObject().value(u"name"_s).toString(), row.toObject());
        QCOMPARE(rows.keys(), (QStringList{u"claude"_s, u"gpt"_s, u"nowhere"_s, u"solo"_s}));
        QCOMPARE(rows.value(u"claude"_s).value(u"provider"_s).toString(), u"anthropic"_s);
        QCOMPARE(rows.value(u"claude"_s).value(u"model"_s).toString(), u"claude-test"_s);
        QCOMPARE(rows.value(u"claude"_s).value(u"channels"_s).toArray(), QJsonArray{u"room.*"_s});
        QCOMPARE(rows.value(u"claude"_s).value(u"tokens_in"_s).toInt(), 25);
        QCOMPARE(rows.value(u"claude"_s).value(u"tokens_out"_s).toInt(), 15);
        QCOMPARE(rows.value(u"gpt"_s).value(u"provider_errors"_s).toInt(), 1);
        QCOMPARE(rows.value(u"gpt"_s)
                     .value(u"errors_by_kind"_s)
                     .toObject()
                     .value(u"bad_response"_s)
                     .toInt(),
                 1);
        QCOMPARE(rows.value(u"solo"_s).value(u"completed"_s).toInt(), 2);
        QCOMPARE(rows.value(u"solo"_s).value(u"running"_s).toInt(), 0);
    }
};

QTEST_MAIN(TestAgents)
#include "tst_agents.moc"
