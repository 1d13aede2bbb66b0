// SPDX-License-Identifier: MIT
// What a streamed token costs the server: a channel-bound agent answers with K text deltas to N
// subscribers; the CPU time of the server's own threads (mtw-io-*, mtw-agents, mtw-ai-*,
// read from /proc/self/task) is divided by the chunks and by the deliveries. The clients and
// FakeProvider run in the main thread, which is not counted. Not a CTest test (it asserts
// nothing); docs/agents.md#threads-and-costs has its figures.
//   agents_chunk_cost [chunks] [subscribers...]
#include "fakeprovider.h"
#include "testclient.h"

#include <mtw/config.h>
#include <mtw/server.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>

#include <cstdio>
#include <memory>

using namespace Qt::StringLiterals;

namespace {

// Time on CPU of this process's threads whose name starts with "mtw-", in microseconds
// (/proc/self/task/<tid>/schedstat: nanoseconds, unlike the 10 ms ticks of stat).
qint64 serverThreadsCpuUs()
{
    qint64 total = 0;
    const QDir tasks(u"/proc/self/task"_s);
    for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(tasks.filePath(tid + u"/comm"_s));
        if (!comm.open(QIODevice::ReadOnly) || !comm.readAll().startsWith("mtw-"))
            continue;
        QFile stat(tasks.filePath(tid + u"/schedstat"_s));
        if (stat.open(QIODevice::ReadOnly))
            total += stat.readAll().split(' ').value(0).toLongLong() / 1000;
    }
    return total;
}

QByteArray textStream(int chunks)
{
    QByteArray out =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
        "\"bench\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n";
    for (int i = 0; i < chunks; ++i) {
        out += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_delta\",\"text\":\"tok"
            + QByteArray::number(i % 10) + " \"}}\n\n";
    }
    out += "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
           "\"end_turn\"},\"usage\":{\"output_tokens\":"
        + QByteArray::number(chunks)
        + "}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    return out;
}

} // namespace

int main(int argc, char **argv)
{
    qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QStringList args = app.arguments().mid(1);
    const int chunks = args.isEmpty() ? 500 : args.takeFirst().toInt();
    QList<int> counts;
    for (const QString &arg : args)
        counts.append(arg.toInt());
    if (counts.isEmpty())
        counts = {1, 10, 100, 500};

    std::printf("chunks %d; CPU of the server's threads per chunk and per delivered chunk\n",
                chunks);
    std::printf("%12s %14s %16s %18s\n",
                "subscribers",
                "total ms CPU",
                "us per chunk",
                "us per delivery");
    for (const int subscribers : std::as_const(counts)) {
        FakeProvider fake;
        if (!fake.listen())
            return 1;
        fake.push(FakeProvider::Response{200, {}, textStream(chunks)});
        const QString text =
            u"[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = 2\nplugins_dir = \"%1\"\n"
            "[[modules]]\nname = \"mtw-ai-anthropic\"\n"
            "config = { api_key = \"bench\", base_url = \"http://127.0.0.1:%2\" }\n"
            "[[agents]]\nname = \"bench\"\nprovider = \"anthropic\"\nchannels = [\"bench.*\"]\n"
            "[[channels]]\nname = \"bench.*\"\n"_s.arg(QStringLiteral(MTW_PLUGIN_DIR))
                .arg(fake.port());
        const Mtw::ConfigLoadResult loaded = Mtw::parseConfig(text, u"bench.toml"_s, {});
        if (loaded.hasErrors())
            return 1;
        Mtw::Server server(loaded.config);
        if (!server.start())
            return 1;
        const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < subscribers; ++i) {
            auto client = std::make_unique<TestClient>();
            if (!client->open(url))
                return 1;
            client->sendEnvelope(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"bench.room"_s}});
            clients.push_back(std::move(client));
        }
        for (auto &client : clients)
            (void)client->reply(u"s"_s);
        TestClient publisher;
        if (!publisher.open(url))
            return 1;
        const qint64 before = serverThreadsCpuUs();
        publisher.sendEnvelope(
            u"publish"_s,
            u"q"_s,
            {{u"channel"_s, u"bench.room"_s},
             {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"go"_s}}}});
        const bool done = QTest::qWaitFor(
            [&] {
                for (auto &client : clients) {
                    if (client->ofType(u"agent_complete"_s).isEmpty())
                        return false;
                }
                return true;
            },
            120000);
        const qint64 cpu = serverThreadsCpuUs() - before;
        if (!done) {
            std::printf("%12d   did not complete\n", subscribers);
            return 1;
        }
        std::printf("%12d %14.1f %16.1f %18.2f\n",
                    subscribers,
                    cpu / 1000.0,
                    double(cpu) / chunks,
                    double(cpu) / (double(chunks) * subscribers));
        std::fflush(stdout);
    }
    return 0;
}
