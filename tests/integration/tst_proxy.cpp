// SPDX-License-Identifier: MIT
// The mtw-proxy-http plugin, loaded from its build directory by an in-process Mtw::Server, in
// front of a backend this test starts (tests/integration/proxy_backend.py, Python's http.server
// on loopback), driven over real WebSockets: connect allowed and refused (with the allow-listed
// header forwarded and the static backend header sent), subscribe allowed and refused, publish
// allowed, refused and rewritten, rpc round trips, a slow backend (504 "backend timed out" while
// other clients are served), a dead backend (503, health degraded, logged once, and back), the
// max_concurrent bound counted by the backend, TLS to the backend with a CA made by the test.
#include "testclient.h"
#include "testlogs.h"

#include <mtw/server.h>

#include <QJsonArray>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <utility>

using namespace Qt::StringLiterals;

namespace {

const QString BackendSecret = u"backend-secret"_s;

QJsonObject dataOf(const QJsonObject &message)
{
    return message.value("payload"_L1).toObject().value("data"_L1).toObject();
}

QString errorOf(const QJsonObject &message)
{
    if (message.value("type"_L1).toString() != "error"_L1)
        return message.value("type"_L1).toString();
    return u"%1 %2"_s.arg(dataOf(message).value("code"_L1).toInt())
        .arg(dataOf(message).value("message"_L1).toString());
}

QJsonObject jsonPayload(const QJsonValue &data)
{
    return {{u"kind"_s, u"Json"_s}, {u"data"_s, data}};
}

// proxy_backend.py in a child process; port 0 = any free one.
class Backend
{
public:
    bool start(quint16 wanted = 0, const QStringList &tls = {})
    {
        process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process.start(
            u"python3"_s,
            QStringList{QStringLiteral(MTW_SOURCE_DIR "/tests/integration/proxy_backend.py"),
                        QString::number(wanted)}
                + tls);
        if (!process.waitForStarted(10000))
            return false;
        QByteArray out;
        if (!QTest::qWaitFor(
                [&] {
                    out += process.readAllStandardOutput();
                    return out.contains('\n') || process.state() == QProcess::NotRunning;
                },
                15000)) {
            return false;
        }
        if (!out.startsWith("PORT "))
            return false;
        port = quint16(out.mid(5).trimmed().toUInt());
        return port != 0;
    }

    ~Backend()
    {
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished(5000);
        }
    }

    QString url(const QString &path, const QString &scheme = u"http"_s) const
    {
        return u"%1://127.0.0.1:%2%3"_s.arg(scheme).arg(port).arg(path);
    }

    // GET /stats: requests seen, the most in flight at once.
    QJsonObject stats() const
    {
        const QByteArray response =
            rawHttp(port, "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        return QJsonDocument::fromJson(response.mid(response.indexOf("\r\n\r\n") + 4)).object();
    }

    QProcess process;
    quint16 port = 0;
};

// A loopback port that nothing listens on (taken and given back).
// A loopback port where nothing listens and nothing else can start listening until release():
// bound, never listening, so a connection to it is refused. (A port found free and closed again
// was taken by another test's server now and then, which answered 404.)
class DeadPort
{
public:
    DeadPort()
        : m_fd(::socket(AF_INET, SOCK_STREAM, 0))
    {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0
            || ::getsockname(m_fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
            return;
        port = ntohs(address.sin_port);
    }
    ~DeadPort() { release(); }
    DeadPort(const DeadPort &) = delete;
    DeadPort &operator=(const DeadPort &) = delete;

    // For a server of the test's own to listen there.
    void release()
    {
        if (m_fd >= 0)
            ::close(std::exchange(m_fd, -1));
    }

    quint16 port = 0;

private:
    int m_fd;
};

} // namespace

class tst_Proxy : public QObject
{
    Q_OBJECT

private:
    Backend m_backend; // shared by the tests that do not count or kill it
    QTemporaryDir m_dir;

    // `module` is the inside of the module's config table; the server's decision deadline is
    // 4 s, the module's timeout 1.5 s unless `module` says otherwise.
    static Mtw::Config serverConfig(const QString &module)
    {
        const QString text =
            u"[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = 2\nshutdown_timeout = 2\n"
            "decision_timeout_ms = 4000\nplugins_dir = \"%1\"\n\n"
            "[[modules]]\nname = \"mtw-proxy-http\"\n"
            "config = { backend_headers = { Authorization = \"Bearer ${MTW_TEST_BACKEND}\" }, "
            "%2 }\n"_s.arg(QStringLiteral(MTW_PROXY_PLUGIN_DIR), module);
        QProcessEnvironment env;
        env.insert(u"MTW_TEST_BACKEND"_s, BackendSecret);
        const Mtw::ConfigLoadResult loaded = Mtw::parseConfig(text, u"proxy.toml"_s, env);
        for (const Mtw::ConfigDiagnostic &diagnostic : loaded.diagnostics)
            qWarning().noquote() << diagnostic.toString();
        return loaded.config;
    }

    // Every proxy on, against m_backend.
    QString allProxies(const QString &more = {}) const
    {
        QString text = u"connect_url = \"%1\", subscribe_url = \"%2\", publish_url = \"%3\", "
                       "rpc_url = \"%4\", rpc_actions = [\"app.echo\", \"app.fail\", "
                       "\"app.broken\", \"app.slow\"], timeout_ms = 1500, "
                       "headers = [\"X-Tenant\"]"_s.arg(m_backend.url(u"/connect"_s),
                                                        m_backend.url(u"/subscribe"_s),
                                                        m_backend.url(u"/publish"_s),
                                                        m_backend.url(u"/rpc"_s));
        if (!more.isEmpty())
            text += u", "_s + more;
        return text;
    }

    static Mtw::ModuleStatus proxyStatus(const Mtw::Server &server)
    {
        const QList<Mtw::ModuleStatus> modules = server.modules();
        const auto it = std::find_if(modules.cbegin(), modules.cend(), [](const auto &status) {
            return status.metadata().id() == "mtw-proxy-http"_L1;
        });
        return it == modules.cend() ? Mtw::ModuleStatus{} : *it;
    }

    static QUrl wsUrl(const Mtw::Server &server)
    {
        return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
    }

    // Opens a socket (with the two extra upgrade headers) and sends connect c1 with `token`.
    static QJsonObject
    connectWith(TestClient &client, const Mtw::Server &server, const QString &token)
    {
        QNetworkRequest upgrade(wsUrl(server));
        upgrade.setRawHeader("X-Tenant", "acme");
        upgrade.setRawHeader("X-Private", "not for the backend");
        client.socket.open(upgrade);
        if (!QTest::qWaitFor([&] { return !client.received.isEmpty() || client.closed; }, 5000)
            || client.received.isEmpty()) {
            return {};
        }
        client.sendEnvelope(u"connect"_s,
                            u"c1"_s,
                            {{u"metadata"_s, QJsonObject{{u"token"_s, token}}}});
        return client.reply(u"c1"_s);
    }

    static bool open(TestClient &client, const Mtw::Server &server)
    {
        return client.open(wsUrl(server));
    }

    static QJsonObject
    send(TestClient &client, const QString &type, const QString &id, const QJsonObject &fields)
    {
        client.sendEnvelope(type, id, fields);
        return client.reply(id, 8000);
    }

    static QJsonObject rpc(TestClient &client, const QString &id, const QString &action)
    {
        return send(client,
                    u"request"_s,
                    id,
                    {{u"channel"_s, u"room.1"_s},
                     {u"metadata"_s, QJsonObject{{u"action"_s, action}}},
                     {u"payload"_s, jsonPayload(QJsonObject{{u"x"_s, 1}})}});
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(m_backend.start(), "python3 tests/integration/proxy_backend.py did not start");
    }

    // The backend says who the token belongs to: the ack names the user the backend made of it
    // (with the forwarded X-Tenant; X-Private is not on the allow-list: the backend refuses a
    // request that carries it), and the backend credential never reaches the log.
    void connectAllowed()
    {
        LogCapture logs;
        Mtw::Server server(serverConfig(allProxies()));
        QVERIFY(server.start());
        QCOMPARE(proxyStatus(server).state(), Mtw::ModuleState::Started);
        TestClient alice;
        const QJsonObject ack = connectWith(alice, server, u"user-alice"_s);
        QCOMPARE(errorOf(ack), u"ack"_s);
        QCOMPARE(ack.value("metadata"_L1).toObject().value("user_id"_L1).toString(),
                 u"alice@acme"_s);
        QVERIFY(!alice.closed);
        QCOMPARE(proxyStatus(server).health().status(), Mtw::HealthStatus::Healthy);
        QVERIFY(logs.count(u"mtw-proxy-http: connect -> "_s) == 1); // the start-up summary
        QCOMPARE(logs.count(BackendSecret), 0);
    }

    void connectRefused_data()
    {
        QTest::addColumn<QString>("token");
        QTest::addColumn<QString>("expected");
        QTest::newRow("backend code 403") << u"banned"_s << u"403 banned by the backend"_s;
        QTest::newRow("Centrifugo-style code: 401")
            << u"centrifugo-code"_s << u"401 custom refusal"_s;
        QTest::newRow("unknown token") << u"nope"_s << u"401 unknown token"_s;
    }

    // A refusal reaches the client with the backend's code and message; the socket closes 4001.
    void connectRefused()
    {
        QFETCH(QString, token);
        QFETCH(QString, expected);
        Mtw::Server server(serverConfig(allProxies()));
        QVERIFY(server.start());
        TestClient client;
        QCOMPARE(errorOf(connectWith(client, server, token)), expected);
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 4001);
    }

    void subscribeAndPublish()
    {
        Mtw::Server server(serverConfig(allProxies()));
        QVERIFY(server.start());
        TestClient reader;
        TestClient writer;
        QVERIFY(open(reader, server));
        QVERIFY(open(writer, server));

        // subscribe: allowed, refused with the backend's code and message
        for (const QString &channel : {u"news.1"_s, u"rewrite.1"_s}) {
            const QJsonObject reply =
                send(reader, u"subscribe"_s, u"s-"_s + channel, {{u"channel"_s, channel}});
            QCOMPARE(errorOf(reply), u"response"_s);
            QCOMPARE(dataOf(reply).value("subscribed"_L1).toString(), channel);
        }
        QCOMPARE(errorOf(send(reader, u"subscribe"_s, u"s3"_s, {{u"channel"_s, u"denied.1"_s}})),
                 u"403 no entry to denied.1"_s);
        // "disconnect": the refusal, then the connection closes
        TestClient kicked;
        QVERIFY(open(kicked, server));
        QCOMPARE(errorOf(send(kicked, u"subscribe"_s, u"k1"_s, {{u"channel"_s, u"kick.1"_s}})),
                 u"403 account suspended"_s);
        QVERIFY(kicked.waitClosed());

        // publish: allowed as sent, refused, rewritten by the backend
        const QJsonObject hello{{u"text"_s, u"hello"_s}};
        QCOMPARE(errorOf(send(writer,
                              u"publish"_s,
                              u"p1"_s,
                              {{u"channel"_s, u"news.1"_s}, {u"payload"_s, jsonPayload(hello)}})),
                 u"response"_s);
        QTRY_COMPARE_WITH_TIMEOUT(reader.ofType(u"publish"_s, u"news.1"_s).size(), 1, 5000);
        QCOMPARE(dataOf(reader.ofType(u"publish"_s, u"news.1"_s).constFirst()), hello);

        QCOMPARE(errorOf(send(writer,
                              u"publish"_s,
                              u"p2"_s,
                              {{u"channel"_s, u"denied.1"_s}, {u"payload"_s, jsonPayload(hello)}})),
                 u"403 read-only channel"_s);

        QCOMPARE(
            errorOf(send(writer,
                         u"publish"_s,
                         u"p3"_s,
                         {{u"channel"_s, u"rewrite.1"_s}, {u"payload"_s, jsonPayload(hello)}})),
            u"response"_s);
        QTRY_COMPARE_WITH_TIMEOUT(reader.ofType(u"publish"_s, u"rewrite.1"_s).size(), 1, 5000);
        const QJsonObject rewritten =
            dataOf(reader.ofType(u"publish"_s, u"rewrite.1"_s).constFirst());
        QCOMPARE(rewritten.value("rewritten"_L1).toBool(), true);
        QCOMPARE(rewritten.value("original"_L1).toObject(), hello);
        // Nothing else reached the reader: the refused publish was not delivered.
        QCOMPARE(reader.ofType(u"publish"_s).size(), 2);
    }

    void rpc_data()
    {
        QTest::addColumn<QString>("action");
        QTest::addColumn<QString>("expected");
        QTest::newRow("round trip") << u"app.echo"_s << u"response"_s;
        QTest::newRow("backend error") << u"app.fail"_s << u"409 conflict in the backend"_s;
        QTest::newRow("malformed answer")
            << u"app.broken"_s << u"502 backend error: its answer is malformed"_s;
        QTest::newRow("not in rpc_actions") << u"app.other"_s << u"404"_s;
    }

    void rpc()
    {
        QFETCH(QString, action);
        QFETCH(QString, expected);
        Mtw::Server server(serverConfig(allProxies()));
        QVERIFY(server.start());
        TestClient client;
        QJsonObject ack = connectWith(client, server, u"user-bob"_s);
        QCOMPARE(errorOf(ack), u"ack"_s);
        const QJsonObject reply = rpc(client, u"r1"_s, action);
        QVERIFY2(errorOf(reply).startsWith(expected), qPrintable(errorOf(reply)));
        if (action == "app.echo"_L1) {
            const QJsonObject data = dataOf(reply);
            QCOMPARE(data.value("echo"_L1).toObject(), (QJsonObject{{u"x"_s, 1}}));
            QCOMPARE(data.value("user"_L1).toString(), u"bob@acme"_s);
            QCOMPARE(data.value("channel"_L1).toString(), u"room.1"_s);
        }
    }

    // A backend slower than timeout_ms: the client hears 504 "backend timed out" (the module's
    // answer, before the server's 4 s deadline), and meanwhile the others are served.
    void slowBackend()
    {
        Mtw::Server server(serverConfig(allProxies()));
        QVERIFY(server.start());
        TestClient slow;
        TestClient quick;
        QVERIFY(open(slow, server));
        QVERIFY(open(quick, server));
        slow.sendEnvelope(u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"slow.1"_s}});
        slow.sendEnvelope(u"request"_s,
                          u"r1"_s,
                          {{u"metadata"_s, QJsonObject{{u"action"_s, u"app.slow"_s}}}});
        // Served while the slow ones wait.
        QCOMPARE(errorOf(send(quick, u"subscribe"_s, u"q1"_s, {{u"channel"_s, u"news.9"_s}})),
                 u"response"_s);
        QCOMPARE(errorOf(rpc(quick, u"q2"_s, u"app.echo"_s)), u"response"_s);
        QVERIFY(slow.reply(u"s1"_s, 0).isEmpty());
        QCOMPARE(errorOf(slow.reply(u"s1"_s, 8000)), u"504 backend timed out"_s);
        QCOMPARE(errorOf(slow.reply(u"r1"_s, 8000)), u"504 backend timed out"_s);
        // The slow client is still served.
        QCOMPARE(errorOf(send(slow, u"ping"_s, u"p1"_s, {})), u"pong"_s);
        QCOMPARE(proxyStatus(server).health().status(), Mtw::HealthStatus::Healthy);
    }

    // Nothing listens: 503 "backend unavailable", health degraded, one log line for the change
    // (not one per client); once the backend listens there, it is used again (and logged).
    void deadBackend()
    {
        DeadPort dead;
        const quint16 port = dead.port;
        QVERIFY(port != 0);
        const QString url = u"http://127.0.0.1:%1"_s.arg(port);
        LogCapture logs;
        Mtw::Server server(serverConfig(
            u"connect_url = \"%1/connect\", subscribe_url = \"%1/subscribe\""_s.arg(url)));
        QVERIFY(server.start());
        for (int i = 0; i < 3; ++i) {
            TestClient client;
            QCOMPARE(errorOf(connectWith(client, server, u"user-carol"_s)),
                     u"503 backend unavailable"_s);
            QVERIFY(client.waitClosed());
        }
        TestClient anonymous;
        QVERIFY(open(anonymous, server));
        QCOMPARE(errorOf(send(anonymous, u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"a.b"_s}})),
                 u"503 backend unavailable"_s);
        const Mtw::ModuleHealth health = proxyStatus(server).health();
        QCOMPARE(health.status(), Mtw::HealthStatus::Degraded);
        QVERIFY2(health.reason().contains(u"connect backend %1/connect unreachable"_s.arg(url)),
                 qPrintable(health.reason()));
        QVERIFY2(health.reason().contains(u"subscribe backend"_s), qPrintable(health.reason()));
        // (the server logs each refusal's detail too; the module's own line comes once)
        const QString once = u" - clients get 503 until it answers"_s;
        QCOMPARE(
            logs.count(
                u"connect backend %1/connect unreachable: Connection refused%2"_s.arg(url, once)),
            1);
        QCOMPARE(logs.count(u"subscribe backend %1/subscribe unreachable: Connection refused%2"_s
                                .arg(url, once)),
                 1);

        Backend revived;
        dead.release();
        QVERIFY(revived.start(port));
        TestClient carol;
        QCOMPARE(errorOf(connectWith(carol, server, u"user-carol"_s)), u"ack"_s);
        QTRY_COMPARE_WITH_TIMEOUT(
            logs.count(u"connect backend %1/connect answers again"_s.arg(url)),
            1,
            5000);
        // subscribe has not been asked since: still degraded, for that backend only
        QVERIFY(!proxyStatus(server).health().reason().contains(u"connect backend"_s));
        QCOMPARE(errorOf(send(carol, u"subscribe"_s, u"s2"_s, {{u"channel"_s, u"a.b"_s}})),
                 u"response"_s);
        QCOMPARE(proxyStatus(server).health().status(), Mtw::HealthStatus::Healthy);
    }

    // max_concurrent = 2, max_queue = 1: of five held calls sent at once, three are admitted
    // (two in flight, one waiting) and two get 503 at once; the backend never sees more than two
    // at a time.
    void maxConcurrent()
    {
        Backend counted;
        QVERIFY(counted.start());
        Mtw::Server server(serverConfig(
            u"rpc_url = \"%1\", rpc_actions = [\"app.hold\"], max_concurrent = 2, max_queue = 1, "
            "timeout_ms = 3000"_s.arg(counted.url(u"/rpc"_s))));
        QVERIFY(server.start());
        TestClient client;
        QVERIFY(open(client, server));
        for (int i = 0; i < 5; ++i) {
            client.sendEnvelope(u"request"_s,
                                u"h%1"_s.arg(i),
                                {{u"metadata"_s, QJsonObject{{u"action"_s, u"app.hold"_s}}}});
        }
        QStringList outcomes;
        for (int i = 0; i < 5; ++i)
            outcomes.append(errorOf(client.reply(u"h%1"_s.arg(i), 8000)));
        QCOMPARE(outcomes.count(u"response"_s), 3);
        QCOMPARE(outcomes.count(u"503 backend busy: too many requests waiting, try again later"_s),
                 2);
        const QJsonObject stats = counted.stats();
        QCOMPARE(stats.value("requests"_L1).toInt(), 3);
        QCOMPARE(stats.value("max_in_flight"_L1).toInt(), 2);
    }

    // https:// to a backend whose certificate the test made: trusted with ca_file, refused
    // (503, TLS fails) without.
    void tlsBackend()
    {
        const QString key = m_dir.filePath(u"backend.key"_s);
        const QString cert = m_dir.filePath(u"backend.pem"_s);
        QProcess openssl;
        openssl.setProcessChannelMode(QProcess::MergedChannels);
        openssl.start(u"openssl"_s,
                      {u"req"_s,
                       u"-x509"_s,
                       u"-newkey"_s,
                       u"ec"_s,
                       u"-pkeyopt"_s,
                       u"ec_paramgen_curve:prime256v1"_s,
                       u"-nodes"_s,
                       u"-keyout"_s,
                       key,
                       u"-out"_s,
                       cert,
                       u"-days"_s,
                       u"1"_s,
                       u"-subj"_s,
                       u"/CN=127.0.0.1"_s,
                       u"-addext"_s,
                       u"subjectAltName=IP:127.0.0.1"_s});
        QVERIFY(openssl.waitForFinished(30000));
        QVERIFY2(openssl.exitCode() == 0, openssl.readAll().constData());
        Backend secure;
        QVERIFY(secure.start(0, {cert, key}));
        const QString rpcUrl = secure.url(u"/rpc"_s, u"https"_s);
        {
            Mtw::Server server(serverConfig(
                u"rpc_url = \"%1\", rpc_actions = [\"app.echo\"], ca_file = \"%2\""_s.arg(rpcUrl,
                                                                                          cert)));
            QVERIFY(server.start());
            TestClient client;
            QVERIFY(open(client, server));
            const QJsonObject reply = rpc(client, u"r1"_s, u"app.echo"_s);
            QCOMPARE(errorOf(reply), u"response"_s);
            QCOMPARE(dataOf(reply).value("echo"_L1).toObject(), (QJsonObject{{u"x"_s, 1}}));
        }
        Mtw::Server untrusting(
            serverConfig(u"rpc_url = \"%1\", rpc_actions = [\"app.echo\"]"_s.arg(rpcUrl)));
        QVERIFY(untrusting.start());
        TestClient client;
        QVERIFY(open(client, untrusting));
        QCOMPARE(errorOf(rpc(client, u"r1"_s, u"app.echo"_s)), u"503 backend unavailable"_s);
        QCOMPARE(proxyStatus(untrusting).health().status(), Mtw::HealthStatus::Degraded);
    }

    // A bad value fails the module with an error naming key and value; the server serves on.
    void badConfig()
    {
        Mtw::Server server(serverConfig(
            u"connect_url = \"%1\", timeout_ms = 4000"_s.arg(m_backend.url(u"/connect"_s))));
        QVERIFY(server.start());
        const Mtw::ModuleStatus status = proxyStatus(server);
        QCOMPARE(status.state(), Mtw::ModuleState::Failed);
        QVERIFY2(status.error().contains(
                     u"timeout_ms must be an integer from 1 to 3999, got \"4000\""_s),
                 qPrintable(status.error()));
        TestClient client;
        QVERIFY(open(client, server));
        QCOMPARE(errorOf(send(client, u"ping"_s, u"p1"_s, {})), u"pong"_s);
    }
};

QTEST_GUILESS_MAIN(tst_Proxy)
#include "tst_proxy.moc"
