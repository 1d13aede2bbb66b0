// SPDX-License-Identifier: MIT
// The counter-room example plugin (plugins/examples/counter-room) loaded from its build directory
// by an in-process Mtw::Server, driven by real WebSocket clients; and the embedded-server example
// of docs/plugins.md (a module compiled into the program through ServerBuilder).
#include "greetermodule.h"
#include "testclient.h"

#include <mtw/server.h>

#include <QTemporaryFile>
#include <QtTest>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace {

const QString DefaultModules = u"[[modules]]\nname = \"counter-room\"\nrequired = true\n"_s;

QJsonObject dataOf(const QJsonObject &message)
{
    return message.value("payload"_L1).toObject().value("data"_L1).toObject();
}

// {"room","value"} events the client received on `room`, in arrival order.
QList<qint64> eventValues(const TestClient &client, const QString &room)
{
    QList<qint64> values;
    for (const QJsonObject &event : client.ofType(u"event"_s, room))
        values.append(dataOf(event).value("value"_L1).toInteger());
    return values;
}

// The same, counting only the broadcasts (metadata.from = "server"), not the value sent on join.
QList<qint64> broadcastValues(const TestClient &client, const QString &room)
{
    QList<qint64> values;
    for (const QJsonObject &event : client.ofType(u"event"_s, room)) {
        if (event.value("metadata"_L1).toObject().value("from"_L1).toString() == "server"_L1)
            values.append(dataOf(event).value("value"_L1).toInteger());
    }
    return values;
}

qsizetype indexOfRef(const TestClient &client, const QString &refId)
{
    for (qsizetype i = 0; i < client.received.size(); ++i) {
        if (client.received.at(i).value("ref_id"_L1).toString() == refId)
            return i;
    }
    return -1;
}

} // namespace

class tst_CounterRoom : public QObject
{
    Q_OBJECT

private:
    // A 2-worker server on an ephemeral loopback port that finds plugins in the directory the
    // build put counter-room in. `modules` is the [[modules]] part of the TOML.
    static Mtw::ConfigLoadResult loadConfig(const QString &modules = DefaultModules,
                                            const QProcessEnvironment &env = {})
    {
        const QString text =
            u"[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = 2\nshutdown_timeout = 5\n"
            "plugins_dir = \"%1\"\n\n"_s.arg(QStringLiteral(MTW_COUNTER_ROOM_DIR))
            + modules;
        return Mtw::parseConfig(text, u"test.toml"_s, env);
    }

    static QUrl wsUrl(const Mtw::Server &server)
    {
        return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
    }

    static Mtw::ModuleStatus moduleStatus(const Mtw::Server &server, const QString &id)
    {
        const QList<Mtw::ModuleStatus> modules = server.modules();
        const auto it = std::find_if(modules.cbegin(), modules.cend(), [&](const auto &status) {
            return status.metadata().id() == id;
        });
        return it == modules.cend() ? Mtw::ModuleStatus{} : *it;
    }

    // Opens `client` and subscribes it to `channel`; returns the subscribe response.
    static QJsonObject join(TestClient &client, const Mtw::Server &server, const QString &channel)
    {
        if (client.connId.isEmpty() && !client.open(wsUrl(server)))
            return {};
        const QString id = u"join-"_s + channel;
        client.sendEnvelope(u"subscribe"_s, id, {{u"channel"_s, channel}});
        return client.reply(id);
    }

    static void publishJson(TestClient &client,
                            const QString &channel,
                            const QString &id,
                            const QJsonValue &data)
    {
        client.sendEnvelope(
            u"publish"_s,
            id,
            {{u"channel"_s, channel},
             {u"payload"_s, QJsonObject{{u"kind"_s, u"Json"_s}, {u"data"_s, data}}}});
    }

    static QJsonObject op(const QString &name) { return QJsonObject{{u"op"_s, name}}; }

    static QJsonObject get(TestClient &client, const QString &channel, const QString &id)
    {
        QJsonObject fields{{u"metadata"_s, QJsonObject{{u"action"_s, u"counter.get"_s}}}};
        if (!channel.isEmpty())
            fields.insert(u"channel"_s, channel);
        client.sendEnvelope(u"request"_s, id, fields);
        return client.reply(id);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(QFileInfo::exists(QStringLiteral(MTW_COUNTER_ROOM_DIR)),
                 "the counter-room plugin directory does not exist; build the counter-room target");
    }

    void startsFromThePluginDirectory()
    {
        const auto loaded = loadConfig();
        QVERIFY(!loaded.hasErrors());
        Mtw::Server server(loaded.config);
        const auto started = server.start();
        QVERIFY2(started, qPrintable(started ? QString() : started.error().message));

        const Mtw::ModuleStatus status = moduleStatus(server, u"counter-room"_s);
        QCOMPARE(status.state(), Mtw::ModuleState::Started);
        QCOMPARE(status.metadata().version(), u"1.0.0"_s);
        QCOMPARE(status.metadata().kind(), u"service"_s);
        QCOMPARE(status.metadata().license(), u"MIT"_s);
        QCOMPARE(status.metadata().apiVersion(), 2);
        QVERIFY(!status.metadata().description().isEmpty());
        QVERIFY(status.path().startsWith(QStringLiteral(MTW_COUNTER_ROOM_DIR)));
        QCOMPARE(status.health().status(), Mtw::HealthStatus::Healthy);
        QCOMPARE(status.health().reason(), u"0 rooms"_s);

        TestClient a;
        QVERIFY(!join(a, server, u"counter.lobby"_s).isEmpty());
        QTRY_COMPARE(moduleStatus(server, u"counter-room"_s).health().reason(), u"1 room"_s);
    }

    void joinReceivesCurrentValueAfterResponse()
    {
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a;
        const QJsonObject response = join(a, server, u"counter.lobby"_s);
        QCOMPARE(response.value("type"_L1).toString(), u"response"_s);
        QTRY_COMPARE(eventValues(a, u"counter.lobby"_s), QList<qint64>{0});

        // The value arrives after the subscribe response, as an event on the room's channel.
        const QJsonObject event = a.ofType(u"event"_s, u"counter.lobby"_s).constFirst();
        QVERIFY(a.received.indexOf(event) > indexOfRef(a, u"join-counter.lobby"_s));
        QCOMPARE(dataOf(event), (QJsonObject{{u"room"_s, u"counter.lobby"_s}, {u"value"_s, 0}}));
        QCOMPARE(event.value("payload"_L1).toObject().value("kind"_L1).toString(), u"Json"_s);

        publishJson(a, u"counter.lobby"_s, u"p1"_s, op(u"increment"_s));
        publishJson(a, u"counter.lobby"_s, u"p2"_s, op(u"increment"_s));
        QVERIFY(!a.reply(u"p2"_s).isEmpty());

        TestClient b;
        QVERIFY(!join(b, server, u"counter.lobby"_s).isEmpty());
        QTRY_COMPARE(eventValues(b, u"counter.lobby"_s), QList<qint64>{2});
    }

    void incrementBroadcastsToEveryMember()
    {
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a, b, c;
        for (TestClient *client : {&a, &b, &c}) {
            QVERIFY(!join(*client, server, u"counter.lobby"_s).isEmpty());
            QTRY_COMPARE(eventValues(*client, u"counter.lobby"_s).size(), 1);
        }

        publishJson(a, u"counter.lobby"_s, u"inc-1"_s, op(u"increment"_s));
        const QJsonObject response = a.reply(u"inc-1"_s);
        QCOMPARE(response.value("type"_L1).toString(), u"response"_s);
        // Replies carry ref_id, never channel (PROTOCOL.md section 7); the room is in the data.
        QVERIFY(!response.contains("channel"_L1));
        QCOMPARE(dataOf(response), (QJsonObject{{u"room"_s, u"counter.lobby"_s}, {u"value"_s, 1}}));

        // Every member, the sender included, gets the new value from the server.
        for (TestClient *client : {&a, &b, &c})
            QTRY_COMPARE(broadcastValues(*client, u"counter.lobby"_s), QList<qint64>{1});

        publishJson(b, u"counter.lobby"_s, u"dec-1"_s, op(u"decrement"_s));
        QCOMPARE(dataOf(b.reply(u"dec-1"_s)).value("value"_L1).toInteger(), 0);
        for (TestClient *client : {&a, &b, &c})
            QTRY_COMPARE(broadcastValues(*client, u"counter.lobby"_s), (QList<qint64>{1, 0}));

        // The op itself is consumed: nobody receives the publish as such.
        for (TestClient *client : {&a, &b, &c})
            QVERIFY(client->ofType(u"publish"_s).isEmpty());
    }

    void ops_data()
    {
        QTest::addColumn<QJsonObject>("body");
        QTest::addColumn<qint64>("value");
        QTest::newRow("increment") << op(u"increment"_s) << qint64(1);
        QTest::newRow("decrement") << op(u"decrement"_s) << qint64(-1);
        QTest::newRow("add 5") << QJsonObject{{u"op"_s, u"add"_s}, {u"by"_s, 5}} << qint64(5);
        QTest::newRow("add -12") << QJsonObject{{u"op"_s, u"add"_s}, {u"by"_s, -12}} << qint64(-12);
        QTest::newRow("extra keys ignored")
            << QJsonObject{{u"op"_s, u"increment"_s}, {u"note"_s, u"hi"_s}} << qint64(1);
    }

    void ops()
    {
        QFETCH(QJsonObject, body);
        QFETCH(qint64, value);
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a;
        QVERIFY(!join(a, server, u"counter.ops"_s).isEmpty());
        publishJson(a, u"counter.ops"_s, u"op-1"_s, body);
        QCOMPARE(dataOf(a.reply(u"op-1"_s)).value("value"_L1).toInteger(), value);
        QTRY_COMPARE(broadcastValues(a, u"counter.ops"_s), QList<qint64>{value});
        QCOMPARE(server.shared().value(u"counter-room/counter.ops"_s).toLongLong(), value);
    }

    void badOps_data()
    {
        QTest::addColumn<QJsonObject>("payload");
        QTest::addColumn<QString>("message");
        const auto json = [](const QJsonValue &data) {
            return QJsonObject{{u"kind"_s, u"Json"_s}, {u"data"_s, data}};
        };
        QTest::newRow("unknown op")
            << json(op(u"multiply"_s))
            << u"counter-room: unknown op 'multiply' (use increment or decrement)"_s;
        QTest::newRow("no op") << json(QJsonObject{{u"by"_s, 1}})
                               << u"counter-room: unknown op '' (use increment or decrement)"_s;
        QTest::newRow("add without by")
            << json(op(u"add"_s)) << u"counter-room: op 'add' needs an integer 'by'"_s;
        QTest::newRow("add a fraction") << json(QJsonObject{{u"op"_s, u"add"_s}, {u"by"_s, 1.5}})
                                        << u"counter-room: op 'add' needs an integer 'by'"_s;
        QTest::newRow("add a string") << json(QJsonObject{{u"op"_s, u"add"_s}, {u"by"_s, u"2"_s}})
                                      << u"counter-room: op 'add' needs an integer 'by'"_s;
        QTest::newRow("text payload")
            << QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"increment"_s}}
            << u"counter-room: expected a Json payload such as {\"op\":\"increment\"}"_s;
        QTest::newRow("Json array") << json(QJsonArray{u"increment"_s})
                                    << u"counter-room: expected a Json payload such as "
                                       "{\"op\":\"increment\"}"_s;
    }

    void badOps()
    {
        QFETCH(QJsonObject, payload);
        QFETCH(QString, message);
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a, b;
        QVERIFY(!join(a, server, u"counter.bad"_s).isEmpty());
        QVERIFY(!join(b, server, u"counter.bad"_s).isEmpty());

        a.sendEnvelope(u"publish"_s,
                       u"bad-1"_s,
                       {{u"channel"_s, u"counter.bad"_s}, {u"payload"_s, payload}});
        const QJsonObject error = a.reply(u"bad-1"_s);
        QCOMPARE(error.value("type"_L1).toString(), u"error"_s);
        QCOMPARE(error.value("ref_id"_L1).toString(), u"bad-1"_s);
        QCOMPARE(dataOf(error).value("code"_L1).toInt(), 400);
        QCOMPARE(dataOf(error).value("message"_L1).toString(), message);

        // Nothing changed and nothing was broadcast.
        QCOMPARE(dataOf(get(a, u"counter.bad"_s, u"get-1"_s)).value("value"_L1).toInteger(), 0);
        QVERIFY(broadcastValues(a, u"counter.bad"_s).isEmpty());
        QVERIFY(broadcastValues(b, u"counter.bad"_s).isEmpty());
        QVERIFY(b.ofType(u"publish"_s).isEmpty());
    }

    void roomsAreIndependent()
    {
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a, b;
        QVERIFY(!join(a, server, u"counter.red"_s).isEmpty());
        QVERIFY(!join(b, server, u"counter.blue"_s).isEmpty());

        publishJson(a, u"counter.red"_s, u"r1"_s, op(u"increment"_s));
        publishJson(a, u"counter.red"_s, u"r2"_s, op(u"increment"_s));
        publishJson(b, u"counter.blue"_s, u"b1"_s, op(u"decrement"_s));
        QCOMPARE(dataOf(a.reply(u"r2"_s)).value("value"_L1).toInteger(), 2);
        QCOMPARE(dataOf(b.reply(u"b1"_s)).value("value"_L1).toInteger(), -1);

        QTRY_COMPARE(broadcastValues(a, u"counter.red"_s), (QList<qint64>{1, 2}));
        QTRY_COMPARE(broadcastValues(b, u"counter.blue"_s), QList<qint64>{-1});
        QVERIFY(a.ofType(u"event"_s, u"counter.blue"_s).isEmpty());
        QVERIFY(b.ofType(u"event"_s, u"counter.red"_s).isEmpty());
        QCOMPARE(dataOf(get(b, u"counter.red"_s, u"g1"_s)).value("value"_L1).toInteger(), 2);
        QCOMPARE(server.shared().value(u"counter-room/counter.red"_s).toLongLong(), 2);
        QCOMPARE(server.shared().value(u"counter-room/counter.blue"_s).toLongLong(), -1);
        QCOMPARE(moduleStatus(server, u"counter-room"_s).health().reason(), u"2 rooms"_s);
    }

    void concurrentIncrementsAreAtomic()
    {
        // 4 clients: the acceptor hands connections to the 2 workers in turn, so the filter runs
        // on both I/O threads at once.
        constexpr int Clients = 4;
        constexpr int PerClient = 50;
        const QString room = u"counter.race"_s;
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        QCOMPARE(server.workerCount(), 2);
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < Clients; ++i) {
            clients.push_back(std::make_unique<TestClient>());
            QVERIFY(!join(*clients.back(), server, room).isEmpty());
            QTRY_COMPARE(eventValues(*clients.back(), room).size(), 1);
        }

        for (int n = 0; n < PerClient; ++n) {
            for (int i = 0; i < Clients; ++i)
                publishJson(*clients[size_t(i)],
                            room,
                            u"c%1-%2"_s.arg(i).arg(n),
                            op(u"increment"_s));
        }

        QList<qint64> answered;
        for (int i = 0; i < Clients; ++i) {
            TestClient &client = *clients[size_t(i)];
            QTRY_COMPARE_WITH_TIMEOUT(client.ofType(u"response"_s).size(), PerClient + 1, 20000);
            for (int n = 0; n < PerClient; ++n)
                answered.append(
                    dataOf(client.reply(u"c%1-%2"_s.arg(i).arg(n))).value("value"_L1).toInteger());
        }
        // Every increment got its own value: exactly 1..200, none lost, none repeated.
        std::sort(answered.begin(), answered.end());
        QList<qint64> expected;
        for (int v = 1; v <= Clients * PerClient; ++v)
            expected.append(v);
        QCOMPARE(answered, expected);

        // Every member saw every value, in counter order.
        for (const auto &client : clients)
            QTRY_COMPARE_WITH_TIMEOUT(broadcastValues(*client, room), expected, 20000);
        QCOMPARE(dataOf(get(*clients[0], room, u"final"_s)).value("value"_L1).toInteger(),
                 Clients * PerClient);
        QCOMPARE(server.shared().value(u"counter-room/"_s + room).toLongLong(),
                 Clients * PerClient);
    }

    void getAction()
    {
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a;
        QVERIFY(a.open(wsUrl(server)));

        // A room nobody joined yet reads as 0.
        const QJsonObject fresh = get(a, u"counter.new"_s, u"g0"_s);
        QCOMPARE(fresh.value("type"_L1).toString(), u"response"_s);
        QVERIFY(!fresh.contains("channel"_L1));
        QCOMPARE(dataOf(fresh), (QJsonObject{{u"room"_s, u"counter.new"_s}, {u"value"_s, 0}}));

        // Ops work without joining the room (a publisher need not be subscribed).
        publishJson(a, u"counter.new"_s, u"p1"_s, QJsonObject{{u"op"_s, u"add"_s}, {u"by"_s, 41}});
        QCOMPARE(dataOf(a.reply(u"p1"_s)).value("value"_L1).toInteger(), 41);
        QCOMPARE(dataOf(get(a, u"counter.new"_s, u"g1"_s)).value("value"_L1).toInteger(), 41);

        for (const QString &channel : {u"chat.general"_s, QString()}) {
            const QString id = u"bad-get-"_s + channel;
            const QJsonObject error = get(a, channel, id);
            QCOMPARE(error.value("type"_L1).toString(), u"error"_s);
            QCOMPARE(error.value("ref_id"_L1).toString(), id);
            QCOMPARE(dataOf(error).value("code"_L1).toInt(), 400);
            QCOMPARE(dataOf(error).value("message"_L1).toString(),
                     u"counter-room: counter.get needs a room channel starting with 'counter.'"_s);
        }
    }

    void otherChannelsAreUntouched()
    {
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a, b;
        QVERIFY(!join(a, server, u"chat.general"_s).isEmpty());
        QVERIFY(!join(b, server, u"chat.general"_s).isEmpty());

        // The same body on an ordinary channel is an ordinary publish.
        publishJson(a, u"chat.general"_s, u"m1"_s, op(u"increment"_s));
        const QJsonObject response = a.reply(u"m1"_s);
        QJsonObject data = dataOf(response);
        QCOMPARE(data.take(u"offset"_s).toInteger(), 1); // the channel's first publication
        QCOMPARE(data.take(u"epoch"_s).toString().size(), 8);
        QCOMPARE(data, (QJsonObject{{u"published"_s, u"chat.general"_s}, {u"recipients"_s, 1}}));
        QTRY_COMPARE(b.ofType(u"publish"_s, u"chat.general"_s).size(), 1);
        const QJsonObject delivered = b.ofType(u"publish"_s, u"chat.general"_s).constFirst();
        QCOMPARE(delivered.value("id"_L1).toString(), u"m1"_s);
        QCOMPARE(dataOf(delivered), op(u"increment"_s));
        QCOMPARE(delivered.value("metadata"_L1).toObject().value("from"_L1).toString(), a.connId);
        QVERIFY(a.ofType(u"event"_s).isEmpty());
        QVERIFY(b.ofType(u"event"_s).isEmpty());

        // A room prefix must match from the start of the channel name.
        publishJson(a, u"my.counter.x"_s, u"m2"_s, op(u"increment"_s));
        QCOMPARE(dataOf(a.reply(u"m2"_s)).value("code"_L1).toInt(), 404);
        QCOMPARE(moduleStatus(server, u"counter-room"_s).health().reason(), u"0 rooms"_s);
    }

    void channelPrefixFromConfig()
    {
        QProcessEnvironment env;
        env.insert(u"ROOM_PREFIX"_s, u"score."_s);
        const auto loaded = loadConfig(
            DefaultModules + u"[modules.config]\nchannel_prefix = \"${ROOM_PREFIX}\"\n"_s,
            env);
        QVERIFY(!loaded.hasErrors());
        Mtw::Server server(loaded.config);
        QVERIFY(server.start());
        TestClient a;
        QVERIFY(!join(a, server, u"score.game1"_s).isEmpty());
        QTRY_COMPARE(eventValues(a, u"score.game1"_s), QList<qint64>{0});
        publishJson(a, u"score.game1"_s, u"s1"_s, op(u"increment"_s));
        QCOMPARE(dataOf(a.reply(u"s1"_s)).value("value"_L1).toInteger(), 1);

        // counter.* is now an ordinary channel: nobody subscribed, so it does not exist.
        publishJson(a, u"counter.lobby"_s, u"c1"_s, op(u"increment"_s));
        const QJsonObject error = a.reply(u"c1"_s);
        QCOMPARE(dataOf(error).value("code"_L1).toInt(), 404);
    }

    // counter-room implements Mtw::IReconfigurable: a reload changes its prefix and auth rule
    // for the next message; a bad table refuses the whole reload and the running one stays.
    void reconfiguredByAReload()
    {
        Mtw::Server server(loadConfig().config);
        Mtw::ConfigLoadResult next =
            loadConfig(DefaultModules
                       + u"[modules.config]\nchannel_prefix = \"score.\"\nrequire_auth = true\n"_s);
        server.setConfigLoader([&next]() -> Mtw::Result<Mtw::ConfigLoadResult> { return next; });
        QVERIFY(server.start());
        TestClient a;
        QVERIFY(!join(a, server, u"score.game1"_s).isEmpty());
        publishJson(a, u"score.game1"_s, u"before"_s, op(u"increment"_s));
        QVERIFY(dataOf(a.reply(u"before"_s)).contains("published"_L1)); // an ordinary publish

        const auto reloaded = server.reloadConfig();
        QVERIFY2(reloaded, qPrintable(reloaded ? QString() : reloaded.error().message));
        QCOMPARE(Mtw::restartRequiredKeys(*reloaded), QStringList());
        QCOMPARE(reloaded->size(), 2);
        QCOMPARE(reloaded->at(0).key, u"modules[0].config.channel_prefix"_s);
        QCOMPARE(reloaded->at(0).apply, Mtw::ConfigApply::Live);
        QCOMPARE(server.config().modules.at(0).config.value(u"channel_prefix"_s),
                 QVariant(u"score."_s));
        publishJson(a, u"score.game1"_s, u"after"_s, op(u"increment"_s));
        QCOMPARE(dataOf(a.reply(u"after"_s)).value("code"_L1).toInt(), 401); // require_auth now

        next = loadConfig(DefaultModules + u"[modules.config]\nchannel_prefix = \"\"\n"_s);
        const auto refused = server.reloadConfig();
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.startsWith(u"modules.counter-room: counter-room: "
                                                    "channel_prefix must be"_s),
                 qPrintable(refused.error().message));
        QCOMPARE(server.config().modules.at(0).config.value(u"channel_prefix"_s),
                 QVariant(u"score."_s));
        QCOMPARE(dataOf(get(a, u"score.game1"_s, u"get"_s)).value("code"_L1).toInt(), 401);
    }

    void requireAuthRefusesAnonymousClients()
    {
        const auto loaded =
            loadConfig(DefaultModules + u"[modules.config]\nrequire_auth = true\n"_s);
        Mtw::Server server(loaded.config);
        QVERIFY(server.start());
        TestClient a;
        QVERIFY(!join(a, server, u"counter.vip"_s).isEmpty());
        publishJson(a, u"counter.vip"_s, u"v1"_s, op(u"increment"_s));
        const QJsonObject error = a.reply(u"v1"_s);
        QCOMPARE(dataOf(error).value("code"_L1).toInt(), 401);
        QCOMPARE(dataOf(error).value("message"_L1).toString(),
                 u"counter-room: room 'counter.vip' requires authentication"_s);
        QCOMPARE(dataOf(get(a, u"counter.vip"_s, u"v2"_s)).value("code"_L1).toInt(), 401);
    }

    void invalidConfig_data()
    {
        QTest::addColumn<QString>("table");
        QTest::addColumn<QString>("message");
        QTest::newRow("prefix not a string")
            << u"channel_prefix = 5\n"_s
            << u"counter-room: channel_prefix must be a non-empty string such as \"counter.\""_s;
        QTest::newRow("empty prefix")
            << u"channel_prefix = \"\"\n"_s
            << u"counter-room: channel_prefix must be a non-empty string such as \"counter.\""_s;
        QTest::newRow("require_auth not a bool")
            << u"require_auth = \"yes\"\n"_s
            << u"counter-room: require_auth must be true or false"_s;
    }

    void invalidConfig()
    {
        QFETCH(QString, table);
        QFETCH(QString, message);
        // Not required: the module is marked failed with its error and the server goes on.
        {
            const auto loaded =
                loadConfig(u"[[modules]]\nname = \"counter-room\"\n[modules.config]\n"_s + table);
            QVERIFY(!loaded.hasErrors());
            Mtw::Server server(loaded.config);
            QTest::ignoreMessage(QtWarningMsg,
                                 qPrintable(u"module counter-room failed: "_s + message));
            QVERIFY(server.start());
            const Mtw::ModuleStatus status = moduleStatus(server, u"counter-room"_s);
            QCOMPARE(status.state(), Mtw::ModuleState::Failed);
            QCOMPARE(status.error(), message);
            // Its filter was withdrawn: counter.* is an ordinary (here: unknown) channel.
            TestClient a;
            QVERIFY(a.open(wsUrl(server)));
            publishJson(a, u"counter.lobby"_s, u"x1"_s, op(u"increment"_s));
            QCOMPARE(dataOf(a.reply(u"x1"_s)).value("code"_L1).toInt(), 404);
        }
        // Required: start() fails and says why.
        {
            const auto loaded = loadConfig(
                u"[[modules]]\nname = \"counter-room\"\nrequired = true\n[modules.config]\n"_s
                + table);
            Mtw::Server server(loaded.config);
            QTest::ignoreMessage(QtCriticalMsg,
                                 qPrintable(u"required module counter-room failed: "_s + message));
            const auto started = server.start();
            QVERIFY(!started);
            QCOMPARE(started.error().code, 500);
            QCOMPARE(started.error().message,
                     u"required module 'counter-room' failed: "_s + message);
        }
    }

    void versionRangeInConfig_data()
    {
        QTest::addColumn<QString>("range");
        QTest::addColumn<bool>("accepted");
        QTest::newRow(">=1.0 <2") << u">=1.0 <2"_s << true;
        QTest::newRow("^1.0") << u"^1.0"_s << true;
        QTest::newRow("~1.0") << u"~1.0"_s << true;
        QTest::newRow("1") << u"1"_s << true;
        QTest::newRow("^2") << u"^2"_s << false;
        QTest::newRow("~1.1") << u"~1.1"_s << false;
    }

    void versionRangeInConfig()
    {
        QFETCH(QString, range);
        QFETCH(bool, accepted);
        const auto loaded =
            loadConfig(u"[[modules]]\nname = \"counter-room\"\nversion = \"%1\"\n"_s.arg(range));
        QVERIFY(!loaded.hasErrors());
        const QString refusal =
            u"module 'counter-room' is version 1.0.0, but the configuration asks for %1"_s.arg(
                range);
        if (!accepted)
            QTest::ignoreMessage(QtWarningMsg,
                                 qPrintable(u"module counter-room failed: "_s + refusal));
        Mtw::Server server(loaded.config);
        QVERIFY(server.start());
        const Mtw::ModuleStatus status = moduleStatus(server, u"counter-room"_s);
        QCOMPARE(status.state() == Mtw::ModuleState::Started, accepted);
        if (!accepted)
            QCOMPARE(status.error(), refusal);
    }

    void gracefulShutdownStopsTheModule()
    {
        Mtw::Server server(loadConfig().config);
        QVERIFY(server.start());
        TestClient a;
        QVERIFY(!join(a, server, u"counter.bye"_s).isEmpty());
        publishJson(a, u"counter.bye"_s, u"b1"_s, op(u"increment"_s));
        QVERIFY(!a.reply(u"b1"_s).isEmpty());
        QVERIFY(server.shared().contains(u"counter-room/counter.bye"_s));

        QSignalSpy finished(&server, &Mtw::Server::finished);
        server.shutdown();
        QVERIFY(finished.wait(10000));
        QVERIFY(a.waitClosed());
        QCOMPARE(a.closeCode, 1001);
        QCOMPARE(moduleStatus(server, u"counter-room"_s).state(), Mtw::ModuleState::Stopped);
        // A stopped module withdraws what it published in SharedState.
        QVERIFY(!server.shared().contains(u"counter-room/counter.bye"_s));
    }

    // The embedded-server example of docs/plugins.md: its module compiled into the program and
    // handed to ServerBuilder, next to counter-room loaded from a config file.
    void embeddedModuleThroughServerBuilder()
    {
        QTemporaryFile file;
        QVERIFY(file.open());
        file.write(u"[server]\nworkers = 2\nplugins_dir = \"%1\"\n\n"_s
                       .arg(QStringLiteral(MTW_COUNTER_ROOM_DIR))
                       .toUtf8()
                   + DefaultModules.toUtf8());
        file.close();

        auto built =
            Mtw::ServerBuilder()
                .configFile(file.fileName())
                .host(u"127.0.0.1"_s)
                .port(0)
                .module(std::make_shared<GreeterModule>(u"Hi"_s), GreeterModule::metadata())
                .build();
        QVERIFY2(built, qPrintable(built ? QString() : built.error().message));
        Mtw::Server &server = **built;
        QVERIFY(server.start());

        // Built-in modules come first and have no plugin file.
        const QList<Mtw::ModuleStatus> modules = server.modules();
        QCOMPARE(modules.size(), 2);
        QCOMPARE(modules.at(0).metadata().id(), u"greeter"_s);
        QCOMPARE(modules.at(0).state(), Mtw::ModuleState::Started);
        QVERIFY(modules.at(0).path().isEmpty());
        QCOMPARE(modules.at(1).metadata().id(), u"counter-room"_s);
        QCOMPARE(modules.at(1).state(), Mtw::ModuleState::Started);

        TestClient a;
        QVERIFY(a.open(wsUrl(server)));
        QTRY_COMPARE(a.ofType(u"event"_s).size(), 1);
        const QJsonObject welcome = a.ofType(u"event"_s).constFirst();
        QCOMPARE(welcome.value("payload"_L1).toObject().value("data"_L1).toString(),
                 u"Hi, "_s + a.connId);

        a.sendEnvelope(
            u"request"_s,
            u"h1"_s,
            {{u"metadata"_s, QJsonObject{{u"action"_s, u"hello"_s}}},
             {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"Ada"_s}}}});
        QCOMPARE(dataOf(a.reply(u"h1"_s)), (QJsonObject{{u"greeting"_s, u"Hi, Ada!"_s}}));

        QVERIFY(!join(a, server, u"counter.mixed"_s).isEmpty());
        publishJson(a, u"counter.mixed"_s, u"m1"_s, op(u"increment"_s));
        QCOMPARE(dataOf(a.reply(u"m1"_s)).value("value"_L1).toInteger(), 1);
    }

    void builderReportsConfigErrors()
    {
        auto missing = Mtw::ServerBuilder()
                           .configFile(u"/nonexistent/mtw.toml"_s)
                           .module(std::make_shared<GreeterModule>(), GreeterModule::metadata())
                           .build();
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, 404);

        auto twice = Mtw::ServerBuilder()
                         .module(std::make_shared<GreeterModule>(), GreeterModule::metadata())
                         .module(std::make_shared<GreeterModule>(), GreeterModule::metadata())
                         .build();
        QVERIFY(!twice);
        QCOMPARE(twice.error().message, u"module 'greeter' is registered twice"_s);
    }
};

QTEST_GUILESS_MAIN(tst_CounterRoom)
#include "tst_counterroom.moc"
