// SPDX-License-Identifier: MIT
// JwtVerifier without a server: tokens signed here with freshly generated keys (HS*, RS256,
// ES256/384), interop vectors signed by Node's crypto (tests/data/jwt), every refusal the module
// promises, config parsing and random input.
#include "jwktestutil.h"
#include "jwtverifier.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <limits>
#include <map>
#include <thread>

using namespace Qt::StringLiterals;
using Mtw::AuthJwt::JwkSet;
using Mtw::AuthJwt::JwtSettings;
using Mtw::AuthJwt::JwtVerifier;

namespace {

constexpr qint64 Now = 1700000100; // inside the validity of the interop tokens

using PKey = std::shared_ptr<EVP_PKEY>;

QByteArray b64(const QByteArray &bytes)
{
    return bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

PKey generateRsa()
{
    return PKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(2048)), &EVP_PKEY_free);
}

PKey generateEc(const char *curve)
{
    return PKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve), &EVP_PKEY_free);
}

QByteArray bioContents(BIO *bio)
{
    char *data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    return QByteArray(data, qsizetype(length));
}

QByteArray publicPem(EVP_PKEY *key)
{
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key);
    return bioContents(bio.get());
}

QByteArray selfSignedCertificatePem(EVP_PKEY *key)
{
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME *name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name,
                               "CN",
                               MBSTRING_ASC,
                               reinterpret_cast<const unsigned char *>("idp"),
                               -1,
                               -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    X509_sign(cert.get(), key, EVP_sha256());
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_X509(bio.get(), cert.get());
    return bioContents(bio.get());
}

QByteArray hmac(const EVP_MD *digest, const QByteArray &key, const QByteArray &data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(digest,
         key.constData(),
         int(key.size()),
         reinterpret_cast<const unsigned char *>(data.constData()),
         size_t(data.size()),
         mac,
         &length);
    return QByteArray(reinterpret_cast<const char *>(mac), int(length));
}

// The signature as OpenSSL makes it (DER for ECDSA).
QByteArray signWithKey(EVP_PKEY *key, const EVP_MD *digest, const QByteArray &data)
{
    return JwkTest::signDigest(key, digest, data);
}

QByteArray derToJose(const QByteArray &der, int half)
{
    const auto *p = reinterpret_cast<const unsigned char *>(der.constData());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
        d2i_ECDSA_SIG(nullptr, &p, der.size()),
        &ECDSA_SIG_free);
    const BIGNUM *r = nullptr;
    const BIGNUM *s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    QByteArray out(2 * half, '\0');
    auto *bytes = reinterpret_cast<unsigned char *>(out.data());
    BN_bn2binpad(r, bytes, half);
    BN_bn2binpad(s, bytes + half, half);
    return out;
}

QJsonObject baseClaims()
{
    return {{u"sub"_s, u"alice"_s}, {u"iat"_s, double(Now)}, {u"exp"_s, double(Now + 3600)}};
}

// `object` with `key` set to `value`, or removed when `value` is null.
QJsonObject with(QJsonObject object, const QString &key, const QJsonValue &value)
{
    if (value.isNull() || value.isUndefined())
        object.remove(key);
    else
        object.insert(key, value);
    return object;
}

QVariantMap merged(QVariantMap map, const QVariantMap &more)
{
    for (auto it = more.cbegin(); it != more.cend(); ++it)
        map.insert(it.key(), it.value());
    return map;
}

} // namespace

class tst_JwtVerifier : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    const QByteArray m_secret = "0123456789abcdef0123456789abcdef-test-secret";
    PKey m_rsa;
    PKey m_otherRsa;
    PKey m_ec;
    PKey m_ec384;
    QString m_rsaPem;
    QString m_ecPem;
    QString m_ec384Pem;
    QString m_certPem;
    QString m_notPem;
    QJsonObject m_interop;
    std::map<QString, std::shared_ptr<const JwtVerifier>> m_verifiers;

    QString writeFile(const QString &name, const QByteArray &bytes)
    {
        const QString path = m_dir.filePath(name);
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size())
            return {};
        return path;
    }

    // Signs "header.payload" the way `alg` says, with this test's keys.
    QByteArray signature(const QString &alg, const QByteArray &input) const
    {
        if (alg == "HS256"_L1)
            return hmac(EVP_sha256(), m_secret, input);
        if (alg == "HS384"_L1)
            return hmac(EVP_sha384(), m_secret, input);
        if (alg == "HS512"_L1)
            return hmac(EVP_sha512(), m_secret, input);
        if (alg == "RS256"_L1)
            return signWithKey(m_rsa.get(), EVP_sha256(), input);
        if (alg == "ES256"_L1)
            return derToJose(signWithKey(m_ec.get(), EVP_sha256(), input), 32);
        if (alg == "ES384"_L1)
            return derToJose(signWithKey(m_ec384.get(), EVP_sha384(), input), 48);
        return {};
    }

    QByteArray token(const QJsonObject &claims,
                     const QString &alg = u"HS256"_s,
                     const QJsonObject &extraHeader = {}) const
    {
        QJsonObject header{{u"alg"_s, alg}, {u"typ"_s, u"JWT"_s}};
        for (auto it = extraHeader.begin(); it != extraHeader.end(); ++it)
            header.insert(it.key(), it.value());
        const QByteArray input = b64(compact(header)) + '.' + b64(compact(claims));
        return input + '.' + b64(signature(alg, input));
    }

    std::shared_ptr<const JwtVerifier> makeVerifier(const QVariantMap &config)
    {
        const auto settings = JwtSettings::fromConfig(config);
        if (!settings) {
            qWarning() << settings.error().message;
            return {};
        }
        auto verifier = JwtVerifier::create(*settings, [] { return Now; });
        if (!verifier) {
            qWarning() << verifier.error().message;
            return {};
        }
        return *verifier;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_rsa = generateRsa();
        m_otherRsa = generateRsa();
        m_ec = generateEc("P-256");
        m_ec384 = generateEc("P-384");
        QVERIFY(m_rsa && m_otherRsa && m_ec && m_ec384);
        m_rsaPem = writeFile(u"rsa.pem"_s, publicPem(m_rsa.get()));
        m_ecPem = writeFile(u"ec.pem"_s, publicPem(m_ec.get()));
        m_ec384Pem = writeFile(u"ec384.pem"_s, publicPem(m_ec384.get()));
        m_certPem = writeFile(u"cert.pem"_s, selfSignedCertificatePem(m_rsa.get()));
        m_notPem = writeFile(u"garbage.pem"_s, "-----BEGIN PUBLIC KEY-----\nAAAA\n");
        QVERIFY(!m_rsaPem.isEmpty() && !m_ecPem.isEmpty() && !m_certPem.isEmpty());

        QFile vectors(QStringLiteral(MTW_TEST_DATA_DIR "/jwt/tokens.json"));
        QVERIFY2(vectors.open(QIODevice::ReadOnly), qPrintable(vectors.fileName()));
        m_interop = QJsonDocument::fromJson(vectors.readAll()).object();
        QVERIFY(!m_interop.isEmpty());

        const QVariantMap secret{{u"secret"_s, QString::fromUtf8(m_secret)}};
        const auto add = [this](const QString &name, const QVariantMap &config) {
            m_verifiers[name] = makeVerifier(config);
            return bool(m_verifiers[name]);
        };
        QVERIFY(add(u"hs"_s, secret));
        QVERIFY(
            add(u"hs-claims"_s,
                merged(secret,
                       {{u"issuer"_s, u"https://issuer.example"_s}, {u"audience"_s, u"mtw"_s}})));
        QVERIFY(add(u"hs-leeway0"_s, merged(secret, {{u"leeway"_s, 0}})));
        QVERIFY(add(u"hs-no-exp"_s, merged(secret, {{u"allow_no_exp"_s, true}})));
        QVERIFY(
            add(u"hs256-only"_s, merged(secret, {{u"algorithms"_s, QVariantList{u"HS256"_s}}})));
        QVERIFY(add(u"rsa"_s, {{u"public_key_file"_s, m_rsaPem}}));
        QVERIFY(add(u"cert"_s, {{u"public_key_file"_s, m_certPem}}));
        QVERIFY(add(u"ec"_s, {{u"public_key_file"_s, m_ecPem}}));
        QVERIFY(add(u"ec384"_s, {{u"public_key_file"_s, m_ec384Pem}}));
        QVERIFY(add(u"hs+rsa"_s,
                    merged(secret,
                           {{u"public_key_file"_s, m_rsaPem},
                            {u"algorithms"_s, QVariantList{u"HS256"_s, u"RS256"_s}}})));
        const QVariantMap interop{{u"issuer"_s, u"https://idp.example"_s},
                                  {u"audience"_s, u"mtw"_s}};
        QVERIFY(add(u"interop-hs"_s,
                    merged(interop, {{u"secret"_s, m_interop.value("secret"_L1).toString()}})));
        QVERIFY(add(u"interop-rs"_s,
                    merged(interop,
                           {{u"public_key_file"_s,
                             QStringLiteral(MTW_TEST_DATA_DIR "/jwt/rs256.pub.pem")}})));
        QVERIFY(add(u"interop-es"_s,
                    merged(interop,
                           {{u"public_key_file"_s,
                             QStringLiteral(MTW_TEST_DATA_DIR "/jwt/es256.pub.pem")}})));
    }

    void verify_data()
    {
        QTest::addColumn<QString>("verifier");
        QTest::addColumn<QByteArray>("token");
        QTest::addColumn<QString>("error"); // empty: accepted; otherwise the message's start
        QTest::addColumn<QString>("sub");

        const QJsonObject claims = baseClaims();
        const auto row = [](const char *name,
                            const QString &verifier,
                            const QByteArray &token,
                            const QString &error,
                            const QString &sub = u"alice"_s) {
            QTest::newRow(name) << verifier << token << error << sub;
        };

        // Accepted
        row("HS256", u"hs"_s, token(claims, u"HS256"_s), {});
        row("HS384", u"hs"_s, token(claims, u"HS384"_s), {});
        row("HS512", u"hs"_s, token(claims, u"HS512"_s), {});
        row("RS256", u"rsa"_s, token(claims, u"RS256"_s), {});
        row("RS256 key from a certificate", u"cert"_s, token(claims, u"RS256"_s), {});
        row("ES256", u"ec"_s, token(claims, u"ES256"_s), {});
        row("ES384", u"ec384"_s, token(claims, u"ES384"_s), {});
        row("HS256 with both keys", u"hs+rsa"_s, token(claims, u"HS256"_s), {});
        row("RS256 with both keys", u"hs+rsa"_s, token(claims, u"RS256"_s), {});
        row("no exp", u"hs"_s, token(with(claims, u"exp"_s, {})), u"token has no expiry (exp)"_s);
        row("no exp, allow_no_exp", u"hs-no-exp"_s, token(with(claims, u"exp"_s, {})), {});
        row("exp, allow_no_exp", u"hs-no-exp"_s, token(claims), {});
        row("expired, allow_no_exp",
            u"hs-no-exp"_s,
            token(with(claims, u"exp"_s, double(Now - 31))),
            u"token expired"_s);
        row("no exp, but no sub either",
            u"hs"_s,
            token(with(with(claims, u"exp"_s, {}), u"sub"_s, {})),
            u"token has no expiry (exp)"_s);
        row("numeric sub", u"hs"_s, token(with(claims, u"sub"_s, 42)), {}, u"42"_s);
        row("typ absent",
            u"hs"_s,
            [&] {
                const QByteArray input = b64(R"({"alg":"HS256"})") + '.' + b64(compact(claims));
                return input + '.' + b64(hmac(EVP_sha256(), m_secret, input));
            }(),
            {});

        // Time
        row("expired",
            u"hs"_s,
            token(with(claims, u"exp"_s, double(Now - 31))),
            u"token expired"_s);
        row("expired at the leeway edge",
            u"hs"_s,
            token(with(claims, u"exp"_s, double(Now - 30))),
            u"token expired"_s);
        row("expired within leeway", u"hs"_s, token(with(claims, u"exp"_s, double(Now - 29))), {});
        row("expired, leeway 0",
            u"hs-leeway0"_s,
            token(with(claims, u"exp"_s, double(Now))),
            u"token expired"_s);
        row("not yet valid",
            u"hs"_s,
            token(with(claims, u"nbf"_s, double(Now + 31))),
            u"token not yet valid"_s);
        row("nbf within leeway", u"hs"_s, token(with(claims, u"nbf"_s, double(Now + 30))), {});
        row("nbf, leeway 0",
            u"hs-leeway0"_s,
            token(with(claims, u"nbf"_s, double(Now + 1))),
            u"token not yet valid"_s);
        row("exp not a number",
            u"hs"_s,
            token(with(claims, u"exp"_s, u"tomorrow"_s)),
            u"malformed token"_s);

        // Signatures
        const QByteArray good = token(claims);
        const QList<QByteArray> parts = good.split('.');
        row("wrong secret",
            u"hs"_s,
            parts[0] + '.' + parts[1] + '.'
                + b64(hmac(EVP_sha256(),
                           "another secret of enough length!!",
                           parts[0] + '.' + parts[1])),
            u"invalid token signature"_s);
        row("tampered payload",
            u"hs"_s,
            parts[0] + '.' + b64(compact(with(claims, u"sub"_s, u"mallory"_s))) + '.' + parts[2],
            u"invalid token signature"_s);
        row("signature of another alg",
            u"hs"_s,
            parts[0] + '.' + parts[1] + '.'
                + b64(hmac(EVP_sha512(), m_secret, parts[0] + '.' + parts[1])),
            u"invalid token signature"_s);
        row("empty signature",
            u"hs"_s,
            parts[0] + '.' + parts[1] + '.',
            u"invalid token signature"_s);
        const QByteArray rsInput =
            b64(R"({"alg":"RS256","typ":"JWT"})") + '.' + b64(compact(claims));
        row("RS256 signed by another key",
            u"rsa"_s,
            rsInput + '.' + b64(signWithKey(m_otherRsa.get(), EVP_sha256(), rsInput)),
            u"invalid token signature"_s);
        const QByteArray esInput =
            b64(R"({"alg":"ES256","typ":"JWT"})") + '.' + b64(compact(claims));
        row("ES256 signature in DER, not JOSE",
            u"ec"_s,
            esInput + '.' + b64(signWithKey(m_ec.get(), EVP_sha256(), esInput)),
            u"invalid token signature"_s);
        row("ES256 signature too short",
            u"ec"_s,
            esInput + '.'
                + b64(derToJose(signWithKey(m_ec.get(), EVP_sha256(), esInput), 32).left(63)),
            u"invalid token signature"_s);

        // Algorithms
        const QByteArray noneInput =
            b64(R"({"alg":"none","typ":"JWT"})") + '.' + b64(compact(claims));
        row("alg none", u"hs"_s, noneInput + '.', u"algorithm 'none' is not allowed"_s);
        row("alg None with a signature",
            u"rsa"_s,
            b64(R"({"alg":"None"})") + '.' + b64(compact(claims)) + '.' + b64("sig"),
            u"algorithm 'none' is not allowed"_s);
        row("alg none with explicit algorithms",
            u"hs+rsa"_s,
            noneInput + '.',
            u"algorithm 'none' is not allowed"_s);
        // The classic key confusion: an HS256 token whose HMAC key is the RSA public key PEM.
        const QByteArray hsInput =
            b64(R"({"alg":"HS256","typ":"JWT"})") + '.' + b64(compact(claims));
        QFile rsaPem(m_rsaPem);
        QVERIFY(rsaPem.open(QIODevice::ReadOnly));
        const QByteArray confused =
            hsInput + '.' + b64(hmac(EVP_sha256(), rsaPem.readAll(), hsInput));
        row("HS256 signed with the RSA public key",
            u"rsa"_s,
            confused,
            u"algorithm 'HS256' is not allowed"_s);
        row("HS256 signed with the RSA public key, both keys",
            u"hs+rsa"_s,
            confused,
            u"invalid token signature"_s);
        row("RS256 token, HMAC verifier",
            u"hs"_s,
            token(claims, u"RS256"_s),
            u"algorithm 'RS256' is not allowed"_s);
        row("ES256 token, RSA verifier",
            u"rsa"_s,
            token(claims, u"ES256"_s),
            u"algorithm 'ES256' is not allowed"_s);
        row("ES384 token, P-256 verifier",
            u"ec"_s,
            token(claims, u"ES384"_s),
            u"algorithm 'ES384' is not allowed"_s);
        row("HS384 outside the configured list",
            u"hs256-only"_s,
            token(claims, u"HS384"_s),
            u"algorithm 'HS384' is not allowed"_s);
        row("unknown alg",
            u"hs"_s,
            b64(R"({"alg":"XY999"})") + '.' + b64(compact(claims)) + '.' + b64("x"),
            u"unsupported algorithm"_s);
        row("crit header",
            u"hs"_s,
            token(claims, u"HS256"_s, {{u"crit"_s, QJsonArray{u"exp"_s}}}),
            u"unsupported critical header parameters"_s);

        // Claims
        const QJsonObject issued =
            with(with(claims, u"iss"_s, u"https://issuer.example"_s), u"aud"_s, u"mtw"_s);
        row("issuer and audience", u"hs-claims"_s, token(issued), {});
        row("wrong issuer",
            u"hs-claims"_s,
            token(with(issued, u"iss"_s, u"https://evil.example"_s)),
            u"token issuer mismatch"_s);
        row("no issuer",
            u"hs-claims"_s,
            token(with(issued, u"iss"_s, {})),
            u"token issuer mismatch"_s);
        row("wrong audience",
            u"hs-claims"_s,
            token(with(issued, u"aud"_s, u"other"_s)),
            u"token audience mismatch"_s);
        row("no audience",
            u"hs-claims"_s,
            token(with(issued, u"aud"_s, {})),
            u"token audience mismatch"_s);
        row("aud array",
            u"hs-claims"_s,
            token(with(issued, u"aud"_s, QJsonArray{u"other"_s, u"mtw"_s})),
            {});
        row("aud array without ours",
            u"hs-claims"_s,
            token(with(issued, u"aud"_s, QJsonArray{u"other"_s, 7})),
            u"token audience mismatch"_s);
        row("missing sub",
            u"hs"_s,
            token(with(claims, u"sub"_s, {})),
            u"token has no subject (sub)"_s);
        row("empty sub",
            u"hs"_s,
            token(with(claims, u"sub"_s, u""_s)),
            u"token has no subject (sub)"_s);
        row("sub an object",
            u"hs"_s,
            token(with(claims, u"sub"_s, QJsonObject{{u"id"_s, 1}})),
            u"token has no subject (sub)"_s);
        row("roles not strings",
            u"hs"_s,
            token(with(claims, u"roles"_s, QJsonArray{1, 2})),
            u"malformed token"_s);

        // Malformed
        row("empty", u"hs"_s, QByteArray(), u"malformed token"_s);
        row("two parts", u"hs"_s, parts[0] + '.' + parts[1], u"malformed token"_s);
        row("four parts", u"hs"_s, good + ".x", u"malformed token"_s);
        row("padding in header",
            u"hs"_s,
            parts[0] + "==." + parts[1] + '.' + parts[2],
            u"malformed token"_s);
        row("standard base64 alphabet",
            u"hs"_s,
            parts[0] + '.' + parts[1] + '.'
                + QByteArray(parts[2]).replace('-', '+').replace('_', '/') + "+/",
            u"malformed token"_s);
        row("header not JSON",
            u"hs"_s,
            b64("{alg:HS256}") + '.' + parts[1] + '.' + parts[2],
            u"malformed token"_s);
        row("header a JSON array",
            u"hs"_s,
            b64(R"(["HS256"])") + '.' + parts[1] + '.' + parts[2],
            u"malformed token"_s);
        row("alg not a string",
            u"hs"_s,
            b64(R"({"alg":256})") + '.' + parts[1] + '.' + parts[2],
            u"malformed token"_s);
        const QByteArray badPayloadInput = parts[0] + '.' + b64("not json");
        row("payload not JSON, validly signed",
            u"hs"_s,
            badPayloadInput + '.' + b64(hmac(EVP_sha256(), m_secret, badPayloadInput)),
            u"malformed token"_s);
        row("too long",
            u"hs"_s,
            QByteArray(JwtVerifier::MaxTokenSize + 1, 'a'),
            u"malformed token"_s);
        row("whitespace inside",
            u"hs"_s,
            parts[0].left(4) + ' ' + parts[0].mid(4) + '.' + parts[1] + '.' + parts[2],
            u"malformed token"_s);

        // Interop: signed by Node's crypto (tests/data/jwt/generate.mjs)
        for (const char *alg : {"HS256", "HS512", "RS256", "ES256"}) {
            const QString verifier = alg[0] == 'H' ? u"interop-hs"_s
                : alg[0] == 'R'                    ? u"interop-rs"_s
                                                   : u"interop-es"_s;
            QTest::addRow("interop %s", alg)
                << verifier << m_interop.value(QLatin1StringView(alg)).toString().toUtf8()
                << QString() << u"interop-user"_s;
        }
        QByteArray jwtIo =
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6"
            "IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_"
            "adQssw5c";
        QTest::newRow("RS256 by our key, interop key configured")
            << u"interop-rs"_s << token(claims, u"RS256"_s) << u"invalid token signature"_s
            << QString();
        QTest::newRow("jwt.io HS256 example, other secret")
            << u"hs"_s << jwtIo << u"invalid token signature"_s << QString();
    }

    void verify()
    {
        QFETCH(QString, verifier);
        QFETCH(QByteArray, token);
        QFETCH(QString, error);
        QFETCH(QString, sub);
        const auto it = m_verifiers.find(verifier);
        QVERIFY2(it != m_verifiers.end() && it->second, qPrintable(verifier));
        const auto identity = it->second->verify(token);
        if (error.isEmpty()) {
            QVERIFY2(identity.has_value(),
                     qPrintable(identity ? QString() : identity.error().message));
            QCOMPARE(identity->userId(), sub);
            QCOMPARE(identity->claims().value(u"sub"_s).toString(), sub);
        } else {
            QVERIFY2(!identity.has_value(), "the token was accepted");
            QCOMPARE(identity.error().code, 401);
            QVERIFY2(identity.error().message.startsWith(error),
                     qPrintable(identity.error().message));
        }
    }

    void jwtIoVector()
    {
        // The well-known example token of jwt.io, signed by another implementation. It has no
        // exp, and interop is the point here, not expiry.
        const auto verifier =
            makeVerifier({{u"secret"_s, u"your-256-bit-secret"_s}, {u"allow_no_exp"_s, true}});
        QVERIFY(verifier);
        const auto identity =
            verifier->verify("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                             "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
                             "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
        QVERIFY2(identity, qPrintable(identity ? QString() : identity.error().message));
        QCOMPARE(identity->userId(), u"1234567890"_s);
        QCOMPARE(identity->claims().value(u"name"_s).toString(), u"John Doe"_s);
        QCOMPARE(identity->expiresAt(), 0);
    }

    // A token without exp is refused by default, with the message a client sees, and accepted
    // only when allow_no_exp says so; its identity then never expires.
    void noExpiry()
    {
        const QByteArray noExp = token(with(baseClaims(), u"exp"_s, {}));
        const auto refused = m_verifiers.at(u"hs"_s)->verify(noExp);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, 401);
        QCOMPARE(refused.error().message, u"token has no expiry (exp)"_s);

        for (const QVariant &allow : {QVariant(true), QVariant(u"true"_s), QVariant(u" TRUE "_s)}) {
            const auto settings = JwtSettings::fromConfig(
                {{u"secret"_s, QString::fromUtf8(m_secret)}, {u"allow_no_exp"_s, allow}});
            QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().message));
            QVERIFY(settings->allowNoExp);
            const auto verifier = JwtVerifier::create(*settings, [] { return Now; });
            QVERIFY(verifier);
            const auto accepted = (*verifier)->verify(noExp);
            QVERIFY2(accepted, qPrintable(accepted ? QString() : accepted.error().message));
            QCOMPARE(accepted->userId(), u"alice"_s);
            QCOMPARE(accepted->expiresAt(), 0);
        }

        // Spelled out as false, or absent: the default, refused.
        for (const QVariantMap &config :
             {QVariantMap{{u"secret"_s, QString::fromUtf8(m_secret)}},
              QVariantMap{{u"secret"_s, QString::fromUtf8(m_secret)}, {u"allow_no_exp"_s, false}},
              QVariantMap{{u"secret"_s, QString::fromUtf8(m_secret)},
                          {u"allow_no_exp"_s, u"false"_s}}}) {
            const auto settings = JwtSettings::fromConfig(config);
            QVERIFY(settings);
            QVERIFY(!settings->allowNoExp);
            const auto verifier = JwtVerifier::create(*settings, [] { return Now; });
            QVERIFY(verifier);
            const auto identity = (*verifier)->verify(noExp);
            QVERIFY(!identity);
            QCOMPARE(identity.error().message, u"token has no expiry (exp)"_s);
        }
    }

    void expiresAt_data()
    {
        QTest::addColumn<QVariant>("leeway"); // invalid: the default (30)
        QTest::addColumn<double>("exp");
        QTest::addColumn<qint64>("expiresAt");
        QTest::newRow("default leeway")
            << QVariant() << double(Now + 3600) << (Now + 3600 + 30) * 1000;
        QTest::newRow("leeway 0") << QVariant(0) << double(Now + 60) << (Now + 60) * 1000;
        QTest::newRow("leeway from a string")
            << QVariant(u"45"_s) << double(Now + 1) << (Now + 1 + 45) * 1000;
        QTest::newRow("expired, within the leeway")
            << QVariant() << double(Now - 10) << (Now - 10 + 30) * 1000;
        QTest::newRow("fractional exp") << QVariant(0) << double(Now) + 0.25 << Now * 1000 + 250;
        QTest::newRow("absurdly far") << QVariant() << 1e300 << std::numeric_limits<qint64>::max();
    }

    // expiresAt is (exp + leeway) * 1000: the moment this verifier starts refusing the token,
    // so a server closing the connection then agrees with a fresh verification.
    void expiresAt()
    {
        QFETCH(QVariant, leeway);
        QFETCH(double, exp);
        QFETCH(qint64, expiresAt);
        QVariantMap config{{u"secret"_s, QString::fromUtf8(m_secret)}};
        if (leeway.isValid())
            config.insert(u"leeway"_s, leeway);
        const auto settings = JwtSettings::fromConfig(config);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().message));
        qint64 now = Now;
        const auto verifier = JwtVerifier::create(*settings, [&now] { return now; });
        QVERIFY(verifier);
        const QByteArray signedToken = token(with(baseClaims(), u"exp"_s, exp));

        const auto identity = (*verifier)->verify(signedToken);
        QVERIFY2(identity, qPrintable(identity ? QString() : identity.error().message));
        QCOMPARE(identity->expiresAt(), expiresAt);

        if (expiresAt == std::numeric_limits<qint64>::max())
            return;
        // The last whole second before expiresAt is still accepted; expiresAt itself is not.
        now = (expiresAt - 1) / 1000;
        QVERIFY((*verifier)->verify(signedToken));
        now = (expiresAt + 999) / 1000;
        const auto expired = (*verifier)->verify(signedToken);
        QVERIFY(!expired);
        QCOMPARE(expired.error().message, u"token expired"_s);
    }

    void identity_data()
    {
        QTest::addColumn<QJsonValue>("roles");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("absent") << QJsonValue(QJsonValue::Undefined) << QStringList();
        QTest::newRow("null") << QJsonValue(QJsonValue::Null) << QStringList();
        QTest::newRow("array") << QJsonValue(QJsonArray{u"admin"_s, u"ops"_s})
                               << QStringList{u"admin"_s, u"ops"_s};
        QTest::newRow("space-separated")
            << QJsonValue(u" admin  ops "_s) << QStringList{u"admin"_s, u"ops"_s};
        QTest::newRow("empty array") << QJsonValue(QJsonArray()) << QStringList();
    }

    void identity()
    {
        QFETCH(QJsonValue, roles);
        QFETCH(QStringList, expected);
        QJsonObject claims = with(baseClaims(), u"tenant"_s, u"acme"_s);
        if (!roles.isUndefined())
            claims.insert(u"roles"_s, roles);
        const auto identity = m_verifiers.at(u"hs"_s)->verify(token(claims, u"HS384"_s));
        QVERIFY2(identity, qPrintable(identity ? QString() : identity.error().message));
        QCOMPARE(identity->userId(), u"alice"_s);
        QCOMPARE(identity->roles(), expected);
        QCOMPARE(identity->claims().value(u"tenant"_s).toString(), u"acme"_s);
        QCOMPARE(identity->claims().value(u"exp"_s).toLongLong(), Now + 3600);
        QCOMPARE(identity->claims(), claims.toVariantMap());
        QCOMPARE(identity->expiresAt(), (Now + 3600 + 30) * 1000);
    }

    void derivedAlgorithms_data()
    {
        QTest::addColumn<QString>("verifier");
        QTest::addColumn<QStringList>("algorithms");
        QTest::newRow("secret") << u"hs"_s << QStringList{u"HS256"_s, u"HS384"_s, u"HS512"_s};
        QTest::newRow("RSA key") << u"rsa"_s << QStringList{u"RS256"_s, u"RS384"_s, u"RS512"_s};
        QTest::newRow("certificate")
            << u"cert"_s << QStringList{u"RS256"_s, u"RS384"_s, u"RS512"_s};
        QTest::newRow("P-256 key") << u"ec"_s << QStringList{u"ES256"_s};
        QTest::newRow("P-384 key") << u"ec384"_s << QStringList{u"ES384"_s};
        QTest::newRow("explicit") << u"hs+rsa"_s << QStringList{u"HS256"_s, u"RS256"_s};
    }

    void derivedAlgorithms()
    {
        QFETCH(QString, verifier);
        QFETCH(QStringList, algorithms);
        QCOMPARE(m_verifiers.at(verifier)->algorithms(), algorithms);
    }

    void settings_data()
    {
        QTest::addColumn<QVariantMap>("config");
        QTest::addColumn<QString>("error"); // substring; empty = valid
        QTest::addColumn<qint64>("leeway");
        QTest::addColumn<bool>("required");
        QTest::addColumn<QStringList>("algorithms");
        QTest::addColumn<QStringList>("audiences");

        const QVariantMap secret{{u"secret"_s, u"s"_s}};
        const auto plus = [&](const QString &key, const QVariant &value) {
            QVariantMap map = secret;
            map.insert(key, value);
            return map;
        };
        QTest::newRow("defaults") << secret << QString() << qint64(30) << false << QStringList()
                                  << QStringList();
        QTest::newRow("leeway integer") << plus(u"leeway"_s, qlonglong(5)) << QString() << qint64(5)
                                        << false << QStringList() << QStringList();
        QTest::newRow("leeway string") << plus(u"leeway"_s, u"45"_s) << QString() << qint64(45)
                                       << false << QStringList() << QStringList();
        QTest::newRow("required bool") << plus(u"required"_s, true) << QString() << qint64(30)
                                       << true << QStringList() << QStringList();
        QTest::newRow("required string") << plus(u"required"_s, u"TRUE"_s) << QString()
                                         << qint64(30) << true << QStringList() << QStringList();
        QTest::newRow("algorithms array")
            << plus(u"algorithms"_s, QVariantList{u"HS256"_s, u"HS512"_s}) << QString()
            << qint64(30) << false << QStringList{u"HS256"_s, u"HS512"_s} << QStringList();
        QTest::newRow("algorithms string")
            << plus(u"algorithms"_s, u"HS256, HS512"_s) << QString() << qint64(30) << false
            << QStringList{u"HS256"_s, u"HS512"_s} << QStringList();
        QTest::newRow("audience string") << plus(u"audience"_s, u"a b"_s) << QString() << qint64(30)
                                         << false << QStringList() << QStringList{u"a b"_s};
        QTest::newRow("audience array")
            << plus(u"audience"_s, QVariantList{u"a"_s, u"b"_s}) << QString() << qint64(30) << false
            << QStringList() << QStringList{u"a"_s, u"b"_s};

        const auto bad = [](const char *name, const QVariantMap &config, const QString &error) {
            QTest::newRow(name) << config << error << qint64(0) << false << QStringList()
                                << QStringList();
        };
        bad("nothing", {}, u"mtw-auth-jwt: set secret, public_key_file, jwks_url or jwks_file"_s);
        bad("empty secret (unset env)",
            {{u"secret"_s, u""_s}},
            u"set secret, public_key_file, jwks_url or jwks_file (the value given is empty"_s);
        const QVariantMap url{{u"jwks_url"_s, u"https://idp.example/jwks.json"_s}};
        const auto jwks = [&](const QString &key, const QVariant &value) {
            QVariantMap map = url;
            map.insert(key, value);
            return map;
        };
        QTest::newRow("jwks_url alone")
            << url << QString() << qint64(30) << false << QStringList() << QStringList();
        QTest::newRow("jwks_url with a secret")
            << jwks(u"secret"_s, u"s"_s) << QString() << qint64(30) << false << QStringList()
            << QStringList();
        QTest::newRow("jwks_file, refresh as a string")
            << QVariantMap{{u"jwks_file"_s, u"/etc/keys.json"_s}, {u"jwks_refresh"_s, u"60"_s}}
            << QString() << qint64(30) << false << QStringList() << QStringList();
        bad("jwks_url ftp",
            {{u"jwks_url"_s, u"ftp://idp.example/k"_s}},
            u"mtw-auth-jwt: jwks_url: expected an http:// or https:// URL, got "
            "\"ftp://idp.example/k\""_s);
        bad("jwks_url credentials not echoed",
            {{u"jwks_url"_s, u"gopher://user:hunter2@idp.example/k?key=hunter2"_s}},
            u"got \"gopher://idp.example/k\""_s);
        bad("jwks_url a number", {{u"jwks_url"_s, 5}}, u"jwks_url: expected an http"_s);
        bad("jwks_file empty", {{u"jwks_file"_s, u" "_s}}, u"jwks_file: expected a file path"_s);
        bad("jwks_url and jwks_file",
            jwks(u"jwks_file"_s, u"/k.json"_s),
            u"set jwks_url or jwks_file, not both"_s);
        bad("jwks_url and public_key_file",
            jwks(u"public_key_file"_s, u"/k.pem"_s),
            u"set public_key_file or jwks_url, not both"_s);
        bad("jwks_refresh 0",
            jwks(u"jwks_refresh"_s, 0),
            u"jwks_refresh: expected whole seconds "
            "1-86400, got \"0\""_s);
        bad("jwks_refresh text", jwks(u"jwks_refresh"_s, u"hourly"_s), u"got \"hourly\""_s);
        bad("jwks_min_refresh too large",
            jwks(u"jwks_min_refresh"_s, 7200),
            u"jwks_min_refresh: expected whole seconds 1-3600, got \"7200\""_s);
        bad("jwks_refresh without a JWKS",
            plus(u"jwks_refresh"_s, 60),
            u"jwks_refresh: needs jwks_url or jwks_file"_s);
        bad("secret a number", {{u"secret"_s, 5}}, u"secret: expected a string"_s);
        bad("negative leeway", plus(u"leeway"_s, -1), u"leeway: expected whole seconds"_s);
        bad("leeway text", plus(u"leeway"_s, u"soon"_s), u"got \"soon\""_s);
        bad("required text", plus(u"required"_s, u"yes"_s), u"required: expected true or false"_s);
        bad("allow_no_exp text",
            plus(u"allow_no_exp"_s, u"sometimes"_s),
            u"mtw-auth-jwt: allow_no_exp: expected true or false, got \"sometimes\""_s);
        bad("allow_no_exp a number",
            plus(u"allow_no_exp"_s, 1),
            u"mtw-auth-jwt: allow_no_exp: expected true or false, got \"1\""_s);
        bad("allow_no_exp a list",
            plus(u"allow_no_exp"_s, QVariantList{true}),
            u"allow_no_exp: expected true or false, got \"QVariantList\""_s);
        bad("algorithms of numbers", plus(u"algorithms"_s, QVariantList{256}), u"algorithms:"_s);
        bad("audience a number", plus(u"audience"_s, 5), u"audience: expected"_s);
        bad("issuer a list",
            plus(u"issuer"_s, QVariantList{u"x"_s}),
            u"issuer: expected a string"_s);
    }

    void settings()
    {
        QFETCH(QVariantMap, config);
        QFETCH(QString, error);
        const auto settings = JwtSettings::fromConfig(config);
        if (!error.isEmpty()) {
            QVERIFY(!settings);
            QVERIFY2(settings.error().message.contains(error),
                     qPrintable(settings.error().message));
            QVERIFY(settings.error().message.startsWith(u"mtw-auth-jwt: "_s));
            return;
        }
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().message));
        QTEST(settings->leeway, "leeway");
        QTEST(settings->required, "required");
        QTEST(settings->algorithms, "algorithms");
        QTEST(settings->audiences, "audiences");
    }

    // JWK members to keys: RSA and EC P-256/P-384 that verify, and every bad member refused.
    void jwkParsing_data()
    {
        QTest::addColumn<QJsonObject>("jwk");
        QTest::addColumn<QString>("error"); // empty = a usable key

        const QJsonObject rsa = JwkTest::jwkFor(m_rsa.get(), u"r"_s);
        const QJsonObject ec = JwkTest::jwkFor(m_ec.get(), u"e"_s);
        QTest::newRow("RSA") << rsa << QString();
        QTest::newRow("RSA use sig") << with(rsa, u"use"_s, u"sig"_s) << QString();
        QTest::newRow("EC P-256") << ec << QString();
        QTest::newRow("EC P-384") << JwkTest::jwkFor(m_ec384.get(), u"e384"_s) << QString();
        QTest::newRow("no kty") << with(rsa, u"kty"_s, {}) << u"member 'kty' is missing"_s;
        QTest::newRow("kty oct") << QJsonObject{{u"kty"_s, u"oct"_s}, {u"k"_s, u"c2VjcmV0"_s}}
                                 << u"unsupported kty 'oct'"_s;
        QTest::newRow("kty OKP") << QJsonObject{{u"kty"_s, u"OKP"_s}, {u"crv"_s, u"Ed25519"_s}}
                                 << u"unsupported kty 'OKP'"_s;
        QTest::newRow("use enc") << with(rsa, u"use"_s, u"enc"_s) << u"use 'enc' is not 'sig'"_s;
        QTest::newRow("RSA no n") << with(rsa, u"n"_s, {})
                                  << u"member 'n' is missing or not a string"_s;
        QTest::newRow("RSA e a number")
            << with(rsa, u"e"_s, 65537) << u"member 'e' is missing or not a string"_s;
        QTest::newRow("RSA n not base64url")
            << with(rsa, u"n"_s, u"a+b/c="_s) << u"member 'n' is not base64url"_s;
        QTest::newRow("RSA 512-bit modulus")
            << with(rsa, u"n"_s, QString::fromLatin1(JwkTest::b64url(QByteArray(64, '\xff'))))
            << u"RSA modulus of 512 bits is shorter than 2048"_s;
        // The modulus made even: its last byte's low bit cleared.
        QByteArray even = *Mtw::AuthJwt::decodeBase64Url(rsa.value("n"_L1).toString().toLatin1());
        even.back() = char(even.back() & ~1);
        QTest::newRow("RSA even modulus")
            << with(rsa, u"n"_s, QString::fromLatin1(JwkTest::b64url(even)))
            << u"the RSA modulus is even"_s;
        const QString exponentError = u"the RSA exponent must be odd, at least 3 and below the "
                                      "modulus"_s;
        QTest::newRow("RSA exponent 1")
            << with(rsa, u"e"_s, QString::fromLatin1(JwkTest::b64url(QByteArray(1, '\x01'))))
            << exponentError;
        QTest::newRow("RSA even exponent")
            << with(rsa, u"e"_s, QString::fromLatin1(JwkTest::b64url(QByteArray("\x01\x00", 2))))
            << exponentError;
        QTest::newRow("RSA exponent not below the modulus")
            << with(rsa, u"e"_s, rsa.value("n"_L1).toString()) << exponentError;
        QTest::newRow("EC unsupported crv")
            << with(ec, u"crv"_s, u"secp256k1"_s) << u"unsupported crv 'secp256k1'"_s;
        QTest::newRow("EC no crv") << with(ec, u"crv"_s, {}) << u"member 'crv' is missing"_s;
        QTest::newRow("EC no y") << with(ec, u"y"_s, {})
                                 << u"member 'y' is missing or not a string"_s;
        QTest::newRow("EC short x")
            << with(ec, u"x"_s, QString::fromLatin1(JwkTest::b64url(QByteArray(31, 'x'))))
            << u"members 'x' and 'y' must be 32 bytes for P-256"_s;
        QTest::newRow("EC point not on the curve")
            << with(ec, u"y"_s, QString::fromLatin1(JwkTest::b64url(QByteArray(32, '\x01'))))
            << u"the point (x, y) is not on P-256"_s;
    }

    // fuzz_jwks found it (tests/fuzz/corpus/fuzz_jwks/regression_rsa_random_check): OpenSSL's
    // RSA public key check tests n with random Miller-Rabin bases and refused a valid modulus
    // about once in 3,000 parses, so a key set refresh could drop a good key. The same key must
    // parse every time.
    void rsaKeyParsesEveryTime()
    {
        // The RSA key of that input; OpenSSL's check refused it in 1 of ~3,000 parses.
        QFile file(QStringLiteral(MTW_SOURCE_DIR
                                  "/tests/fuzz/corpus/fuzz_jwks/regression_rsa_random_check"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QJsonObject rsa = QJsonDocument::fromJson(file.readAll())
                                    .object()
                                    .value("keys"_L1)
                                    .toArray()
                                    .at(0)
                                    .toObject();
        QCOMPARE(rsa.value("kty"_L1).toString(), u"RSA"_s);
        for (int i = 0; i < 10000; ++i) {
            const auto key = Mtw::AuthJwt::publicKeyFromJwk(rsa);
            QVERIFY2(
                key,
                qPrintable(u"parse %1: %2"_s.arg(i).arg(key ? QString() : key.error().message)));
        }
    }

    void jwkParsing()
    {
        QFETCH(QJsonObject, jwk);
        QFETCH(QString, error);
        const auto key = Mtw::AuthJwt::publicKeyFromJwk(jwk);
        if (!error.isEmpty()) {
            QVERIFY(!key);
            QCOMPARE(key.error().message, error);
            return;
        }
        QVERIFY2(key, qPrintable(key ? QString() : key.error().message));
        EVP_PKEY *expected = jwk.value("kty"_L1).toString() == "RSA"_L1 ? m_rsa.get()
            : jwk.value("crv"_L1).toString() == "P-384"_L1              ? m_ec384.get()
                                                                        : m_ec.get();
        QCOMPARE(EVP_PKEY_eq(key->get(), expected), 1);
    }

    // A set: usable keys kept in order, the rest listed as skipped; no usable key is an error.
    void jwksParsing()
    {
        const QByteArray mixed = JwkTest::jwks(
            {JwkTest::jwkFor(m_rsa.get(), u"a"_s),
             with(JwkTest::jwkFor(m_otherRsa.get(), u"enc"_s), u"use"_s, u"enc"_s),
             QJsonObject{{u"kty"_s, u"oct"_s}, {u"kid"_s, u"hmac"_s}, {u"k"_s, u"AAAA"_s}},
             JwkTest::jwkFor(m_ec.get(), u"b"_s),
             JwkTest::jwkFor(m_ec384.get(), u"a"_s),
             u"not an object"_s});
        const auto set = Mtw::AuthJwt::parseJwks(mixed);
        QVERIFY2(set, qPrintable(set ? QString() : set.error().message));
        QCOMPARE((*set)->kids(), (QStringList{u"a"_s, u"b"_s}));
        QCOMPARE((*set)->skipped,
                 (QStringList{u"key 'enc': use 'enc' is not 'sig'"_s,
                              u"key 'hmac': unsupported kty 'oct'"_s,
                              u"key 'a': duplicate kid"_s,
                              u"key 5: not an object"_s}));

        const auto refused = [](const QByteArray &json) {
            const auto parsed = Mtw::AuthJwt::parseJwks(json);
            return parsed ? QString() : parsed.error().message;
        };
        QVERIFY(refused("{\"keys\": [").startsWith(u"malformed JSON at offset"_s));
        QCOMPARE(refused("[]"), u"not a JWK set (expected an object with a \"keys\" array)"_s);
        QCOMPARE(refused("{\"keys\": {}}"),
                 u"not a JWK set (expected an object with a \"keys\" array)"_s);
        QCOMPARE(refused("{\"keys\": []}"), u"no usable key in the set"_s);
        QCOMPARE(refused(JwkTest::jwks({QJsonObject{{u"kty"_s, u"oct"_s}}})),
                 u"no usable key in the set (key 0: unsupported kty 'oct')"_s);
    }

    // With a key set the token's kid picks the key; no kid only with a one-key set; an unknown
    // kid is the refusal the module refreshes on; the key must fit the token's alg.
    void verifyByKid()
    {
        const auto settings =
            JwtSettings::fromConfig({{u"jwks_url"_s, u"http://127.0.0.1:1/jwks"_s},
                                     {u"secret"_s, QString::fromUtf8(m_secret)}});
        QVERIFY(settings);
        const auto makeSet = [](const QJsonArray &keys) {
            const auto set = Mtw::AuthJwt::parseJwks(JwkTest::jwks(keys));
            return set ? *set : std::shared_ptr<const JwkSet>();
        };
        const auto two = makeSet({JwkTest::jwkFor(m_rsa.get(), u"a"_s),
                                  with(JwkTest::jwkFor(m_ec.get(), u"b"_s), u"alg"_s, u"ES256"_s)});
        const auto one = makeSet({JwkTest::jwkFor(m_rsa.get(), u"a"_s)});
        QVERIFY(two && one);
        const auto verifierWith = [&](std::shared_ptr<const JwkSet> keys) {
            auto made = JwtVerifier::create(
                *settings,
                [] { return Now; },
                std::move(keys));
            return made ? *made : std::shared_ptr<const JwtVerifier>();
        };
        const auto withTwo = verifierWith(two);
        const auto withOne = verifierWith(one);
        const auto notLoaded = verifierWith({});
        QVERIFY(withTwo && withOne && notLoaded);
        QCOMPARE(withTwo->algorithms(),
                 (QStringList{u"HS256"_s,
                              u"HS384"_s,
                              u"HS512"_s,
                              u"RS256"_s,
                              u"RS384"_s,
                              u"RS512"_s,
                              u"ES256"_s,
                              u"ES384"_s,
                              u"ES512"_s}));

        const QJsonObject claims = baseClaims();
        const auto userOf = [](const auto &result) {
            return result ? result->userId() : u"refused: "_s + result.error().message;
        };
        QCOMPARE(userOf(withTwo->verify(JwkTest::token(m_rsa.get(), u"RS256"_s, u"a"_s, claims))),
                 u"alice"_s);
        QCOMPARE(userOf(withTwo->verify(JwkTest::token(m_ec.get(), u"ES256"_s, u"b"_s, claims))),
                 u"alice"_s);
        QCOMPARE(userOf(withOne->verify(JwkTest::token(m_rsa.get(), u"RS256"_s, {}, claims))),
                 u"alice"_s);
        QCOMPARE(userOf(withTwo->verify(token(claims))), u"alice"_s); // HS256 uses the secret
        QCOMPARE(userOf(withTwo->verify(JwkTest::token(m_rsa.get(), u"RS256"_s, {}, claims))),
                 u"refused: token has no kid and the key set has several keys"_s);
        // Signed by another key under kid a, or with a's key under kid b.
        QCOMPARE(
            userOf(withTwo->verify(JwkTest::token(m_otherRsa.get(), u"RS256"_s, u"a"_s, claims))),
            u"refused: invalid token signature"_s);
        QCOMPARE(userOf(withTwo->verify(JwkTest::token(m_rsa.get(), u"RS256"_s, u"b"_s, claims))),
                 u"refused: algorithm 'RS256' does not fit the signing key"_s);
        // Key b says alg ES256; ES384 on a P-256 key never fits either.
        QCOMPARE(userOf(withTwo->verify(JwkTest::token(m_ec384.get(), u"ES384"_s, u"b"_s, claims))),
                 u"refused: algorithm 'ES384' does not fit the signing key"_s);

        const auto unknown =
            withTwo->verify(JwkTest::token(m_rsa.get(), u"RS256"_s, u"c"_s, claims));
        QVERIFY(!unknown);
        QCOMPARE(unknown.error().code, 401);
        QCOMPARE(unknown.error().message, u"unknown signing key (kid)"_s);
        QVERIFY(JwtVerifier::isUnknownKey(unknown.error()));
        QVERIFY(!JwtVerifier::isUnknownKey(
            withTwo->verify(JwkTest::token(m_rsa.get(), u"RS256"_s, {}, claims)).error()));

        const auto early =
            notLoaded->verify(JwkTest::token(m_rsa.get(), u"RS256"_s, u"a"_s, claims));
        QVERIFY(!early);
        QCOMPARE(early.error().code, 503);
        QCOMPARE(early.error().message, u"signing keys are not loaded yet; try again later"_s);
        QCOMPARE(userOf(notLoaded->verify(token(claims))), u"alice"_s);
    }

    void createErrors_data()
    {
        QTest::addColumn<QVariantMap>("config");
        QTest::addColumn<QString>("error");
        QTest::newRow("missing key file")
            << QVariantMap{{u"public_key_file"_s, u"/nonexistent/jwt.pem"_s}}
            << u"mtw-auth-jwt: cannot read public_key_file /nonexistent/jwt.pem: No such file or "
               "directory"_s;
        QTest::newRow("not a key") << QVariantMap{{u"public_key_file"_s, m_notPem}}
                                   << u"holds no PEM public key or certificate"_s;
        QTest::newRow("a directory")
            << QVariantMap{{u"public_key_file"_s, m_dir.path()}} << u"public_key_file"_s;
        QTest::newRow("none listed")
            << QVariantMap{{u"secret"_s, u"s"_s}, {u"algorithms"_s, QVariantList{u"none"_s}}}
            << u"algorithm 'none' is not allowed"_s;
        QTest::newRow("unknown listed")
            << QVariantMap{{u"secret"_s, u"s"_s}, {u"algorithms"_s, QVariantList{u"PS256"_s}}}
            << u"unknown algorithm 'PS256'"_s;
        QTest::newRow("RS256 without a key")
            << QVariantMap{{u"secret"_s, u"s"_s}, {u"algorithms"_s, QVariantList{u"RS256"_s}}}
            << u"algorithms: RS256 needs an RSA public_key_file"_s;
        QTest::newRow("HS256 with only an RSA key")
            << QVariantMap{{u"public_key_file"_s, m_rsaPem},
                           {u"algorithms"_s, QVariantList{u"HS256"_s}}}
            << u"algorithms: HS256 needs a secret"_s;
        QTest::newRow("ES256 with an RSA key")
            << QVariantMap{{u"public_key_file"_s, m_rsaPem},
                           {u"algorithms"_s, QVariantList{u"ES256"_s}}}
            << u"algorithms: ES256 needs a public_key_file with an EC key on prime256v1"_s;
        QTest::newRow("ES256 with a P-384 key")
            << QVariantMap{{u"public_key_file"_s, m_ec384Pem},
                           {u"algorithms"_s, QVariantList{u"ES256"_s}}}
            << u"ES256 needs"_s;
    }

    void createErrors()
    {
        QFETCH(QVariantMap, config);
        QFETCH(QString, error);
        const auto settings = JwtSettings::fromConfig(config);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().message));
        const auto verifier = JwtVerifier::create(*settings);
        QVERIFY(!verifier);
        QVERIFY2(verifier.error().message.contains(error), qPrintable(verifier.error().message));
    }

    void decodeBase64Url_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QByteArray>("decoded");
        QTest::newRow("empty") << QByteArray() << true << QByteArray();
        QTest::newRow("one byte") << QByteArray("YQ") << true << QByteArray("a");
        QTest::newRow("two bytes") << QByteArray("YWI") << true << QByteArray("ab");
        QTest::newRow("url alphabet") << QByteArray("-_8") << true << QByteArray("\xfb\xff");
        QTest::newRow("padded") << QByteArray("YQ==") << false << QByteArray();
        QTest::newRow("non-canonical bits") << QByteArray("YR") << false << QByteArray();
        QTest::newRow("impossible length") << QByteArray("YWJjZ") << false << QByteArray();
        QTest::newRow("plus") << QByteArray("a+b/") << false << QByteArray();
        QTest::newRow("space") << QByteArray("YW I") << false << QByteArray();
        QTest::newRow("NUL") << QByteArray("YW\0I", 4) << false << QByteArray();
        QTest::newRow("high bytes") << QByteArray("\xc3\xa9YQ") << false << QByteArray();
    }

    void decodeBase64Url()
    {
        QFETCH(QByteArray, text);
        QFETCH(bool, valid);
        const auto decoded = Mtw::AuthJwt::decodeBase64Url(text);
        QCOMPARE(decoded.has_value(), valid);
        if (valid)
            QTEST(*decoded, "decoded");
    }

    // Random bytes, random "a.b.c" shapes and single-byte mutations of good tokens: every one is
    // refused with a 401 and nothing crashes.
    void randomInput()
    {
        QRandomGenerator random(20240501);
        const std::vector<std::pair<QString, QByteArray>> goods{
            {u"hs"_s, token(baseClaims(), u"HS256"_s)},
            {u"rsa"_s, token(baseClaims(), u"RS256"_s)},
            {u"ec"_s, token(baseClaims(), u"ES256"_s)},
        };
        const QByteArray alphabet =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \"{}";
        int checked = 0;
        for (const auto &[name, good] : goods) {
            const JwtVerifier &verifier = *m_verifiers.at(name);
            QVERIFY(verifier.verify(good));
            for (int i = 0; i < 1500; ++i) {
                QByteArray bytes(random.bounded(400), '\0');
                for (char &c : bytes)
                    c = char(random.bounded(256));
                QVERIFY(!verifier.verify(bytes));

                QByteArray shaped(random.bounded(300), '\0');
                for (char &c : shaped)
                    c = alphabet.at(random.bounded(int(alphabet.size())));
                const auto refused = verifier.verify(shaped);
                QVERIFY(!refused);
                QCOMPARE(refused.error().code, 401);

                // A good header with random payload and signature reaches the crypto code.
                const QByteArray header = good.left(good.indexOf('.'));
                QVERIFY(!verifier.verify(header + '.' + shaped.left(40) + '.' + shaped.mid(40)));

                QByteArray mutated = good;
                const int at = random.bounded(int(mutated.size()));
                mutated[at] = alphabet.at(random.bounded(int(alphabet.size())));
                if (mutated != good)
                    QVERIFY2(!verifier.verify(mutated), mutated.constData());
                checked += 4;
            }
        }
        qInfo() << checked << "random tokens refused";
    }

    // One verifier shared by threads, as the I/O workers share it.
    void concurrentVerification()
    {
        const std::vector<std::pair<const JwtVerifier *, QByteArray>> work{
            {m_verifiers.at(u"hs"_s).get(), token(baseClaims(), u"HS512"_s)},
            {m_verifiers.at(u"rsa"_s).get(), token(baseClaims(), u"RS256"_s)},
            {m_verifiers.at(u"ec"_s).get(), token(baseClaims(), u"ES256"_s)},
        };
        std::atomic<int> accepted = 0;
        std::atomic<int> refusedAsExpected = 0;
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 150; ++i) {
                    const auto &[verifier, good] = work[size_t(i) % work.size()];
                    if (verifier->verify(good))
                        ++accepted;
                    QByteArray bad = good;
                    const qsizetype at = good.lastIndexOf('.') + 1;
                    bad[at] = good.at(at) == 'A' ? 'B' : 'A';
                    if (!verifier->verify(bad))
                        ++refusedAsExpected;
                }
            });
        }
        for (std::thread &thread : threads)
            thread.join();
        QCOMPARE(accepted.load(), 600);
        QCOMPARE(refusedAsExpected.load(), 600);
    }
};

QTEST_GUILESS_MAIN(tst_JwtVerifier)
#include "tst_jwtverifier.moc"
