// SPDX-License-Identifier: MIT
// The admin API (docs/admin-api.md) over the real socket: access rules, the snapshot and its
// live deltas compared with what real clients do, and every action.
#include "testclient.h"
#include "testlogs.h"
#include "transport/admingate.h"
#include "transport/httprequest.h"

#include <mtw/logbus.h>
#include <mtw/server.h>

#include <QJsonArray>
#include <QLoggingCategory>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/socket.h>

using namespace Qt::StringLiterals;

namespace {

const QByteArray UpgradeHead = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n";

// An admin client: a TestClient whose first message is the snapshot rather than an ack.
class AdminClient : public TestClient
{
public:
    bool attach(const QUrl &url, const QByteArray &token = {})
    {
        QNetworkRequest request(url);
        if (!token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + token);
        socket.open(request);
        return QTest::qWaitFor([this] { return !received.isEmpty() || closed; }, 5000)
            && !received.isEmpty()
            && received.constFirst().value(u"type"_s).toString() == u"snapshot"_s;
    }

    QJsonObject snapshot() const { return received.constFirst(); }

    QJsonObject act(const QString &action, QJsonObject fields = {})
    {
        const QString id = u"a%1"_s.arg(++m_next);
        fields.insert(u"id"_s, id);
        fields.insert(u"action"_s, action);
        sendJson(fields);
        QJsonObject found;
        (void)QTest::qWaitFor(
            [&] {
                for (const QJsonObject &message : std::as_const(received)) {
                    if (message.value(u"type"_s) == u"result"_s && message.value(u"id"_s) == id) {
                        found = message;
                        return true;
                    }
                }
                return false;
            },
            5000);
        return found;
    }

    // The first message of `type` received after index `from` that satisfies `accept`.
    template<typename Accept>
    QJsonObject waitFor(const QString &type, Accept accept, int timeoutMs = 5000)
    {
        QJsonObject found;
        (void)QTest::qWaitFor(
            [&] {
                for (const QJsonObject &message : std::as_const(received)) {
                    if (message.value(u"type"_s).toString() == type && accept(message)) {
                        found = message;
                        return true;
                    }
                }
                return false;
            },
            timeoutMs);
        return found;
    }

private:
    int m_next = 0;
};

bool containsConnection(const QJsonArray &rows, const QString &connId)
{
    for (const QJsonValue &row : rows) {
        if (row.toObject().value(u"conn_id"_s).toString() == connId)
            return true;
    }
    return false;
}

} // namespace

class tst_Admin : public QObject
{
    Q_OBJECT

private:
    static Mtw::Config config(const QString &token = {})
    {
        Mtw::Config c;
        c.server.host = u"127.0.0.1"_s;
        c.server.port = 0;
        c.server.workers = 2;
        c.admin.token = token;
        return c;
    }
    static QUrl adminUrl(const Mtw::Server &server, const QString &query = {})
    {
        return QUrl(u"ws://127.0.0.1:%1/admin%2"_s.arg(server.port()).arg(query));
    }
    static QUrl clientUrl(const Mtw::Server &server)
    {
        return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
    }

private Q_SLOTS:
    void tokenRequired_data()
    {
        QTest::addColumn<QByteArray>("extra");
        QTest::addColumn<QByteArray>("status");
        QTest::newRow("no token") << QByteArray() << QByteArray("HTTP/1.1 401");
        QTest::newRow("wrong bearer")
            << QByteArray("Authorization: Bearer nope\r\n") << QByteArray("HTTP/1.1 401");
        QTest::newRow("token prefix only")
            << QByteArray("Authorization: Bearer s3cr\r\n") << QByteArray("HTTP/1.1 401");
        QTest::newRow("right bearer")
            << QByteArray("Authorization: Bearer s3cret-token\r\n") << QByteArray("HTTP/1.1 101");
    }

    void tokenRequired()
    {
        QFETCH(QByteArray, extra);
        QFETCH(QByteArray, status);
        Mtw::Server server(config(u"s3cret-token"_s));
        QVERIFY(server.start());
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, server.port());
        QVERIFY(socket.waitForConnected(2000));
        socket.write("GET /admin HTTP/1.1\r\nHost: x\r\n" + extra + UpgradeHead);
        QByteArray response;
        QVERIFY(QTest::qWaitFor(
            [&] {
                response += socket.readAll();
                return response.contains("\r\n\r\n");
            },
            5000));
        QVERIFY2(response.startsWith(status), response.constData());
    }

    // A client whose upgrade, Close frame and FIN arrive in one write has gone before its
    // QWebSocket exists: it must not stay attached (and fed every delta) until shutdown.
    void adminThatLeavesDuringTheUpgradeIsNotKept()
    {
        LogCapture log;
        Mtw::Server server(config(u"s3cret-token"_s));
        QVERIFY(server.start());
        constexpr int Clients = 5;
        for (int i = 0; i < Clients; ++i) {
            QTcpSocket socket;
            socket.connectToHost(QHostAddress::LocalHost, server.port());
            QVERIFY(socket.waitForConnected(2000));
            const char close[] =
                {char(0x88), char(0x82), 1, 2, 3, 4, char(0x03 ^ 1), char(0xe8 ^ 2)};
            socket.write("GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n"
                         + UpgradeHead + QByteArray(close, sizeof close));
            QVERIFY(socket.waitForBytesWritten(2000));
            QCOMPARE(::shutdown(int(socket.socketDescriptor()), SHUT_WR), 0);
            const QString left = u"left during the upgrade"_s;
            const QString detached = u"admin detached"_s;
            QTRY_COMPARE_WITH_TIMEOUT(log.count(left) + log.count(detached), i + 1, 10000);
        }
        QCOMPARE(log.count(u"admin attached"_s), log.count(u"admin detached"_s));
    }

    void tokenInQueryIsRefused()
    {
        // URLs are logged (proxies, access logs): a token there is refused, even the right one.
        Mtw::Server server(config(u"q-token-0123456789"_s));
        QVERIFY(server.start());
        const QByteArray response = rawHttp(server.port(),
                                            "GET /admin?token=q-token-0123456789 HTTP/1.1\r\n"
                                            "Host: x\r\n"
                                                + UpgradeHead);
        QVERIFY2(response.startsWith("HTTP/1.1 400"), response.constData());
        QVERIFY(response.contains("Authorization: Bearer"));
    }

    void failedLoginsAreThrottledButTheRightTokenIsNot()
    {
        Mtw::Server server(config(u"right-token-0123456789"_s));
        QVERIFY(server.start());
        const QByteArray wrong =
            "GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n" + UpgradeHead;
        for (int i = 0; i < 4; ++i)
            QVERIFY(rawHttp(server.port(), wrong).startsWith("HTTP/1.1 401"));
        // The fifth failure blocks the address for wrong tokens...
        QVERIFY(rawHttp(server.port(), wrong).startsWith("HTTP/1.1 401"));
        const QByteArray throttled = rawHttp(server.port(), wrong);
        QVERIFY2(throttled.startsWith("HTTP/1.1 429"), throttled.constData());
        QVERIFY(throttled.contains("Retry-After: 60"));
        // ...but somebody else's failures from the same address never lock out the right token.
        const QByteArray right =
            "GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer right-token-0123456789\r\n"
            + UpgradeHead;
        const QByteArray response = rawHttpHead(server.port(), right);
        QVERIFY2(response.startsWith("HTTP/1.1 101"), response.constData());
    }

    void noConfiguredTokenMeansAGeneratedOne()
    {
        // Before: with no admin.token any local process (loopback) was let in.
        Mtw::Server server(config());
        QVERIFY(server.start());
        QVERIFY(server.isAdminTokenGenerated());
        const QString token = server.adminToken();
        QVERIFY2(token.size() >= 43, qPrintable(token)); // 32 random bytes, base64url
        const QByteArray none =
            rawHttp(server.port(), "GET /admin HTTP/1.1\r\nHost: x\r\n" + UpgradeHead);
        QVERIFY2(none.startsWith("HTTP/1.1 401"), none.constData());
        AdminClient admin;
        QVERIFY(admin.attach(adminUrl(server), token.toUtf8()));
        // Another start, another token.
        Mtw::Server second(config());
        QVERIFY(second.start());
        QVERIFY(second.adminToken() != token);
        QVERIFY(!Mtw::Server(config(u"configured-token-0123"_s)).isAdminTokenGenerated());
    }

    void loopbackAloneIsNotEnough_data()
    {
        QTest::addColumn<QString>("peer");
        QTest::newRow("127.0.0.1") << u"127.0.0.1"_s;
        QTest::newRow("::1") << u"::1"_s;
        QTest::newRow("documentation v4") << u"203.0.113.9"_s;
    }

    void loopbackAloneIsNotEnough()
    {
        // Decided without traffic: the gate alone, with a token and a request without one.
        QFETCH(QString, peer);
        Mtw::Internal::AdminGate gate(Mtw::AdminConfig{}, u"t0ken-0123456789abcdef"_s);
        const auto head =
            Mtw::Internal::parseHttpRequestHead("GET /admin HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(head);
        QCOMPARE(gate.check(*head, QHostAddress(peer), 0),
                 Mtw::Internal::AdminGate::Verdict::Unauthorized);
        const auto withToken =
            Mtw::Internal::parseHttpRequestHead("GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: "
                                                "Bearer t0ken-0123456789abcdef\r\n\r\n");
        QVERIFY(withToken);
        QCOMPARE(gate.check(*withToken, QHostAddress(peer), 0),
                 Mtw::Internal::AdminGate::Verdict::Allow);
    }

    void browserOriginsAreRefused_data()
    {
        QTest::addColumn<QByteArray>("origin");
        QTest::addColumn<QByteArray>("status");
        QTest::newRow("web page") << QByteArray("https://evil.example")
                                  << QByteArray("HTTP/1.1 403");
        QTest::newRow("null origin") << QByteArray("null") << QByteArray("HTTP/1.1 403");
        QTest::newRow("listed") << QByteArray("https://ops.example") << QByteArray("HTTP/1.1 101");
        QTest::newRow("no origin (a tool)") << QByteArray() << QByteArray("HTTP/1.1 101");
    }

    void browserOriginsAreRefused()
    {
        // A page in the operator's browser can reach loopback; its request says where it is from.
        QFETCH(QByteArray, origin);
        QFETCH(QByteArray, status);
        Mtw::Config c = config(u"origin-token-0123456789"_s);
        c.admin.allowedOrigins = {u"https://ops.example"_s};
        Mtw::Server server(c);
        QVERIFY(server.start());
        QByteArray head =
            "GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer origin-token-0123456789\r\n";
        if (!origin.isEmpty())
            head += "Origin: " + origin + "\r\n";
        const QByteArray response = rawHttpHead(server.port(), head + UpgradeHead);
        QVERIFY2(response.startsWith(status), response.constData());
    }

    void constantTimeCompare_data()
    {
        QTest::addColumn<QByteArray>("a");
        QTest::addColumn<QByteArray>("b");
        QTest::addColumn<bool>("equal");
        QTest::newRow("same") << QByteArray("token") << QByteArray("token") << true;
        QTest::newRow("prefix") << QByteArray("tok") << QByteArray("token") << false;
        QTest::newRow("longer") << QByteArray("token!") << QByteArray("token") << false;
        QTest::newRow("one byte") << QByteArray("tokem") << QByteArray("token") << false;
        QTest::newRow("empty vs empty") << QByteArray() << QByteArray() << true;
        QTest::newRow("empty vs token") << QByteArray() << QByteArray("token") << false;
    }

    void constantTimeCompare()
    {
        QFETCH(QByteArray, a);
        QFETCH(QByteArray, b);
        QFETCH(bool, equal);
        QCOMPARE(Mtw::Internal::constantTimeEquals(a, b), equal);
    }

    void disabledAdminIs404()
    {
        Mtw::Config c = config();
        c.admin.enabled = false;
        Mtw::Server server(c);
        QVERIFY(server.start());
        QVERIFY(rawHttp(server.port(), "GET /admin HTTP/1.1\r\nHost: x\r\n" + UpgradeHead)
                    .startsWith("HTTP/1.1 404"));
    }

    void snapshotThenDeltasMatchClients()
    {
        Mtw::Server server(config());
        QVERIFY(server.start());
        TestClient early;
        QVERIFY(early.open(clientUrl(server)));
        early.sendEnvelope(u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"room.a"_s}});
        QVERIFY(!early.reply(u"s1"_s).isEmpty());

        AdminClient admin;
        QVERIFY(admin.attach(adminUrl(server), server.adminToken().toUtf8()));
        const QJsonObject snapshot = admin.snapshot();
        QCOMPARE(snapshot.value(u"server"_s).toObject().value(u"port"_s).toInt(),
                 int(server.port()));
        QCOMPARE(snapshot.value(u"server"_s).toObject().value(u"workers"_s).toInt(), 2);
        QCOMPARE(snapshot.value(u"counters"_s).toObject().value(u"connections"_s).toInt(), 1);
        const QJsonArray connections = snapshot.value(u"connections"_s).toArray();
        QCOMPARE(connections.size(), 1);
        QCOMPARE(connections.at(0).toObject().value(u"conn_id"_s).toString(), early.connId);
        QCOMPARE(connections.at(0).toObject().value(u"remote_address"_s).toString(),
                 u"127.0.0.1"_s);
        QCOMPARE(connections.at(0).toObject().value(u"remote_port"_s).toInt(),
                 int(early.socket.localPort()));
        QCOMPARE(connections.at(0).toObject().value(u"channels"_s).toArray(),
                 QJsonArray{u"room.a"_s});
        const QJsonArray channels = snapshot.value(u"channels"_s).toArray();
        QCOMPARE(channels.size(), 1);
        QCOMPARE(channels.at(0).toObject().value(u"name"_s).toString(), u"room.a"_s);
        QCOMPARE(channels.at(0).toObject().value(u"members"_s).toInt(), 1);
        QVERIFY(snapshot.contains(u"modules"_s));
        QVERIFY(snapshot.value(u"log"_s).isArray());

        // A new client appears as a delta, its publish shows in counters and channel rows,
        // and its departure is a delta with the reason.
        TestClient late;
        QVERIFY(late.open(clientUrl(server)));
        QVERIFY(!admin
                     .waitFor(u"connection_opened"_s,
                              [&](const QJsonObject &m) {
                                  return m.value(u"connection"_s).toObject().value(u"conn_id"_s)
                                      == late.connId;
                              })
                     .isEmpty());
        late.sendEnvelope(u"publish"_s, u"p1"_s, {{u"channel"_s, u"room.a"_s}});
        QVERIFY(!late.reply(u"p1"_s).isEmpty());
        QVERIFY(!admin
                     .waitFor(
                         u"channels_updated"_s,
                         [](const QJsonObject &m) {
                             for (const QJsonValue &row : m.value(u"channels"_s).toArray()) {
                                 if (row.toObject().value(u"name"_s) == u"room.a"_s
                                     && row.toObject().value(u"messages"_s).toInt() == 1)
                                     return true;
                             }
                             return false;
                         },
                         4000)
                     .isEmpty());
        QVERIFY(!admin
                     .waitFor(
                         u"connections_updated"_s,
                         [&](const QJsonObject &m) {
                             return containsConnection(m.value(u"connections"_s).toArray(),
                                                       late.connId);
                         },
                         4000)
                     .isEmpty());
        QVERIFY(!admin
                     .waitFor(
                         u"counters"_s,
                         [](const QJsonObject &m) {
                             const QJsonObject c = m.value(u"counters"_s).toObject();
                             return c.value(u"connections"_s).toInt() == 2
                                 && c.contains(u"messages_in_per_s"_s);
                         },
                         4000)
                     .isEmpty());
        late.socket.close();
        const QJsonObject closed = admin.waitFor(u"connection_closed"_s, [&](const QJsonObject &m) {
            return m.value(u"conn_id"_s) == late.connId;
        });
        QCOMPARE(closed.value(u"reason"_s).toString(), u"Normal"_s);
    }

    void logStream()
    {
        Mtw::Server server(config());
        QVERIFY(server.start());
        AdminClient admin;
        QVERIFY(admin.attach(adminUrl(server), server.adminToken().toUtf8()));
        Mtw::LogBus::post(QtWarningMsg, "mtw.test", u"a line for the admin"_s);
        const QJsonObject log = admin.waitFor(u"log"_s, [](const QJsonObject &m) {
            for (const QJsonValue &entry : m.value(u"entries"_s).toArray()) {
                if (entry.toObject().value(u"message"_s) == u"a line for the admin"_s)
                    return entry.toObject().value(u"level"_s) == u"warning"_s
                        && entry.toObject().value(u"category"_s) == u"mtw.test"_s;
            }
            return false;
        });
        QVERIFY(!log.isEmpty());
    }

    void logLinesArriveOnce()
    {
        // A line written just before an admin attaches is in its snapshot, and only there.
        Mtw::Server server(config());
        QVERIFY(server.start());
        Mtw::LogBus::post(QtInfoMsg, "mtw.test", u"just before attach"_s);
        AdminClient admin;
        QVERIFY(admin.attach(adminUrl(server), server.adminToken().toUtf8()));
        Mtw::LogBus::post(QtInfoMsg, "mtw.test", u"just after attach"_s);
        QVERIFY(!admin
                     .waitFor(u"log"_s,
                              [](const QJsonObject &m) {
                                  return QJsonDocument(m).toJson().contains("just after attach");
                              })
                     .isEmpty());
        int before = 0;
        int after = 0;
        for (const QJsonObject &message : std::as_const(admin.received)) {
            const QJsonArray entries =
                message.value(message.value(u"type"_s) == u"snapshot"_s ? u"log"_s : u"entries"_s)
                    .toArray();
            for (const QJsonValue &entry : entries) {
                before += entry.toObject().value(u"message"_s) == u"just before attach"_s;
                after += entry.toObject().value(u"message"_s) == u"just after attach"_s;
            }
        }
        QCOMPARE(before, 1);
        QCOMPARE(after, 1);
    }

    void actions()
    {
        Mtw::Server server(config());
        QVERIFY(server.start());
        QSignalSpy closed(&server, &Mtw::Server::connectionClosed);
        TestClient member;
        QVERIFY(member.open(clientUrl(server)));
        member.sendEnvelope(u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"ops"_s}});
        QVERIFY(!member.reply(u"s1"_s).isEmpty());
        AdminClient admin;
        QVERIFY(admin.attach(adminUrl(server), server.adminToken().toUtf8()));

        QJsonObject result =
            admin.act(u"publish"_s,
                      {{u"channel"_s, u"ops"_s}, {u"payload"_s, QJsonObject{{u"hello"_s, 1}}}});
        QVERIFY(result.value(u"ok"_s).toBool());
        QCOMPARE(result.value(u"data"_s).toObject().value(u"recipients"_s).toInt(), 1);
        QTRY_VERIFY(!member.ofType(u"publish"_s, u"ops"_s).isEmpty());
        const QJsonObject delivered = member.ofType(u"publish"_s, u"ops"_s).constFirst();
        QCOMPARE(delivered.value(u"metadata"_s).toObject().value(u"from"_s).toString(), u"admin"_s);
        QCOMPARE(delivered.value(u"payload"_s)
                     .toObject()
                     .value(u"data"_s)
                     .toObject()
                     .value(u"hello"_s)
                     .toInt(),
                 1);

        result = admin.act(u"history"_s, {{u"channel"_s, u"ops"_s}});
        QCOMPARE(result.value(u"data"_s).toObject().value(u"messages"_s).toArray().size(), 1);
        result = admin.act(u"presence"_s, {{u"channel"_s, u"ops"_s}});
        QCOMPARE(result.value(u"data"_s)
                     .toObject()
                     .value(u"members"_s)
                     .toArray()
                     .at(0)
                     .toObject()
                     .value(u"conn_id"_s)
                     .toString(),
                 member.connId);
        result = admin.act(u"publish"_s, {{u"channel"_s, u"nowhere"_s}, {u"payload"_s, 1}});
        QVERIFY(!result.value(u"ok"_s).toBool());
        QCOMPARE(result.value(u"error"_s).toObject().value(u"code"_s).toInt(), 404);
        result = admin.act(u"frobnicate"_s);
        QCOMPARE(result.value(u"error"_s).toObject().value(u"code"_s).toInt(), 404);

        result = admin.act(u"disconnect"_s,
                           {{u"conn_id"_s, member.connId}, {u"reason"_s, u"by test"_s}});
        QVERIFY(result.value(u"ok"_s).toBool());
        QVERIFY(member.waitClosed());
        QTRY_COMPARE(closed.size(), 1);
        QCOMPARE(closed.at(0).at(1).value<Mtw::DisconnectReason>(),
                 Mtw::DisconnectReason::kicked(u"by test"_s));
        result = admin.act(u"disconnect"_s, {{u"conn_id"_s, member.connId}});
        QCOMPARE(result.value(u"error"_s).toObject().value(u"code"_s).toInt(), 404);
    }

    void configActions()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(u"mtw.toml"_s);
        const QByteArray original =
            "# my comment\n[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = 2\n";
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(original);
        file.close();
        const auto loaded = Mtw::loadConfigFile(path);
        QVERIFY(loaded && !loaded->hasErrors());
        Mtw::Server server(loaded->config);
        QVERIFY(server.start());
        AdminClient admin;
        QVERIFY(admin.attach(adminUrl(server), server.adminToken().toUtf8()));

        QJsonObject result = admin.act(u"get_config"_s);
        QCOMPARE(result.value(u"data"_s).toObject().value(u"text"_s).toString().toUtf8(), original);

        result = admin.act(u"validate_config"_s, {{u"text"_s, u"[server]\nport = \"eighty\"\n"_s}});
        QJsonObject data = result.value(u"data"_s).toObject();
        QVERIFY(!data.value(u"valid"_s).toBool());
        QCOMPARE(data.value(u"diagnostics"_s).toArray().at(0).toObject().value(u"line"_s).toInt(),
                 2);

        // An invalid save is refused and leaves the file alone.
        result = admin.act(u"save_config"_s, {{u"text"_s, u"[server]\nport = \"eighty\"\n"_s}});
        QVERIFY(!result.value(u"data"_s).toObject().value(u"valid"_s).toBool());
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), original);
        file.close();

        // A valid save keeps the user's comments, reports what needs a restart and applies what
        // is live: logging.level's filter rules take effect at once.
        const QString edited =
            QString::fromUtf8(original).replace(u"workers = 2"_s, u"workers = 3"_s)
            + u"[logging]\nlevel = \"debug\"\nformat = \"json\"\n"_s;
        const QLoggingCategory category("mtw.admintest", QtInfoMsg);
        QVERIFY(!category.isDebugEnabled());
        result = admin.act(u"validate_config"_s, {{u"text"_s, edited}});
        QCOMPARE(result.value(u"data"_s).toObject().value(u"restart_required"_s).toArray(),
                 (QJsonArray{u"server.workers"_s, u"logging.format"_s}));
        QVERIFY2(!category.isDebugEnabled(), "validating applies nothing");

        result = admin.act(u"save_config"_s, {{u"text"_s, edited}});
        data = result.value(u"data"_s).toObject();
        QVERIFY(data.value(u"valid"_s).toBool());
        QVERIFY(data.value(u"saved"_s).toBool());
        QVERIFY(data.value(u"reloaded"_s).toBool()); // through Server::reloadConfig, as SIGHUP
        QCOMPARE(data.value(u"restart_required"_s).toArray(),
                 (QJsonArray{u"server.workers"_s, u"logging.format"_s}));
        QCOMPARE(data.value(u"applied"_s).toArray(), QJsonArray{u"logging.level"_s});
        QVERIFY(category.isDebugEnabled());
        QCOMPARE(server.config().logging.level, u"debug"_s);
        QCOMPARE(server.config().logging.format, u"text"_s); // not live: the running value
        QCOMPARE(server.config().server.workers, 2);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(file.readAll()), edited);
        file.close();

        // The running configuration now has the new level: saving it again applies nothing.
        result = admin.act(u"save_config"_s, {{u"text"_s, edited}});
        QCOMPARE(result.value(u"data"_s).toObject().value(u"applied"_s).toArray(), QJsonArray());
        QLoggingCategory::setFilterRules(QString());
    }

    void shutdownAction()
    {
        Mtw::Server server(config());
        QVERIFY(server.start());
        QSignalSpy finished(&server, &Mtw::Server::finished);
        TestClient client;
        QVERIFY(client.open(clientUrl(server)));
        AdminClient admin;
        QVERIFY(admin.attach(adminUrl(server), server.adminToken().toUtf8()));
        QVERIFY(admin.act(u"shutdown"_s).value(u"ok"_s).toBool());
        QVERIFY(!admin.waitFor(u"shutdown_started"_s, [](const QJsonObject &) { return true; })
                     .isEmpty());
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 1001);
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
        // The admin is closed last, once the server has stopped.
        QVERIFY(admin.waitClosed());
        QCOMPARE(admin.closeCode, 1001);
    }
};

QTEST_GUILESS_MAIN(tst_Admin)
#include "tst_admin.moc"
