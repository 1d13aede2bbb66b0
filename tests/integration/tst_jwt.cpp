// SPDX-License-Identifier: MIT
// The mtw-auth-jwt plugin, loaded from its build directory by an in-process Mtw::Server and
// driven over real WebSockets: tokens from metadata.token, metadata.auth_token, ?token= and
// Authorization: Bearer; refusals (error 401 + close 4001); auth channels; `required`; a
// misconfigured module that fails while the server keeps serving; rotating keys from a JWKS
// served by a QTcpServer in this test.
#include "jwktestutil.h"
#include "testclient.h"
#include "testlogs.h"

#include <mtw/server.h>

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <algorithm>
#include <mutex>

using namespace Qt::StringLiterals;

namespace {

const QByteArray Secret = "integration-secret-0123456789abcdef0123456789";
const QString Issuer = u"https://issuer.example"_s;
const QString Audience = u"mtw"_s;

// How the client hands its token to the server.
enum class Via { MetadataToken, MetadataAuthToken, Query, Bearer };

QByteArray b64(const QByteArray &bytes)
{
    return bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QByteArray hmacSha256(const QByteArray &key, const QByteArray &data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(),
         key.constData(),
         int(key.size()),
         reinterpret_cast<const unsigned char *>(data.constData()),
         size_t(data.size()),
         mac,
         &length);
    return QByteArray(reinterpret_cast<const char *>(mac), int(length));
}

QByteArray rsaSha256(EVP_PKEY *key, const QByteArray &data)
{
    return JwkTest::signDigest(key, EVP_sha256(), data);
}

QJsonObject claimsFor(const QString &sub)
{
    const double now = double(QDateTime::currentSecsSinceEpoch());
    return {{u"sub"_s, sub},
            {u"iss"_s, Issuer},
            {u"aud"_s, Audience},
            {u"roles"_s, QJsonArray{u"member"_s}},
            {u"iat"_s, now},
            {u"exp"_s, now + 600}};
}

QByteArray hs256(const QJsonObject &claims, const QByteArray &secret = Secret)
{
    const QByteArray input = b64(R"({"alg":"HS256","typ":"JWT"})") + '.' + b64(compact(claims));
    return input + '.' + b64(hmacSha256(secret, input));
}

QJsonObject dataOf(const QJsonObject &message)
{
    return message.value("payload"_L1).toObject().value("data"_L1).toObject();
}

QJsonObject metadataOf(const QJsonObject &message)
{
    return message.value("metadata"_L1).toObject();
}

// A minimal HTTP/1.1 server on loopback: every request gets `status` and `body` (the key set the
// test swaps), then the connection is closed. It counts the requests it answered.
class JwksServer : public QObject
{
public:
    QTcpServer tcp;
    QByteArray body;
    int status = 200;
    int requests = 0;
    quint16 port = 0;

    JwksServer()
    {
        connect(&tcp, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = tcp.nextPendingConnection()) {
                connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { serve(socket); });
            }
        });
    }

    bool listen(quint16 wanted = 0)
    {
        if (!tcp.listen(QHostAddress::LocalHost, wanted))
            return false;
        port = tcp.serverPort();
        return true;
    }

    QString url() const { return u"http://127.0.0.1:%1/jwks.json"_s.arg(port); }

private:
    void serve(QTcpSocket *socket)
    {
        QByteArray request = socket->property("request").toByteArray() + socket->readAll();
        socket->setProperty("request", request);
        if (!request.contains("\r\n\r\n"))
            return;
        ++requests;
        socket->write("HTTP/1.1 " + QByteArray::number(status) + (status == 200 ? " OK" : " Error")
                      + "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        "Content-Length: "
                      + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        socket->disconnectFromHost();
    }
};

} // namespace

Q_DECLARE_METATYPE(Via)

class tst_Jwt : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::shared_ptr<EVP_PKEY> m_rsa;
    QString m_rsaPem;
    QString m_jwksFile;    // a key set with m_rsa as kid "file-key"
    QString m_badJwksFile; // a key set without a usable key

    // The module's config table for each kind of server the rows use.
    QString moduleConfig(const QString &kind) const
    {
        const QString claims = u"issuer = \"%1\", audience = \"%2\""_s.arg(Issuer, Audience);
        if (kind == "secret"_L1)
            return u"{ secret = \"${MTW_TEST_JWT_SECRET}\", %1 }"_s.arg(claims);
        if (kind == "rsa"_L1)
            return u"{ public_key_file = \"%1\", %2 }"_s.arg(m_rsaPem, claims);
        if (kind == "required"_L1)
            return u"{ secret = \"${MTW_TEST_JWT_SECRET}\", required = true, %1 }"_s.arg(claims);
        if (kind == "no exp allowed"_L1)
            return u"{ secret = \"${MTW_TEST_JWT_SECRET}\", allow_no_exp = true, %1 }"_s.arg(
                claims);
        if (kind == "jwks file"_L1)
            return u"{ secret = \"${MTW_TEST_JWT_SECRET}\", jwks_file = \"%1\", %2 }"_s.arg(
                m_jwksFile,
                claims);
        if (kind == "no secret"_L1)
            return u"{ secret = \"${MTW_TEST_JWT_UNSET}\", %1 }"_s.arg(claims);
        return kind; // a literal table
    }

    // A 2-worker loopback server that finds the plugin where the build put it, with an auth
    // channel pattern and a plain channel.
    Mtw::Config serverConfig(const QString &kind) const
    {
        const QString text =
            u"[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = 2\nshutdown_timeout = 2\n"
            "plugins_dir = \"%1\"\n\n"
            "[[modules]]\nname = \"mtw-auth-jwt\"\nconfig = %2\n\n"
            "[[channels]]\nname = \"secure.*\"\nauth = true\n\n"
            "[[channels]]\nname = \"lobby\"\n"_s.arg(QStringLiteral(MTW_JWT_PLUGIN_DIR),
                                                     moduleConfig(kind));
        QProcessEnvironment env;
        env.insert(u"MTW_TEST_JWT_SECRET"_s, QString::fromUtf8(Secret));
        const Mtw::ConfigLoadResult loaded = Mtw::parseConfig(text, u"jwt.toml"_s, env);
        for (const Mtw::ConfigDiagnostic &diagnostic : loaded.diagnostics)
            qWarning().noquote() << diagnostic.toString();
        return loaded.config;
    }

    static QUrl wsUrl(const Mtw::Server &server, const QByteArray &token = {})
    {
        QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
        if (!token.isEmpty())
            url.setQuery(u"token="_s + QString::fromLatin1(token));
        return url;
    }

    static Mtw::ModuleStatus jwtStatus(const Mtw::Server &server)
    {
        const QList<Mtw::ModuleStatus> modules = server.modules();
        const auto it = std::find_if(modules.cbegin(), modules.cend(), [](const auto &status) {
            return status.metadata().id() == "mtw-auth-jwt"_L1;
        });
        return it == modules.cend() ? Mtw::ModuleStatus{} : *it;
    }

    // Opens the socket, handing over `token` in the upgrade when `via` says so, and sends
    // `connect` (id "c1", the token in its metadata when `via` says so). Returns the reply to c1.
    static QJsonObject
    connectWith(TestClient &client, const Mtw::Server &server, const QByteArray &token, Via via)
    {
        bool opened = false;
        if (via == Via::Query) {
            opened = client.open(wsUrl(server, token));
        } else if (via == Via::Bearer) {
            QNetworkRequest request(wsUrl(server));
            request.setRawHeader("Authorization", "Bearer " + token);
            client.socket.open(request);
            opened =
                QTest::qWaitFor([&] { return !client.received.isEmpty() || client.closed; }, 5000)
                && !client.received.isEmpty();
            if (opened)
                client.connId = dataOf(client.received.constFirst()).value("conn_id"_L1).toString();
        } else {
            opened = client.open(wsUrl(server));
        }
        if (!opened)
            return {};
        QJsonObject fields;
        if (!token.isEmpty() && via == Via::MetadataToken)
            fields.insert(u"metadata"_s, QJsonObject{{u"token"_s, QString::fromLatin1(token)}});
        else if (!token.isEmpty() && via == Via::MetadataAuthToken)
            fields.insert(u"metadata"_s,
                          QJsonObject{{u"auth_token"_s, QString::fromLatin1(token)}});
        client.sendEnvelope(u"connect"_s, u"c1"_s, fields);
        // A refused upgrade token closes the socket before `connect` is answered.
        QJsonObject reply;
        (void)QTest::qWaitFor(
            [&] {
                for (const QJsonObject &message : std::as_const(client.received)) {
                    if (message.value("ref_id"_L1).toString() == "c1"_L1) {
                        reply = message;
                        return true;
                    }
                }
                return client.closed;
            },
            5000);
        return reply;
    }

    static QJsonObject subscribe(TestClient &client, const QString &channel, const QString &id)
    {
        client.sendEnvelope(u"subscribe"_s, id, {{u"channel"_s, channel}});
        return client.reply(id);
    }

    static QJsonObject publish(TestClient &client, const QString &channel, const QString &id)
    {
        client.sendEnvelope(
            u"publish"_s,
            id,
            {{u"channel"_s, channel},
             {u"metadata"_s, QJsonObject{{u"user_id"_s, u"forged"_s}}},
             {u"payload"_s,
              QJsonObject{{u"kind"_s, u"Json"_s}, {u"data"_s, QJsonObject{{u"text"_s, id}}}}}});
        return client.reply(id);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_rsa.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(2048)), &EVP_PKEY_free);
        QVERIFY(m_rsa);
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
        QVERIFY(PEM_write_bio_PUBKEY(bio.get(), m_rsa.get()) == 1);
        char *pem = nullptr;
        const long length = BIO_get_mem_data(bio.get(), &pem);
        m_rsaPem = m_dir.filePath(u"rsa.pem"_s);
        QFile file(m_rsaPem);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(pem, length), qint64(length));

        const auto write = [this](const QString &name, const QByteArray &bytes) {
            QFile out(m_dir.filePath(name));
            return out.open(QIODevice::WriteOnly) && out.write(bytes) == bytes.size()
                ? out.fileName()
                : QString();
        };
        m_jwksFile =
            write(u"jwks.json"_s, JwkTest::jwks({JwkTest::jwkFor(m_rsa.get(), u"file-key"_s)}));
        m_badJwksFile =
            write(u"bad-jwks.json"_s,
                  JwkTest::jwks({QJsonObject{{u"kty"_s, u"oct"_s}, {u"k"_s, u"AA"_s}}}));
        QVERIFY(!m_jwksFile.isEmpty() && !m_badJwksFile.isEmpty());
    }

    static QByteArray rs256(EVP_PKEY *key, const QString &kid, const QString &sub)
    {
        return JwkTest::token(key, u"RS256"_s, kid, claimsFor(sub));
    }

    // Connects a new client with this token and returns the reply type ("ack" or "error") and,
    // for an error, its message.
    static QString attempt(const Mtw::Server &server, const QByteArray &token)
    {
        TestClient client;
        const QJsonObject reply = connectWith(client, server, token, Via::MetadataToken);
        const QString type = reply.value("type"_L1).toString();
        return type == "error"_L1 ? type + u": "_s + dataOf(reply).value("message"_L1).toString()
                                  : type;
    }

    static bool stillConnected(TestClient &client, const QString &pingId)
    {
        client.sendEnvelope(u"ping"_s, pingId);
        return client.reply(pingId).value("type"_L1).toString() == "pong"_L1 && !client.closed;
    }

    void moduleStarted()
    {
        Mtw::Server server(serverConfig(u"secret"_s));
        QVERIFY(server.start());
        const Mtw::ModuleStatus status = jwtStatus(server);
        QCOMPARE(status.state(), Mtw::ModuleState::Started);
        QCOMPARE(status.metadata().version(), u"1.3.0"_s);
        QCOMPARE(status.metadata().name(), u"JWT authentication"_s);
        QCOMPARE(status.metadata().kind(), u"auth"_s);
        QVERIFY2(status.path().endsWith(u"/mtw-auth-jwt.so"_s), qPrintable(status.path()));
        QCOMPARE(status.health().status(), Mtw::HealthStatus::Healthy);
        QVERIFY(status.error().isEmpty());
    }

    void accepted_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QByteArray>("token");
        QTest::addColumn<Via>("via");

        const QByteArray alice = hs256(claimsFor(u"alice"_s));
        QTest::newRow("metadata.token") << u"secret"_s << alice << Via::MetadataToken;
        QTest::newRow("metadata.auth_token") << u"secret"_s << alice << Via::MetadataAuthToken;
        QTest::newRow("?token=") << u"secret"_s << alice << Via::Query;
        QTest::newRow("Authorization: Bearer") << u"secret"_s << alice << Via::Bearer;
        QTest::newRow("required, metadata.token") << u"required"_s << alice << Via::MetadataToken;
        QJsonObject withoutExp = claimsFor(u"alice"_s);
        withoutExp.remove(u"exp"_s);
        QTest::newRow("jwks_file, RS256 with its kid")
            << u"jwks file"_s << rs256(m_rsa.get(), u"file-key"_s, u"alice"_s)
            << Via::MetadataToken;
        QTest::newRow("no exp, allow_no_exp = true")
            << u"no exp allowed"_s << hs256(withoutExp) << Via::MetadataToken;
    }

    // Authenticated: the connect ack names the user, auth channels open, and publishes reach
    // others stamped with metadata.user_id = sub (a client-supplied user_id is overwritten).
    void accepted()
    {
        QFETCH(QString, kind);
        QFETCH(QByteArray, token);
        QFETCH(Via, via);
        Mtw::Server server(serverConfig(kind));
        QVERIFY(server.start());
        QCOMPARE(jwtStatus(server).state(), Mtw::ModuleState::Started);

        TestClient alice;
        const QJsonObject ack = connectWith(alice, server, token, via);
        QCOMPARE(ack.value("type"_L1).toString(), u"ack"_s);
        QCOMPARE(ack.value("ref_id"_L1).toString(), u"c1"_s);
        QCOMPARE(dataOf(ack).value("conn_id"_L1).toString(), alice.connId);
        QCOMPARE(metadataOf(ack).value("user_id"_L1).toString(), u"alice"_s);

        TestClient bob;
        const QJsonObject bobAck =
            connectWith(bob, server, hs256(claimsFor(u"bob"_s)), Via::MetadataToken);
        QCOMPARE(bobAck.value("type"_L1).toString(), u"ack"_s);

        for (TestClient *client : {&alice, &bob}) {
            const QJsonObject subscribed = subscribe(*client, u"secure.x"_s, u"s1"_s);
            QCOMPARE(subscribed.value("type"_L1).toString(), u"response"_s);
            QCOMPARE(dataOf(subscribed).value("subscribed"_L1).toString(), u"secure.x"_s);
        }
        const QJsonObject published = publish(alice, u"secure.x"_s, u"p1"_s);
        QCOMPARE(published.value("type"_L1).toString(), u"response"_s);
        QCOMPARE(dataOf(published).value("recipients"_L1).toInt(), 1);
        QTRY_COMPARE(bob.ofType(u"publish"_s, u"secure.x"_s).size(), 1);
        const QJsonObject delivered = bob.ofType(u"publish"_s, u"secure.x"_s).constFirst();
        QCOMPARE(metadataOf(delivered).value("user_id"_L1).toString(), u"alice"_s);
        QCOMPARE(metadataOf(delivered).value("from"_L1).toString(), alice.connId);
        QCOMPARE(dataOf(delivered).value("text"_L1).toString(), u"p1"_s);
        QVERIFY(!alice.closed);
        QVERIFY(!bob.closed);
    }

    void refused_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QByteArray>("token");
        QTest::addColumn<Via>("via");
        QTest::addColumn<QString>("message"); // the start of the error message

        const QJsonObject claims = claimsFor(u"mallory"_s);
        const auto set = [&](const QString &key, const QJsonValue &value) {
            QJsonObject changed = claims;
            changed.insert(key, value);
            return changed;
        };
        const double now = double(QDateTime::currentSecsSinceEpoch());
        const QByteArray expired = hs256(set(u"exp"_s, now - 120));
        QJsonObject withoutExp = claims;
        withoutExp.remove(u"exp"_s);
        const QByteArray noExp = hs256(withoutExp);
        const QByteArray wrongSignature =
            hs256(claims, "another-secret-0123456789abcdef0123456789");
        const QByteArray none =
            b64(R"({"alg":"none","typ":"JWT"})") + '.' + b64(compact(claims)) + '.';
        // An HS256 token whose HMAC key is the server's RSA public key (PEM bytes).
        QFile pem(m_rsaPem);
        QVERIFY(pem.open(QIODevice::ReadOnly));
        const QByteArray confused = hs256(claims, pem.readAll());
        const QByteArray rsInput =
            b64(R"({"alg":"RS256","typ":"JWT"})") + '.' + b64(compact(claims));
        const QByteArray rs256 = rsInput + '.' + b64(rsaSha256(m_rsa.get(), rsInput));

        QTest::newRow("expired") << u"secret"_s << expired << Via::MetadataToken
                                 << u"token expired"_s;
        QTest::newRow("no exp") << u"secret"_s << noExp << Via::MetadataToken
                                << u"token has no expiry (exp)"_s;
        QTest::newRow("no exp in ?token=")
            << u"secret"_s << noExp << Via::Query << u"token has no expiry (exp)"_s;
        QTest::newRow("wrong signature")
            << u"secret"_s << wrongSignature << Via::MetadataToken << u"invalid token signature"_s;
        QTest::newRow("alg none") << u"secret"_s << none << Via::MetadataAuthToken
                                  << u"algorithm 'none' is not allowed"_s;
        QTest::newRow("HS256 signed with the RSA public key")
            << u"rsa"_s << confused << Via::MetadataToken << u"algorithm 'HS256' is not allowed"_s;
        QTest::newRow("RS256 to an HMAC server")
            << u"secret"_s << rs256 << Via::MetadataToken << u"algorithm 'RS256' is not allowed"_s;
        QTest::newRow("wrong issuer")
            << u"secret"_s << hs256(set(u"iss"_s, u"https://evil.example"_s)) << Via::MetadataToken
            << u"token issuer mismatch"_s;
        QTest::newRow("wrong audience") << u"secret"_s << hs256(set(u"aud"_s, u"other"_s))
                                        << Via::MetadataToken << u"token audience mismatch"_s;
        QTest::newRow("garbage") << u"secret"_s << QByteArray("not-a-jwt") << Via::MetadataToken
                                 << u"malformed token"_s;
        QTest::newRow("expired in ?token=")
            << u"secret"_s << expired << Via::Query << u"token expired"_s;
        QTest::newRow("wrong signature in Bearer")
            << u"secret"_s << wrongSignature << Via::Bearer << u"invalid token signature"_s;
    }

    // Refused: `error` 401 (with ref_id = the connect id when the token came in `connect`), then
    // close code 4001, and the server records DisconnectReason Error("authentication failed").
    void refused()
    {
        QFETCH(QString, kind);
        QFETCH(QByteArray, token);
        QFETCH(Via, via);
        QFETCH(QString, message);
        Mtw::Server server(serverConfig(kind));
        QVERIFY(server.start());
        QCOMPARE(jwtStatus(server).state(), Mtw::ModuleState::Started);
        QSignalSpy closedSpy(&server, &Mtw::Server::connectionClosed);

        TestClient client;
        (void)connectWith(client, server, token, via);
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 4001);

        const QList<QJsonObject> errors = client.ofType(u"error"_s);
        QCOMPARE(errors.size(), 1);
        const QJsonObject error = errors.constFirst();
        QCOMPARE(dataOf(error).value("code"_L1).toInt(), 401);
        QVERIFY2(dataOf(error).value("message"_L1).toString().startsWith(message),
                 qPrintable(dataOf(error).value("message"_L1).toString()));
        const bool inConnect = via == Via::MetadataToken || via == Via::MetadataAuthToken;
        QCOMPARE(error.value("ref_id"_L1).toString(), inConnect ? u"c1"_s : QString());
        QVERIFY(client.ofType(u"ack"_s).size() == 1); // only the opening ack, never the connect's

        QTRY_COMPARE(closedSpy.size(), 1);
        QCOMPARE(closedSpy.at(0).at(0).toString(), client.connId);
        QCOMPARE(closedSpy.at(0).at(1).value<Mtw::DisconnectReason>(),
                 Mtw::DisconnectReason::error(u"authentication failed"_s));
    }

    // No token: the connection works but auth channels answer 401.
    void anonymous()
    {
        Mtw::Server server(serverConfig(u"secret"_s));
        QVERIFY(server.start());
        TestClient client;
        const QJsonObject ack = connectWith(client, server, {}, Via::MetadataToken);
        QCOMPARE(ack.value("type"_L1).toString(), u"ack"_s);
        QVERIFY(!metadataOf(ack).contains("user_id"_L1));

        const QJsonObject refused = subscribe(client, u"secure.x"_s, u"s1"_s);
        QCOMPARE(refused.value("type"_L1).toString(), u"error"_s);
        QCOMPARE(dataOf(refused).value("code"_L1).toInt(), 401);
        QCOMPARE(subscribe(client, u"lobby"_s, u"s2"_s).value("type"_L1).toString(), u"response"_s);
        QCOMPARE(publish(client, u"lobby"_s, u"p1"_s).value("type"_L1).toString(), u"response"_s);
        QVERIFY(!client.closed);
    }

    // required = true: anonymous clients may not subscribe, publish or request anything.
    void requiredRefusesAnonymous()
    {
        Mtw::Server server(serverConfig(u"required"_s));
        QVERIFY(server.start());
        TestClient client;
        QCOMPARE(connectWith(client, server, {}, Via::MetadataToken).value("type"_L1).toString(),
                 u"ack"_s);
        const QList<QJsonObject> replies{
            subscribe(client, u"lobby"_s, u"s1"_s),
            publish(client, u"lobby"_s, u"p1"_s),
            [&] {
                client.sendEnvelope(u"request"_s, u"r1"_s);
                return client.reply(u"r1"_s);
            }(),
        };
        for (const QJsonObject &reply : replies) {
            QCOMPARE(reply.value("type"_L1).toString(), u"error"_s);
            QCOMPARE(dataOf(reply).value("code"_L1).toInt(), 401);
            QCOMPARE(dataOf(reply).value("message"_L1).toString(),
                     u"authentication required: connect with a token"_s);
        }
        // Unsubscribing and pinging stay possible; the connection stays open.
        client.sendEnvelope(u"ping"_s, u"ping1"_s);
        QCOMPARE(client.reply(u"ping1"_s).value("type"_L1).toString(), u"pong"_s);
        QVERIFY(!client.closed);
    }

    // A module without key material, or with a bad value, fails at load with a clear message;
    // the server still serves.
    void missingSecretFailsModuleOnly_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("error");
        QTest::newRow("secret from an unset variable")
            << u"no secret"_s
            << u"mtw-auth-jwt: set secret, public_key_file, jwks_url or jwks_file (the value given "
               "is empty: is its environment variable set?)"_s;
        QTest::newRow("no key at all") << u"{ issuer = \"x\" }"_s
                                       << u"mtw-auth-jwt: set secret, public_key_file, jwks_url or "
                                          "jwks_file"_s;
        QTest::newRow("jwks_file without a usable key")
            << u"{ jwks_file = \"%1\" }"_s.arg(m_badJwksFile)
            << u"mtw-auth-jwt: jwks_file %1: no usable key in the set (key 0: unsupported kty "
               "'oct')"_s.arg(m_badJwksFile);
        QTest::newRow("jwks_url and public_key_file")
            << u"{ jwks_url = \"http://127.0.0.1:1/k\", public_key_file = \"/k.pem\" }"_s
            << u"mtw-auth-jwt: set public_key_file or jwks_url, not both (a key set already holds "
               "the public keys)"_s;
        QTest::newRow("jwks_min_refresh out of range")
            << u"{ jwks_url = \"http://127.0.0.1:1/k\", jwks_min_refresh = 0 }"_s
            << u"mtw-auth-jwt: jwks_min_refresh: expected whole seconds 1-3600, got \"0\""_s;
        QTest::newRow("missing key file")
            << u"{ public_key_file = \"/nonexistent/jwt.pem\" }"_s
            << u"mtw-auth-jwt: cannot read public_key_file /nonexistent/jwt.pem: No such file or "
               "directory"_s;
        QTest::newRow("allow_no_exp not a boolean")
            << u"{ secret = \"${MTW_TEST_JWT_SECRET}\", allow_no_exp = \"sometimes\" }"_s
            << u"mtw-auth-jwt: allow_no_exp: expected true or false, got \"sometimes\""_s;
    }

    void missingSecretFailsModuleOnly()
    {
        QFETCH(QString, kind);
        QFETCH(QString, error);
        Mtw::Server server(serverConfig(kind));
        QVERIFY(server.start());
        const Mtw::ModuleStatus status = jwtStatus(server);
        QCOMPARE(status.state(), Mtw::ModuleState::Failed);
        QCOMPARE(status.error(), error);

        TestClient listener;
        QVERIFY(listener.open(wsUrl(server)));
        QCOMPARE(subscribe(listener, u"lobby"_s, u"s1"_s).value("type"_L1).toString(),
                 u"response"_s);
        TestClient client;
        // With no authenticator the token is not checked: the client is simply anonymous.
        const QJsonObject ack =
            connectWith(client, server, hs256(claimsFor(u"alice"_s)), Via::MetadataToken);
        QCOMPARE(ack.value("type"_L1).toString(), u"ack"_s);
        QVERIFY(!metadataOf(ack).contains("user_id"_L1));
        const QJsonObject published = publish(client, u"lobby"_s, u"p1"_s);
        QCOMPARE(published.value("type"_L1).toString(), u"response"_s);
        QCOMPARE(dataOf(published).value("recipients"_L1).toInt(), 1);
        QTRY_COMPARE(listener.ofType(u"publish"_s, u"lobby"_s).size(), 1);
        QCOMPARE(dataOf(subscribe(client, u"secure.x"_s, u"s2"_s)).value("code"_L1).toInt(), 401);
    }

    // The same plugin instance serves a later server with another configuration: a failed
    // load must not leave the previous key accepting tokens.
    // The token of an open connection expires (exp plus the 30 s default leeway): the client is
    // told and closed with 4001. A fresh token sent with `connect` before keeps it open
    // (tst_hardening covers the refresh with a test authenticator).
    void expiringTokenClosesTheConnection()
    {
        Mtw::Server server(serverConfig(u"secret"_s));
        QVERIFY(server.start());
        QSignalSpy closed(&server, &Mtw::Server::connectionClosed);
        QJsonObject claims = claimsFor(u"erin"_s);
        claims.insert(u"exp"_s, double(QDateTime::currentSecsSinceEpoch()) - 28); // 2 s left
        TestClient erin;
        const QJsonObject ack = connectWith(erin, server, hs256(claims), Via::MetadataToken);
        QCOMPARE(ack.value("type"_L1).toString(), u"ack"_s);
        QVERIFY(erin.waitClosed(15000));
        QCOMPARE(erin.closeCode, 4001);
        const QJsonObject last = erin.received.constLast();
        QCOMPARE(last.value("type"_L1).toString(), u"error"_s);
        QCOMPARE(dataOf(last).value("message"_L1).toString(), u"token expired"_s);
        QCOMPARE(dataOf(last).value("code"_L1).toInt(), 401);
        QTRY_COMPARE(closed.size(), 1);
        QCOMPARE(closed.at(0).at(1).value<Mtw::DisconnectReason>(),
                 Mtw::DisconnectReason::error(u"token expired"_s));
    }

    // Rotating keys with connected clients: key A, then B only (the first token with kid B
    // waits for the refresh it triggers and is accepted; A is refused after it), the key server
    // down, then serving garbage: the last good set stays in use; then a good set again.
    // Connected clients never notice.
    void jwksRotation()
    {
        JwksServer http;
        QVERIFY(http.listen());
        const std::shared_ptr<EVP_PKEY> keyB(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                             &EVP_PKEY_free);
        QVERIFY(keyB);
        const QJsonObject jwkA = JwkTest::jwkFor(m_rsa.get(), u"A"_s);
        const QJsonObject jwkB = JwkTest::jwkFor(keyB.get(), u"B"_s);
        const auto es256 = [&](const QString &kid, const QString &sub) {
            return JwkTest::token(keyB.get(), u"ES256"_s, kid, claimsFor(sub));
        };
        http.body = JwkTest::jwks({jwkA});
        Mtw::Config config = serverConfig(
            u"{ jwks_url = \"%1\", jwks_refresh = 3600, jwks_min_refresh = 1 }"_s.arg(http.url()));
        // A held token waits up to 9/10 of this: longer than jwks_min_refresh, so every refresh
        // an unknown kid asks for answers it.
        config.server.decisionTimeoutMs = 4000;
        Mtw::Server server(config);
        QVERIFY(server.start());
        QCOMPARE(jwtStatus(server).state(), Mtw::ModuleState::Started);
        // The first fetch happens at start.
        QTRY_COMPARE(jwtStatus(server).health().status(), Mtw::HealthStatus::Healthy);
        QCOMPARE(http.requests, 1);

        TestClient alice;
        const QJsonObject ack =
            connectWith(alice, server, rs256(m_rsa.get(), u"A"_s, u"alice"_s), Via::MetadataToken);
        QCOMPARE(ack.value("type"_L1).toString(), u"ack"_s);
        QCOMPARE(metadataOf(ack).value("user_id"_L1).toString(), u"alice"_s);
        QCOMPARE(subscribe(alice, u"secure.x"_s, u"s1"_s).value("type"_L1).toString(),
                 u"response"_s);

        // Rotation: the issuer now publishes B only. The first token with kid B is unknown: the
        // client is held while the module refreshes (at most once a second), then accepted.
        http.body = JwkTest::jwks({jwkB});
        QCOMPARE(attempt(server, es256(u"B"_s, u"bob"_s)), u"ack"_s);
        QCOMPARE(http.requests, 2);
        TestClient bob;
        QCOMPARE(connectWith(bob, server, es256(u"B"_s, u"bob"_s), Via::MetadataToken)
                     .value("type"_L1)
                     .toString(),
                 u"ack"_s);
        // A is gone: new tokens with kid A are refused; alice, verified before, stays.
        QCOMPARE(attempt(server, rs256(m_rsa.get(), u"A"_s, u"carol"_s)),
                 u"error: unknown signing key (kid)"_s);
        QVERIFY(stillConnected(alice, u"ping1"_s));

        // The key server goes down: the fetch an unknown kid triggers fails, B still works.
        http.tcp.close();
        QCOMPARE(attempt(server, es256(u"C"_s, u"dave"_s)), u"error: unknown signing key (kid)"_s);
        QTRY_VERIFY_WITH_TIMEOUT(
            jwtStatus(server).health().reason().contains("ConnectionRefusedError"_L1),
            10000);
        QCOMPARE(jwtStatus(server).health().status(), Mtw::HealthStatus::Healthy);
        QCOMPARE(attempt(server, es256(u"B"_s, u"erin"_s)), u"ack"_s);

        // Back, but serving malformed JSON: still the last good set.
        const int before = http.requests;
        http.body = "{\"keys\": [";
        QVERIFY(http.listen(http.port));
        QTRY_VERIFY_WITH_TIMEOUT(
            http.requests > before
                && jwtStatus(server).health().reason().contains("malformed JSON"_L1),
            10000);
        QCOMPARE(attempt(server, es256(u"B"_s, u"frank"_s)), u"ack"_s);

        // A good set again (A and B): the module recovers and both kids verify.
        http.body = JwkTest::jwks({jwkA, jwkB});
        QVERIFY(QTest::qWaitFor(
            [&] { return attempt(server, rs256(m_rsa.get(), u"A"_s, u"gina"_s)) == "ack"_L1; },
            15000));
        QTRY_VERIFY(jwtStatus(server).health().reason().isEmpty());
        QCOMPARE(attempt(server, es256(u"B"_s, u"hank"_s)), u"ack"_s);

        // The clients connected before the rotations never noticed them.
        QVERIFY(stillConnected(alice, u"ping2"_s));
        QVERIFY(stillConnected(bob, u"ping3"_s));
        QVERIFY(alice.ofType(u"error"_s).isEmpty());
        QVERIFY(bob.ofType(u"error"_s).isEmpty());
    }

    // A held token's wait is bounded: when the refresh cannot run in time (jwks_min_refresh not
    // over yet), the client gets its 401 from the module before the server's decision deadline,
    // not a module timeout.
    void unknownKidWaitIsBounded()
    {
        JwksServer http;
        QVERIFY(http.listen());
        http.body = JwkTest::jwks({JwkTest::jwkFor(m_rsa.get(), u"A"_s)});
        Mtw::Config config = serverConfig(
            u"{ jwks_url = \"%1\", jwks_refresh = 3600, jwks_min_refresh = 3600 }"_s.arg(
                http.url()));
        // The module answers at 9/10 of it: 300 ms to spare on a loaded machine (sanitizers), and
        // well inside the test client's 5 s wait for the reply.
        config.server.decisionTimeoutMs = 3000;
        Mtw::Server server(config);
        QVERIFY(server.start());
        QTRY_COMPARE(jwtStatus(server).health().status(), Mtw::HealthStatus::Healthy);
        QSignalSpy moduleErrors(server.events(), &Mtw::ServerEvents::error);
        QCOMPARE(attempt(server, rs256(m_rsa.get(), u"Z"_s, u"zoe"_s)),
                 u"error: unknown signing key (kid)"_s);
        QCOMPARE(attempt(server, rs256(m_rsa.get(), u"A"_s, u"amy"_s)), u"ack"_s);
        QCOMPARE(http.requests, 1);        // rate-limited: no fetch for the unknown kid
        QCOMPARE(moduleErrors.count(), 0); // answered by the module, in time
    }

    // The key server is down at start: the module starts degraded, RS/ES tokens get 503, and it
    // retries with back-off until the server answers.
    void jwksUnavailableAtStart()
    {
        JwksServer http;
        QVERIFY(http.listen());
        http.tcp.close(); // a port nobody listens on, for now
        http.body = JwkTest::jwks({JwkTest::jwkFor(m_rsa.get(), u"A"_s)});
        Mtw::Server server(serverConfig(u"{ jwks_url = \"%1\" }"_s.arg(http.url())));
        QVERIFY(server.start());
        QCOMPARE(jwtStatus(server).state(), Mtw::ModuleState::Started);
        QTRY_COMPARE(jwtStatus(server).health().reason(),
                     u"no key set loaded yet from %1: ConnectionRefusedError"_s.arg(http.url()));
        QCOMPARE(jwtStatus(server).health().status(), Mtw::HealthStatus::Degraded);

        TestClient early;
        const QJsonObject refused =
            connectWith(early, server, rs256(m_rsa.get(), u"A"_s, u"alice"_s), Via::MetadataToken);
        QCOMPARE(refused.value("type"_L1).toString(), u"error"_s);
        QCOMPARE(dataOf(refused).value("code"_L1).toInt(), 503);
        QCOMPARE(dataOf(refused).value("message"_L1).toString(),
                 u"signing keys are not loaded yet; try again later"_s);

        QVERIFY(http.listen(http.port));
        QTRY_COMPARE_WITH_TIMEOUT(jwtStatus(server).health().status(),
                                  Mtw::HealthStatus::Healthy,
                                  15000);
        QCOMPARE(attempt(server, rs256(m_rsa.get(), u"A"_s, u"alice"_s)), u"ack"_s);
    }

    // jwks_file is re-read like a URL is fetched: a rotated file is picked up on an unknown
    // kid, a broken one keeps the last good set.
    void jwksFileRotation()
    {
        const QString path = m_dir.filePath(u"rotating-jwks.json"_s);
        const auto replace = [&](const QByteArray &bytes) {
            QFile::remove(path + u".new"_s);
            QFile file(path + u".new"_s);
            const bool written =
                file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
            file.close();
            QFile::remove(path);
            return written && QFile::rename(file.fileName(), path); // never read half-written
        };
        const std::shared_ptr<EVP_PKEY> keyB(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"),
                                             &EVP_PKEY_free);
        QVERIFY(keyB);
        const auto es384 = [&](const QString &kid, const QString &sub) {
            return JwkTest::token(keyB.get(), u"ES384"_s, kid, claimsFor(sub));
        };
        QVERIFY(replace(JwkTest::jwks({JwkTest::jwkFor(m_rsa.get(), u"A"_s)})));
        Mtw::Server server(serverConfig(
            u"{ jwks_file = \"%1\", jwks_min_refresh = 1, jwks_refresh = 3600 }"_s.arg(path)));
        QVERIFY(server.start());
        QCOMPARE(jwtStatus(server).health().status(), Mtw::HealthStatus::Healthy);
        TestClient alice;
        QCOMPARE(connectWith(alice, server, rs256(m_rsa.get(), u"A"_s, u"alice"_s), Via::Query)
                     .value("type"_L1)
                     .toString(),
                 u"ack"_s);

        QVERIFY(replace(JwkTest::jwks({JwkTest::jwkFor(keyB.get(), u"B"_s)})));
        QVERIFY(
            QTest::qWaitFor([&] { return attempt(server, es384(u"B"_s, u"bob"_s)) == "ack"_L1; },
                            10000));
        QCOMPARE(attempt(server, rs256(m_rsa.get(), u"A"_s, u"carol"_s)),
                 u"error: unknown signing key (kid)"_s);

        QVERIFY(replace("{\"keys\": [}"));
        QVERIFY(QTest::qWaitFor(
            [&] {
                (void)attempt(server, es384(u"C"_s, u"dave"_s)); // unknown: re-read the file
                return jwtStatus(server).health().reason().contains("malformed JSON"_L1);
            },
            10000));
        QCOMPARE(attempt(server, es384(u"B"_s, u"erin"_s)), u"ack"_s);
        QVERIFY(stillConnected(alice, u"ping1"_s));
    }

    // Credentials in jwks_url never reach the log or the health text; a key the module skips
    // (use = "enc") is logged once per new set, not at every refresh.
    void jwksLogging()
    {
        LogCapture log;
        JwksServer http;
        QVERIFY(http.listen());
        const QJsonObject encryption = [&] {
            QJsonObject jwk = JwkTest::jwkFor(m_rsa.get(), u"enc-key"_s);
            jwk.insert(u"use"_s, u"enc"_s);
            return jwk;
        }();
        http.body = JwkTest::jwks({JwkTest::jwkFor(m_rsa.get(), u"A"_s), encryption});
        const QString url =
            u"http://jwks-user:hunter2@127.0.0.1:%1/jwks.json?api_key=hunter2"_s.arg(http.port);
        Mtw::Server server(serverConfig(u"{ jwks_url = \"%1\", jwks_refresh = 1 }"_s.arg(url)));
        QVERIFY(server.start());
        QTRY_VERIFY_WITH_TIMEOUT(http.requests >= 2, 10000); // the same set twice
        QCOMPARE(log.count(u"skips key 'enc-key': use 'enc' is not 'sig'"_s), 1);
        QCOMPARE(log.count(u"loaded: A"_s), 1);
        QCOMPARE(attempt(server, rs256(m_rsa.get(), u"A"_s, u"alice"_s)), u"ack"_s);

        http.status = 500;
        QTRY_VERIFY_WITH_TIMEOUT(jwtStatus(server).health().reason().contains("HTTP status 500"_L1),
                                 10000);
        const int failedSoFar = http.requests;
        QTRY_VERIFY_WITH_TIMEOUT(http.requests >= failedSoFar + 1, 10000); // failed again
        QCOMPARE(log.count(u"failed: HTTP status 500; keeping the last good set"_s), 1);
        QCOMPARE(log.count(u"http://127.0.0.1:%1/jwks.json"_s.arg(http.port)) > 0, true);
        for (const QString &line : log.lines())
            QVERIFY2(!line.contains("hunter2"_L1) && !line.contains("jwks-user"_L1),
                     qPrintable(line));
        QVERIFY(!jwtStatus(server).health().reason().contains("hunter2"_L1));
    }

    void reloadAfterFailure()
    {
        {
            Mtw::Server first(serverConfig(u"secret"_s));
            QVERIFY(first.start());
            QCOMPARE(jwtStatus(first).state(), Mtw::ModuleState::Started);
        }
        {
            Mtw::Server failed(serverConfig(u"no secret"_s));
            QVERIFY(failed.start());
            QCOMPARE(jwtStatus(failed).state(), Mtw::ModuleState::Failed);
        }
        Mtw::Server rsa(serverConfig(u"rsa"_s));
        QVERIFY(rsa.start());
        QCOMPARE(jwtStatus(rsa).state(), Mtw::ModuleState::Started);
        TestClient client;
        const QJsonObject reply =
            connectWith(client, rsa, hs256(claimsFor(u"alice"_s)), Via::MetadataToken);
        QCOMPARE(reply.value("type"_L1).toString(), u"error"_s);
        QCOMPARE(dataOf(reply).value("message"_L1).toString(),
                 u"algorithm 'HS256' is not allowed"_s);
    }
};

QTEST_GUILESS_MAIN(tst_Jwt)
#include "tst_jwt.moc"
