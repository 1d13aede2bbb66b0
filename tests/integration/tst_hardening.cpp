// SPDX-License-Identifier: MIT
// Issue 9 over real sockets: upgrade requests the RFC refuses, X-Forwarded-For only from
// trusted proxies, /healthz and /readyz, identities that expire, raw MTW frames handed to
// modules, services registered while serving, and replies that never carry `channel` (the
// mtwRequest TypeScript client routes anything with a channel to that channel's handlers).
#include "protocolclient.h"

#include <mtw/module.h>
#include <mtw/services.h>

#include <QDateTime>
#include <QMutex>
#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

const QString FixtureDir = QStringLiteral(MTW_FIXTURE_PLUGIN_DIR);

const QByteArray Upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
const QByteArray GoodKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
const QByteArray Version13 = "Sec-WebSocket-Version: 13\r\n";

// Tokens are "user:<id>:<seconds until expiry>" (0: no expiry); anything else is refused.
class ExpiringAuthenticator : public Mtw::IAuthenticator
{
public:
    void authenticate(const Mtw::AuthRequest &request, Mtw::AuthReply reply) override
    {
        const QStringList parts = request.token().split(u':');
        if (parts.size() != 3 || parts.at(0) != u"user"_s) {
            reply.reject({401, u"invalid token"_s});
            return;
        }
        Mtw::Identity identity;
        identity.setUserId(parts.at(1));
        const qint64 seconds = parts.at(2).toLongLong();
        identity.setExpiresAt(seconds != 0 ? QDateTime::currentMSecsSinceEpoch() + seconds * 1000
                                           : 0);
        reply.accept(identity);
    }
};

// Takes raw frames whose payload starts with "take"; records every payload it saw.
class RawSink : public Mtw::IRawFrameHandler
{
public:
    bool handleRawFrame(const Mtw::ClientInfo &client, const QByteArray &payload) override
    {
        QMutexLocker lock(&mutex);
        seen.append({client.connId(), payload});
        return payload.startsWith("take");
    }
    QList<QPair<QString, QByteArray>> snapshot() const
    {
        QMutexLocker lock(&mutex);
        return seen;
    }

private:
    mutable QMutex mutex;
    QList<QPair<QString, QByteArray>> seen;
};

// Answers the `late` request action; registered only when the test asks, while serving.
class LateHandler : public Mtw::IRequestHandler
{
public:
    void
    handleRequest(const Mtw::ClientInfo &, const Mtw::Message &, Mtw::RequestReply reply) override
    {
        reply.respond(QJsonValue(u"registered after start"_s));
    }
};

// A compiled-in module offering the services above.
class TestModule : public Mtw::IModule
{
public:
    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        m_context = &context;
        context.registerAuthenticator(&authenticator);
        context.registerRawFrameHandler(&raw);
        return {};
    }
    void registerLate() { m_context->registerRequestHandler(u"late"_s, &late); }

    ExpiringAuthenticator authenticator;
    RawSink raw;
    LateHandler late;

private:
    Mtw::ModuleContext *m_context = nullptr;
};

Mtw::ModuleMetadata testMetadata()
{
    Mtw::ModuleMetadata metadata;
    metadata.setId(u"test-hardening"_s);
    metadata.setVersion(u"1.0.0"_s);
    return metadata;
}

QByteArray upgradeRequest(const QByteArray &headers)
{
    return "GET /ws HTTP/1.1\r\n" + headers + "\r\n";
}

} // namespace

class tst_Hardening : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Mtw::Server> m_server;
    std::shared_ptr<TestModule> m_module;

    bool startServer(Mtw::Config config = serverConfig(), bool withModule = false)
    {
        m_server = std::make_unique<Mtw::Server>(config);
        if (withModule) {
            m_module = std::make_shared<TestModule>();
            m_server->addModule(m_module, testMetadata());
        }
        return bool(m_server->start());
    }
    QUrl url(const QString &query = {}) const
    {
        return QUrl(u"ws://127.0.0.1:%1/ws%2"_s.arg(m_server->port()).arg(query));
    }

private Q_SLOTS:
    void cleanup()
    {
        m_server.reset();
        m_module.reset();
    }

    void badUpgradesGetAnAnswer_data();
    void badUpgradesGetAnAnswer();
    void forwardedForOnlyFromTrustedProxies_data();
    void forwardedForOnlyFromTrustedProxies();
    void trustedProxyIsNotAPendingHandshakeHog();
    void healthAndReadiness();
    void readinessFollowsRequiredModuleHealth();
    void expiredTokenClosesWith4001();
    void connectWithFreshTokenKeepsTheConnection();
    void rawFramesReachModules();
    void servicesRegisteredWhileServing();
    void repliesCarryNoChannel();
};

// Before: these were closed without a response by QWebSocketServer, and a malformed key got
// a 101.
void tst_Hardening::badUpgradesGetAnAnswer_data()
{
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<QByteArray>("status");
    QTest::addColumn<QByteArray>("body");
    const QByteArray host = "Host: 127.0.0.1\r\n";
    QTest::newRow("valid") << host + Upgrade + GoodKey + Version13 << QByteArray("HTTP/1.1 101")
                           << QByteArray();
    QTest::newRow("no Host") << Upgrade + GoodKey + Version13 << QByteArray("HTTP/1.1 400")
                             << QByteArray("missing Host header");
    QTest::newRow("no key") << host + Upgrade + Version13 << QByteArray("HTTP/1.1 400")
                            << QByteArray("missing Sec-WebSocket-Key");
    QTest::newRow("key not base64")
        << host + Upgrade + "Sec-WebSocket-Key: abc!\r\n" + Version13 << QByteArray("HTTP/1.1 400")
        << QByteArray("16 bytes in base64");
    QTest::newRow("key of 15 bytes")
        << host + Upgrade + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n" + Version13
        << QByteArray("HTTP/1.1 400") << QByteArray("16 bytes in base64");
    QTest::newRow("no version") << host + Upgrade + GoodKey << QByteArray("HTTP/1.1 400")
                                << QByteArray("missing Sec-WebSocket-Version");
    QTest::newRow("version 8") << host + Upgrade + GoodKey + "Sec-WebSocket-Version: 8\r\n"
                               << QByteArray("HTTP/1.1 426")
                               << QByteArray("Sec-WebSocket-Version: 13");
}

void tst_Hardening::badUpgradesGetAnAnswer()
{
    QFETCH(QByteArray, headers);
    QFETCH(QByteArray, status);
    QFETCH(QByteArray, body);
    QVERIFY(startServer());
    const QByteArray response = rawHttpHead(m_server->port(), upgradeRequest(headers));
    QVERIFY2(response.startsWith(status), response.constData());
    if (!body.isEmpty()) {
        // The body follows the head: read the whole answer (the server closes).
        const QByteArray full = rawHttp(m_server->port(), upgradeRequest(headers));
        QVERIFY2(full.contains(body), full.constData());
    }
}

void tst_Hardening::forwardedForOnlyFromTrustedProxies_data()
{
    QTest::addColumn<QStringList>("trusted");
    QTest::addColumn<QByteArray>("forwardedFor");
    QTest::addColumn<QString>("seen");
    QTest::newRow("no proxy trusted: the header is ignored")
        << QStringList() << QByteArray("203.0.113.7") << u"127.0.0.1"_s;
    QTest::newRow("trusted by address")
        << QStringList{u"127.0.0.1"_s} << QByteArray("203.0.113.7") << u"203.0.113.7"_s;
    QTest::newRow("trusted by range, a chain: the last untrusted hop")
        << QStringList{u"127.0.0.0/8"_s, u"10.0.0.0/8"_s}
        << QByteArray("198.51.100.1, 203.0.113.7, 10.1.2.3") << u"203.0.113.7"_s;
    QTest::newRow("a forged header from a trusted peer that is not an address")
        << QStringList{u"127.0.0.1"_s} << QByteArray("evil") << u"127.0.0.1"_s;
    QTest::newRow("every hop trusted")
        << QStringList{u"127.0.0.1"_s, u"10.0.0.0/8"_s} << QByteArray("10.9.9.9") << u"127.0.0.1"_s;
}

void tst_Hardening::forwardedForOnlyFromTrustedProxies()
{
    QFETCH(QStringList, trusted);
    QFETCH(QByteArray, forwardedFor);
    QFETCH(QString, seen);
    Mtw::Config config = serverConfig();
    config.server.trustedProxies = trusted;
    QVERIFY(startServer(config));
    // clientConnected comes from an I/O thread: a QSignalSpy would append there while this
    // thread reads (ThreadSanitizer says so); a receiver here gets it queued.
    QList<Mtw::ClientInfo> connected;
    QObject receiver; // disconnects when the test returns
    connect(m_server->events(),
            &Mtw::ServerEvents::clientConnected,
            &receiver,
            [&connected](const Mtw::ClientInfo &info) { connected.append(info); });
    QNetworkRequest request(url());
    request.setRawHeader("X-Forwarded-For", forwardedFor);
    TestClient client;
    client.socket.open(request);
    QTRY_COMPARE(connected.size(), 1);
    QCOMPARE(connected.at(0).remoteAddress(), QHostAddress(seen));
    // The client's own port when the address is the TCP peer's; not known for a forwarded one.
    const bool forwarded = QHostAddress(seen) != QHostAddress(QHostAddress::LocalHost);
    QCOMPARE(connected.at(0).remotePort(), forwarded ? quint16(0) : client.socket.localPort());
}

// All clients of a reverse proxy share its address: the per-address slowloris guard must not
// count them as one attacker.
void tst_Hardening::trustedProxyIsNotAPendingHandshakeHog()
{
    Mtw::Config config = serverConfig();
    config.transport.websocket.maxPendingHandshakesPerIp = 2;
    // One worker takes the connections in the order they were made, so the third is counted
    // after the first two.
    config.server.workers = 1;
    for (const bool trusted : {false, true}) {
        config.server.trustedProxies = trusted ? QStringList{u"127.0.0.1"_s} : QStringList();
        QVERIFY(startServer(config));
        std::vector<std::unique_ptr<QTcpSocket>> pending;
        for (int i = 0; i < 2; ++i) {
            pending.push_back(std::make_unique<QTcpSocket>());
            pending.back()->connectToHost(QHostAddress::LocalHost, m_server->port());
            QVERIFY(pending.back()->waitForConnected(5000));
            pending.back()->write("GET /ws HTTP/1.1\r\n"); // and nothing more
            QVERIFY(pending.back()->waitForBytesWritten(5000));
        }
        // The third waits until the server took the first two (each answer is causal).
        const QByteArray third =
            rawHttp(m_server->port(), "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        if (trusted)
            QVERIFY2(third.startsWith("HTTP/1.1 200"), third.constData());
        else
            QVERIFY2(third.startsWith("HTTP/1.1 429"), third.constData());
        pending.clear();
        m_server.reset();
    }
}

void tst_Hardening::healthAndReadiness()
{
    QVERIFY(startServer());
    const auto get = [this](const QByteArray &path) {
        return rawHttp(m_server->port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    };
    QVERIFY(get("/status").endsWith("\r\n\r\nok")); // unchanged body
    const QByteArray health = get("/healthz");
    QVERIFY2(health.startsWith("HTTP/1.1 200") && health.endsWith("ok\n"), health.constData());
    const QByteArray ready = get("/readyz");
    QVERIFY2(ready.startsWith("HTTP/1.1 200") && ready.endsWith("ready\n"), ready.constData());
}

// Before: /status said ok while a required module was unhealthy; orchestrators had no way to
// tell. /readyz says 503 with the module and its reason, and ready again once it recovers.
void tst_Hardening::readinessFollowsRequiredModuleHealth()
{
    Mtw::Config config = serverConfig();
    config.server.pluginsDir = FixtureDir;
    Mtw::ModuleConfig module;
    module.name = u"fixture-good"_s;
    module.required = true;
    config.modules = {module};
    QVERIFY(startServer(config));
    const auto readyz = [this] {
        return rawHttp(m_server->port(), "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
    };
    QVERIFY(readyz().startsWith("HTTP/1.1 200"));
    m_server->shared().insert(u"fixture.unhealthy.fixture-good"_s, u"lost its database"_s);
    QTRY_VERIFY_WITH_TIMEOUT(readyz().startsWith("HTTP/1.1 503"), 10000);
    const QByteArray refused = readyz();
    QVERIFY2(refused.contains("required module 'fixture-good' is unhealthy: lost its database"),
             refused.constData());
    // Alive all the same, and /status keeps its body.
    QVERIFY(rawHttp(m_server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .startsWith("HTTP/1.1 200"));
    m_server->shared().insert(u"fixture.unhealthy.fixture-good"_s, QString());
    QTRY_VERIFY_WITH_TIMEOUT(readyz().startsWith("HTTP/1.1 200"), 10000);
}

void tst_Hardening::expiredTokenClosesWith4001()
{
    QVERIFY(startServer(serverConfig(), true));
    QSignalSpy closed(m_server.get(), &Mtw::Server::connectionClosed);
    MtwClient client;
    QVERIFY(client.open(url()));
    const auto ack = client.call(u"connect"_s,
                                 u"c1"_s,
                                 {{u"metadata"_s, QJsonObject{{u"token"_s, u"user:ann:1"_s}}}});
    QVERIFY(ack);
    QCOMPARE(ack->json.value(u"type"_s).toString(), u"ack"_s);
    QVERIFY(client.waitClosed(15000));
    QCOMPARE(client.closeCode, 4001);
    const QJsonObject last = client.log.last().json;
    QCOMPARE(last.value(u"type"_s).toString(), u"error"_s);
    QCOMPARE(payloadOf(last), errorPayload(401, u"token expired"_s));
    const auto reason = closeReason(closed, client.connId);
    QVERIFY(reason);
    QCOMPARE(*reason, Mtw::DisconnectReason::error(u"token expired"_s));
}

// The refresh documented in plugins/auth-jwt/README.md: `connect` again with a new token
// before the old one expires.
void tst_Hardening::connectWithFreshTokenKeepsTheConnection()
{
    QVERIFY(startServer(serverConfig(), true));
    MtwClient refreshed, witness;
    QVERIFY(refreshed.open(url()));
    QVERIFY(witness.open(url()));
    const QJsonObject shortToken{{u"token"_s, u"user:bob:2"_s}};
    QVERIFY(refreshed.call(u"connect"_s, u"c1"_s, {{u"metadata"_s, shortToken}}));
    QVERIFY(witness.call(u"connect"_s, u"w1"_s, {{u"metadata"_s, shortToken}}));
    const auto renewed =
        refreshed.call(u"connect"_s,
                       u"c2"_s,
                       {{u"metadata"_s, QJsonObject{{u"token"_s, u"user:bob:3600"_s}}}});
    QVERIFY(renewed);
    QCOMPARE(metadataOf(renewed->json).value(u"user_id"_s).toString(), u"bob"_s);
    // The witness, with the same first token and no refresh, is closed when it expires...
    QVERIFY(witness.waitClosed(15000));
    QCOMPARE(witness.closeCode, 4001);
    // ...and by then the refreshed connection is still served.
    QVERIFY(!refreshed.closed);
    const auto pong = refreshed.call(u"ping"_s, u"p"_s, {});
    QVERIFY(pong);
    QCOMPARE(pong->json.value(u"type"_s).toString(), u"pong"_s);
    // A token that already expired is closed at once.
    MtwClient late;
    QVERIFY(late.open(url(u"?token=user:cy:-5"_s)));
    QVERIFY(late.waitClosed(15000));
    QCOMPARE(late.closeCode, 4001);
}

void tst_Hardening::rawFramesReachModules()
{
    QVERIFY(startServer(serverConfig(), true));
    MtwClient client;
    QVERIFY(client.open(url()));
    client.socket.sendBinaryMessage(Mtw::encodeFrame(Mtw::FrameType::Raw, "take: 1"));
    client.socket.sendBinaryMessage(Mtw::encodeFrame(Mtw::FrameType::Raw, "nobody's"));
    QTRY_COMPARE(m_module->raw.snapshot().size(), 2);
    const auto seen = m_module->raw.snapshot();
    QCOMPARE(seen.at(0).first, client.connId);
    QCOMPARE(seen.at(0).second, QByteArray("take: 1"));
    QCOMPARE(seen.at(1).second, QByteArray("nobody's"));
    // Neither is a protocol error: the next thing the client hears is its pong.
    const auto pong = client.call(u"ping"_s, u"p"_s, {});
    QVERIFY(pong);
    QCOMPARE(client.log.size(), 2);
}

// Before: a module registering a service after start mutated the lists the workers read.
// Now each registration publishes a snapshot that the workers pick up.
void tst_Hardening::servicesRegisteredWhileServing()
{
    QVERIFY(startServer(serverConfig(), true));
    MtwClient client;
    QVERIFY(client.open(url()));
    const QJsonObject late{{u"metadata"_s, QJsonObject{{u"action"_s, u"late"_s}}}};
    const auto before = client.call(u"request"_s, u"r1"_s, late);
    QVERIFY(before);
    QCOMPARE(payloadOf(before->json), errorPayload(404, u"unknown action 'late'"_s));
    m_module->registerLate();
    const auto after = client.call(u"request"_s, u"r2"_s, late);
    QVERIFY(after);
    QCOMPARE(dataOf(after->json).toString(), u"registered after start"_s);
}

// PROTOCOL.md section 7: response, ack and error replies carry ref_id and never channel.
void tst_Hardening::repliesCarryNoChannel()
{
    Mtw::Config config = serverConfig();
    config.channels = {channel(u"chat.room"_s)};
    QVERIFY(startServer(config, true));
    MtwClient client, other;
    QVERIFY(client.open(url()));
    QVERIFY(other.open(url()));
    QVERIFY(other.call(u"subscribe"_s, u"o"_s, {{u"channel"_s, u"chat.room"_s}}));
    const QJsonObject room{{u"channel"_s, u"chat.room"_s}};
    const auto withAction = [&room](const QString &action) {
        QJsonObject fields = room;
        fields.insert(u"metadata"_s, QJsonObject{{u"action"_s, action}});
        return fields;
    };
    struct Call
    {
        QString type;
        QString id;
        QJsonObject fields;
    };
    const QList<Call> calls{
        {u"subscribe"_s, u"1"_s, room},
        {u"publish"_s, u"2"_s, room},
        {u"request"_s, u"3"_s, withAction(u"history"_s)},
        {u"request"_s, u"4"_s, withAction(u"presence"_s)},
        {u"request"_s, u"5"_s, withAction(u"channels"_s)},
        {u"request"_s, u"6"_s, room}, // echo
        {u"request"_s, u"7"_s, withAction(u"nope"_s)},
        {u"unsubscribe"_s, u"8"_s, room},
        {u"publish"_s, u"9"_s, QJsonObject{{u"channel"_s, u"never.seen"_s}}},
        {u"connect"_s, u"10"_s, room},
        {u"ping"_s, u"11"_s, room},
    };
    for (const Call &call : calls) {
        const auto reply = client.call(call.type, call.id, call.fields);
        QVERIFY2(reply, qPrintable(call.type));
        QVERIFY2(!reply->json.contains(u"channel"_s),
                 qPrintable(call.type + u" "_s + call.id + u": "_s
                            + QString::fromUtf8(QJsonDocument(reply->json).toJson())));
    }
    // Fan-out keeps its channel.
    QTRY_COMPARE(other.ofType(u"publish"_s).size(), 1);
    QCOMPARE(other.ofType(u"publish"_s).constFirst().json.value(u"channel"_s).toString(),
             u"chat.room"_s);
}

QTEST_GUILESS_MAIN(tst_Hardening)
#include "tst_hardening.moc"
