// SPDX-License-Identifier: MIT
#include "jwtverifier.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QRegularExpression>
#include <QUrl>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cmath>
#include <limits>
#include <tuple>

namespace Mtw::AuthJwt {

using namespace Qt::StringLiterals;

namespace {

enum class Family { Hmac, Rsa, Ecdsa };

struct Algorithm
{
    QLatin1StringView name;
    Family family;
    const EVP_MD *(*digest)();
    int ecHalfSize;        // ES*: bytes of r (and of s) in the JOSE signature
    const char *groupName; // ES*: the curve the key must be on
};

const std::array<Algorithm, 9> &knownAlgorithms()
{
    static const std::array<Algorithm, 9> table{{
        {"HS256"_L1, Family::Hmac, EVP_sha256, 0, nullptr},
        {"HS384"_L1, Family::Hmac, EVP_sha384, 0, nullptr},
        {"HS512"_L1, Family::Hmac, EVP_sha512, 0, nullptr},
        {"RS256"_L1, Family::Rsa, EVP_sha256, 0, nullptr},
        {"RS384"_L1, Family::Rsa, EVP_sha384, 0, nullptr},
        {"RS512"_L1, Family::Rsa, EVP_sha512, 0, nullptr},
        {"ES256"_L1, Family::Ecdsa, EVP_sha256, 32, "prime256v1"},
        {"ES384"_L1, Family::Ecdsa, EVP_sha384, 48, "secp384r1"},
        {"ES512"_L1, Family::Ecdsa, EVP_sha512, 66, "secp521r1"},
    }};
    return table;
}

const Algorithm *findAlgorithm(QStringView name)
{
    for (const Algorithm &algorithm : knownAlgorithms()) {
        if (name == algorithm.name)
            return &algorithm;
    }
    return nullptr;
}

tl::unexpected<Error> refuse(const QString &message)
{
    return fail(401, message);
}

tl::unexpected<Error> malformed(const QString &what)
{
    return fail(401, u"malformed token: "_s + what);
}

// OpenSSL keeps errors in a per-thread queue; leave it empty for whoever uses it next.
struct ErrorQueueGuard
{
    ~ErrorQueueGuard() { ERR_clear_error(); }
};

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A PEM public key ("BEGIN PUBLIC KEY") or the key of a PEM certificate.
std::shared_ptr<EVP_PKEY> readPublicKey(const QByteArray &pem)
{
    ErrorQueueGuard guard;
    BioPtr bio(BIO_new_mem_buf(pem.constData(), int(pem.size())), &BIO_free);
    if (!bio)
        return {};
    if (EVP_PKEY *key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr))
        return std::shared_ptr<EVP_PKEY>(key, &EVP_PKEY_free);
    BioPtr again(BIO_new_mem_buf(pem.constData(), int(pem.size())), &BIO_free);
    if (!again)
        return {};
    X509Ptr certificate(PEM_read_bio_X509(again.get(), nullptr, nullptr, nullptr), &X509_free);
    if (certificate) {
        if (EVP_PKEY *key = X509_get_pubkey(certificate.get()))
            return std::shared_ptr<EVP_PKEY>(key, &EVP_PKEY_free);
    }
    return {};
}

QString groupName(EVP_PKEY *key)
{
    char name[80] = {};
    size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &length)
        != 1) {
        ERR_clear_error();
        return {};
    }
    return QString::fromLatin1(name, qsizetype(length));
}

bool keyFits(const Algorithm &algorithm, EVP_PKEY *key, const QByteArray &secret)
{
    switch (algorithm.family) {
    case Family::Hmac:
        return !secret.isEmpty();
    case Family::Rsa:
        return key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    case Family::Ecdsa:
        return key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC
            && groupName(key) == QLatin1StringView(algorithm.groupName);
    }
    return false;
}

QString describeKey(EVP_PKEY *key)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        return u"an RSA key"_s;
    case EVP_PKEY_EC:
        return u"an EC key on %1"_s.arg(groupName(key));
    default:
        return u"a key of type %1"_s.arg(
            QString::fromLatin1(OBJ_nid2sn(EVP_PKEY_get_base_id(key))));
    }
}

bool hmacMatches(const Algorithm &algorithm,
                 const QByteArray &secret,
                 QByteArrayView input,
                 const QByteArray &signature)
{
    ErrorQueueGuard guard;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int macLength = 0;
    if (!HMAC(algorithm.digest(),
              secret.constData(),
              int(secret.size()),
              reinterpret_cast<const unsigned char *>(input.data()),
              size_t(input.size()),
              mac,
              &macLength)) {
        return false;
    }
    return qsizetype(macLength) == signature.size()
        && CRYPTO_memcmp(mac, signature.constData(), macLength) == 0;
}

// JOSE ES* signatures are r||s, each big-endian and padded to the curve size (RFC 7518 3.4);
// OpenSSL verifies the DER form of ECDSA-Sig-Value.
QByteArray joseToDer(const Algorithm &algorithm, const QByteArray &signature)
{
    const int half = algorithm.ecHalfSize;
    if (signature.size() != 2 * half)
        return {};
    const auto *bytes = reinterpret_cast<const unsigned char *>(signature.constData());
    EcdsaSigPtr sig(ECDSA_SIG_new(), &ECDSA_SIG_free);
    BIGNUM *r = BN_bin2bn(bytes, half, nullptr);
    BIGNUM *s = BN_bin2bn(bytes + half, half, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return {};
    }
    unsigned char *der = nullptr;
    const int length = i2d_ECDSA_SIG(sig.get(), &der);
    if (length <= 0)
        return {};
    QByteArray out(reinterpret_cast<const char *>(der), length);
    OPENSSL_free(der);
    return out;
}

bool publicKeyVerifies(const Algorithm &algorithm,
                       EVP_PKEY *key,
                       QByteArrayView input,
                       const QByteArray &signature)
{
    ErrorQueueGuard guard;
    QByteArray der = signature;
    if (algorithm.family == Family::Ecdsa) {
        der = joseToDer(algorithm, signature);
        if (der.isEmpty())
            return false;
    }
    MdCtxPtr context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!context
        || EVP_DigestVerifyInit(context.get(), nullptr, algorithm.digest(), nullptr, key) != 1) {
        return false;
    }
    return EVP_DigestVerify(context.get(),
                            reinterpret_cast<const unsigned char *>(der.constData()),
                            size_t(der.size()),
                            reinterpret_cast<const unsigned char *>(input.data()),
                            size_t(input.size()))
        == 1;
}

std::optional<QJsonObject> decodeJsonObject(QByteArrayView part)
{
    const std::optional<QByteArray> bytes = decodeBase64Url(part);
    if (!bytes)
        return std::nullopt;
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(*bytes, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        return std::nullopt;
    return document.object();
}

// Strings, and for `leeway` and `required` also the string forms ${ENV} expansion leaves.
std::optional<qint64> toInteger(const QVariant &value)
{
    bool ok = false;
    qint64 number = 0;
    if (value.typeId() == QMetaType::QString)
        number = value.toString().trimmed().toLongLong(&ok);
    else if (value.canConvert<qint64>() && value.typeId() != QMetaType::Bool)
        number = value.toLongLong(&ok);
    return ok ? std::optional<qint64>(number) : std::nullopt;
}

std::optional<bool> toBoolean(const QVariant &value)
{
    if (value.typeId() == QMetaType::Bool)
        return value.toBool();
    if (value.typeId() == QMetaType::QString) {
        const QString text = value.toString().trimmed().toLower();
        if (text == "true"_L1)
            return true;
        if (text == "false"_L1)
            return false;
    }
    return std::nullopt;
}

// An array of strings, or one string holding a list separated by commas or spaces.
std::optional<QStringList> toStringList(const QVariant &value)
{
    if (value.typeId() == QMetaType::QString)
        return value.toString().split(QRegularExpression(u"[\\s,]+"_s), Qt::SkipEmptyParts);
    if (value.typeId() != QMetaType::QVariantList && value.typeId() != QMetaType::QStringList)
        return std::nullopt;
    QStringList list;
    for (const QVariant &item : value.toList()) {
        if (item.typeId() != QMetaType::QString)
            return std::nullopt;
        list.append(item.toString());
    }
    return list;
}

QString shown(const QVariant &value)
{
    return value.toString().isEmpty() ? QString::fromLatin1(value.typeName()) : value.toString();
}

// userId from `sub` (a string, or an integer some issuers use), roles from `roles`.
Result<Identity> identityFrom(const QJsonObject &payload)
{
    QString userId;
    const QJsonValue sub = payload.value("sub"_L1);
    if (sub.isString())
        userId = sub.toString();
    else if (sub.isDouble() && std::trunc(sub.toDouble()) == sub.toDouble()
             && std::abs(sub.toDouble()) < 9.0e15)
        userId = QString::number(qint64(sub.toDouble()));
    if (userId.isEmpty())
        return refuse(u"token has no subject (sub)"_s);

    QStringList roleList;
    const QJsonValue roles = payload.value("roles"_L1);
    if (roles.isString()) {
        roleList = roles.toString().split(u' ', Qt::SkipEmptyParts);
    } else if (roles.isArray()) {
        for (const QJsonValue role : roles.toArray()) {
            if (!role.isString())
                return malformed(u"roles must be strings"_s);
            roleList.append(role.toString());
        }
    } else if (!roles.isUndefined() && !roles.isNull()) {
        return malformed(u"roles must be an array of strings or a string"_s);
    }
    Identity identity;
    identity.setUserId(userId);
    identity.setRoles(roleList);
    identity.setClaims(payload.toVariantMap());
    return identity;
}

// The first millisecond at which checkClaims() refuses a token with this `exp`: the server
// closes the connection then, not a leeway earlier than a fresh verification would. An absurd
// exp (1e300) saturates instead of overflowing; it is as good as never.
qint64 expiresAtMs(double exp, qint64 leeway)
{
    const double ms = std::ceil((exp + double(leeway)) * 1000.0);
    constexpr double Largest = 9.0e18; // below 2^63, exactly representable as a double
    if (!(ms < Largest))
        return std::numeric_limits<qint64>::max();
    return qint64(ms);
}

} // namespace

std::optional<QByteArray> decodeBase64Url(QByteArrayView text)
{
    if (text.size() % 4 == 1)
        return std::nullopt;
    for (const char c : text) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '-' || c == '_';
        if (!ok)
            return std::nullopt;
    }
    const auto options = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;
    const QByteArray encoded = text.toByteArray();
    auto decoded =
        QByteArray::fromBase64Encoding(encoded, options | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return std::nullopt;
    // Unused low bits of the last character must be zero: one token, one spelling.
    if (decoded.decoded.toBase64(options) != encoded)
        return std::nullopt;
    return std::move(decoded.decoded);
}

Result<JwtSettings> JwtSettings::fromConfig(const QVariantMap &config)
{
    JwtSettings settings;
    const auto prefixed = [](const QString &message) {
        return fail(500, u"mtw-auth-jwt: "_s + message);
    };
    if (const QVariant secret = config.value(u"secret"_s); secret.isValid()) {
        if (secret.typeId() != QMetaType::QString)
            return prefixed(u"secret: expected a string"_s);
        settings.secret = secret.toString().toUtf8();
    }
    if (const QVariant file = config.value(u"public_key_file"_s); file.isValid()) {
        if (file.typeId() != QMetaType::QString)
            return prefixed(u"public_key_file: expected a string"_s);
        settings.publicKeyFile = file.toString().trimmed();
    }
    if (const QVariant url = config.value(u"jwks_url"_s); url.isValid()) {
        // Shown without user info or query: either may hold a credential.
        const QUrl parsed(url.toString().trimmed(), QUrl::StrictMode);
        const QString safe = parsed.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery);
        if (url.typeId() != QMetaType::QString || !parsed.isValid() || parsed.host().isEmpty()
            || (parsed.scheme() != "http"_L1 && parsed.scheme() != "https"_L1)) {
            return prefixed(u"jwks_url: expected an http:// or https:// URL, got \"%1\""_s.arg(
                url.typeId() == QMetaType::QString ? safe : shown(url)));
        }
        settings.jwksUrl = parsed.toString();
    }
    if (const QVariant file = config.value(u"jwks_file"_s); file.isValid()) {
        if (file.typeId() != QMetaType::QString || file.toString().trimmed().isEmpty())
            return prefixed(u"jwks_file: expected a file path, got \"%1\""_s.arg(shown(file)));
        settings.jwksFile = file.toString().trimmed();
    }
    if (!settings.jwksUrl.isEmpty() && !settings.jwksFile.isEmpty())
        return prefixed(u"set jwks_url or jwks_file, not both"_s);
    if (settings.usesJwks() && !settings.publicKeyFile.isEmpty()) {
        return prefixed(u"set public_key_file or %1, not both (a key set already holds the public "
                        "keys)"_s.arg(settings.jwksUrl.isEmpty() ? u"jwks_file"_s : u"jwks_url"_s));
    }
    const auto seconds = [&](const QString &key, qint64 low, qint64 high, qint64 *out) {
        const QVariant value = config.value(key);
        if (!value.isValid())
            return true;
        const auto number = toInteger(value);
        if (!number || *number < low || *number > high)
            return false;
        *out = *number;
        return true;
    };
    for (const auto &[key, low, high, out] :
         {std::tuple{u"jwks_refresh"_s, 1, 86400, &settings.jwksRefresh},
          std::tuple{u"jwks_min_refresh"_s, 1, 3600, &settings.jwksMinRefresh}}) {
        if (!seconds(key, low, high, out)) {
            return prefixed(
                u"%1: expected whole seconds %2-%3, got \"%4\""_s.arg(key).arg(low).arg(high).arg(
                    shown(config.value(key))));
        }
        if (config.contains(key) && !settings.usesJwks())
            return prefixed(u"%1: needs jwks_url or jwks_file"_s.arg(key));
    }
    if (settings.secret.isEmpty() && settings.publicKeyFile.isEmpty() && !settings.usesJwks()) {
        const bool emptyGiven =
            config.contains(u"secret"_s) || config.contains(u"public_key_file"_s);
        return prefixed(emptyGiven ? u"set secret, public_key_file, jwks_url or jwks_file (the "
                                     "value given is empty: is its environment variable set?)"_s
                                   : u"set secret, public_key_file, jwks_url or jwks_file"_s);
    }
    if (const QVariant value = config.value(u"algorithms"_s); value.isValid()) {
        const auto list = toStringList(value);
        if (!list)
            return prefixed(u"algorithms: expected an array of strings such as [\"RS256\"]"_s);
        settings.algorithms = *list;
    }
    if (const QVariant value = config.value(u"issuer"_s); value.isValid()) {
        if (value.typeId() != QMetaType::QString)
            return prefixed(u"issuer: expected a string"_s);
        settings.issuer = value.toString();
    }
    if (const QVariant value = config.value(u"audience"_s); value.isValid()) {
        const bool isString = value.typeId() == QMetaType::QString;
        const auto list = isString ? std::optional<QStringList>(QStringList{value.toString()})
                                   : toStringList(value);
        if (!list)
            return prefixed(u"audience: expected a string or an array of strings"_s);
        for (const QString &audience : *list) {
            if (!audience.isEmpty())
                settings.audiences.append(audience);
        }
    }
    if (const QVariant value = config.value(u"leeway"_s); value.isValid()) {
        const auto leeway = toInteger(value);
        if (!leeway || *leeway < 0 || *leeway > 24 * 3600)
            return prefixed(
                u"leeway: expected whole seconds 0-86400, got \"%1\""_s.arg(shown(value)));
        settings.leeway = *leeway;
    }
    if (const QVariant value = config.value(u"required"_s); value.isValid()) {
        const auto required = toBoolean(value);
        if (!required)
            return prefixed(u"required: expected true or false, got \"%1\""_s.arg(shown(value)));
        settings.required = *required;
    }
    if (const QVariant value = config.value(u"allow_no_exp"_s); value.isValid()) {
        const auto allow = toBoolean(value);
        if (!allow) {
            return prefixed(
                u"allow_no_exp: expected true or false, got \"%1\""_s.arg(shown(value)));
        }
        settings.allowNoExp = *allow;
    }
    return settings;
}

JwtVerifier::~JwtVerifier() = default;

Result<std::shared_ptr<const JwtVerifier>>
JwtVerifier::create(const JwtSettings &settings, Clock clock, std::shared_ptr<const JwkSet> keys)
{
    std::shared_ptr<JwtVerifier> verifier(new JwtVerifier);
    verifier->m_keys = std::move(keys);
    verifier->m_settings = settings;
    verifier->m_clock =
        clock ? std::move(clock) : [] { return QDateTime::currentSecsSinceEpoch(); };
    const auto prefixed = [](const QString &message) {
        return fail(500, u"mtw-auth-jwt: "_s + message);
    };

    if (settings.secret.isEmpty() && settings.publicKeyFile.isEmpty() && !settings.usesJwks())
        return prefixed(u"set secret, public_key_file, jwks_url or jwks_file"_s);
    if (settings.usesJwks() && !settings.publicKeyFile.isEmpty())
        return prefixed(u"set public_key_file or a JWKS, not both"_s);
    if (!settings.publicKeyFile.isEmpty()) {
        QFile file(settings.publicKeyFile);
        if (!file.open(QIODevice::ReadOnly)) {
            return prefixed(u"cannot read public_key_file %1: %2"_s.arg(settings.publicKeyFile,
                                                                        file.errorString()));
        }
        verifier->m_publicKey = readPublicKey(file.read(1024 * 1024));
        if (!verifier->m_publicKey) {
            return prefixed(u"public_key_file %1 holds no PEM public key or certificate"_s.arg(
                settings.publicKeyFile));
        }
    }

    EVP_PKEY *key = verifier->m_publicKey.get();
    if (settings.algorithms.isEmpty()) {
        // Derived from the key material, so that a key can only verify its own kind of
        // signature: an RSA public key is never used as an HMAC secret.
        bool keyUsable = false;
        for (const Algorithm &algorithm : knownAlgorithms()) {
            // A key set may hold any asymmetric key; verify() checks each token's key fits.
            const bool fromSet = settings.usesJwks() && algorithm.family != Family::Hmac;
            if (fromSet || keyFits(algorithm, key, settings.secret)) {
                verifier->m_algorithms.append(algorithm.name);
                keyUsable = keyUsable || algorithm.family != Family::Hmac;
            }
        }
        if (key && !keyUsable) {
            return prefixed(u"public_key_file %1 holds %2, which no supported algorithm "
                            "(RS256/384/512, ES256/384/512) uses"_s.arg(settings.publicKeyFile,
                                                                        describeKey(key)));
        }
    } else {
        for (const QString &name : settings.algorithms) {
            if (name.compare("none"_L1, Qt::CaseInsensitive) == 0)
                return prefixed(u"algorithms: algorithm 'none' is not allowed"_s);
            const Algorithm *algorithm = findAlgorithm(name);
            if (!algorithm) {
                return prefixed(u"algorithms: unknown algorithm '%1' (supported: HS256, HS384, "
                                "HS512, RS256, RS384, RS512, ES256, ES384, ES512)"_s.arg(name));
            }
            const bool fromSet = settings.usesJwks() && algorithm->family != Family::Hmac;
            if (!fromSet && !keyFits(*algorithm, key, settings.secret)) {
                QString needs;
                switch (algorithm->family) {
                case Family::Hmac:
                    needs = u"a secret"_s;
                    break;
                case Family::Rsa:
                    needs = u"an RSA public_key_file (or a JWKS)"_s;
                    break;
                case Family::Ecdsa:
                    needs = u"a public_key_file with an EC key on %1 (or a JWKS)"_s.arg(
                        QLatin1StringView(algorithm->groupName));
                    break;
                }
                return prefixed(u"algorithms: %1 needs %2"_s.arg(name, needs));
            }
            if (!verifier->m_algorithms.contains(name))
                verifier->m_algorithms.append(name);
        }
    }
    return std::shared_ptr<const JwtVerifier>(std::move(verifier));
}

Result<Identity> JwtVerifier::verify(QByteArrayView token) const
{
    if (token.isEmpty())
        return malformed(u"empty token"_s);
    if (token.size() > MaxTokenSize)
        return malformed(u"longer than %1 bytes"_s.arg(MaxTokenSize));
    const qsizetype firstDot = token.indexOf('.');
    const qsizetype secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
    if (firstDot < 0 || secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0)
        return malformed(u"expected three dot-separated parts"_s);
    const QByteArrayView headerPart = token.first(firstDot);
    const QByteArrayView payloadPart = token.sliced(firstDot + 1, secondDot - firstDot - 1);
    const QByteArrayView signaturePart = token.sliced(secondDot + 1);

    const std::optional<QJsonObject> header = decodeJsonObject(headerPart);
    if (!header)
        return malformed(u"the header is not base64url-encoded JSON object"_s);
    const QJsonValue algValue = header->value("alg"_L1);
    if (!algValue.isString())
        return malformed(u"the header has no alg"_s);
    const QString alg = algValue.toString();
    if (alg.compare("none"_L1, Qt::CaseInsensitive) == 0)
        return refuse(u"algorithm 'none' is not allowed"_s);
    if (!m_algorithms.contains(alg)) {
        // Show the name only when it is a real one: it goes back to the client.
        return refuse(findAlgorithm(alg) ? u"algorithm '%1' is not allowed"_s.arg(alg)
                                         : u"unsupported algorithm"_s);
    }
    // RFC 7515 4.1.11: extensions we do not understand must not be ignored.
    if (header->contains("crit"_L1))
        return refuse(u"unsupported critical header parameters"_s);

    const std::optional<QByteArray> signature = decodeBase64Url(signaturePart);
    if (!signature)
        return malformed(u"the signature is not base64url-encoded"_s);
    if (const auto checked = checkSignature(alg, *header, token.first(secondDot), *signature);
        !checked)
        return tl::unexpected(checked.error());

    const std::optional<QJsonObject> payload = decodeJsonObject(payloadPart);
    if (!payload)
        return malformed(u"the payload is not a base64url-encoded JSON object"_s);
    if (const auto checked = checkClaims(*payload); !checked)
        return tl::unexpected(checked.error());

    auto identity = identityFrom(*payload);
    if (identity) {
        // checkClaims() saw to it that exp, when present, is a number not yet past.
        const QJsonValue exp = payload->value("exp"_L1);
        identity->setExpiresAt(exp.isDouble() ? expiresAtMs(exp.toDouble(), m_settings.leeway) : 0);
    }
    return identity;
}

bool JwtVerifier::isUnknownKey(const Error &error)
{
    return error.code == 401 && error.message == unknownKeyMessage();
}

// The public key for an RS*/ES* token: the configured one, or the key set's entry for the
// token's kid (any entry when the set has one key and the token no kid), which must fit alg.
Result<EVP_PKEY *> JwtVerifier::keyFor(const QString &alg, const QJsonObject &header) const
{
    if (!m_settings.usesJwks())
        return m_publicKey.get(); // create() checked that the key fits every allowed alg
    if (!m_keys)
        return fail(503, u"signing keys are not loaded yet; try again later"_s);
    const QJsonValue kid = header.value("kid"_L1);
    const Jwk *jwk = nullptr;
    if (kid.isString()) {
        jwk = m_keys->find(kid.toString());
        if (!jwk)
            return refuse(unknownKeyMessage());
    } else if (!kid.isUndefined()) {
        return malformed(u"kid is not a string"_s);
    } else if (m_keys->keys.size() == 1) {
        jwk = &m_keys->keys.constFirst();
    } else {
        return refuse(u"token has no kid and the key set has several keys"_s);
    }
    const Algorithm *algorithm = findAlgorithm(alg);
    if (!algorithm || !keyFits(*algorithm, jwk->key.get(), {})
        || (!jwk->alg.isEmpty() && jwk->alg != alg)) {
        return refuse(u"algorithm '%1' does not fit the signing key"_s.arg(alg));
    }
    return jwk->key.get();
}

Result<void> JwtVerifier::checkSignature(const QString &alg,
                                         const QJsonObject &header,
                                         QByteArrayView signingInput,
                                         const QByteArray &signature) const
{
    const Algorithm *algorithm = findAlgorithm(alg);
    bool valid = false;
    if (algorithm && algorithm->family == Family::Hmac) {
        valid = hmacMatches(*algorithm, m_settings.secret, signingInput, signature);
    } else if (algorithm) {
        const auto key = keyFor(alg, header);
        if (!key)
            return tl::unexpected(key.error());
        valid = *key && publicKeyVerifies(*algorithm, *key, signingInput, signature);
    }
    if (!valid)
        return refuse(u"invalid token signature"_s);
    return {};
}

Result<void> JwtVerifier::checkClaims(const QJsonObject &payload) const
{
    const double now = double(m_clock());
    const double leeway = double(m_settings.leeway);
    if (const QJsonValue exp = payload.value("exp"_L1); !exp.isUndefined()) {
        if (!exp.isDouble())
            return malformed(u"exp is not a number"_s);
        if (now >= exp.toDouble() + leeway)
            return refuse(u"token expired"_s);
    } else if (!m_settings.allowNoExp) {
        // A stolen token without exp would open connections forever.
        return refuse(u"token has no expiry (exp)"_s);
    }
    if (const QJsonValue nbf = payload.value("nbf"_L1); !nbf.isUndefined()) {
        if (!nbf.isDouble())
            return malformed(u"nbf is not a number"_s);
        if (now + leeway < nbf.toDouble())
            return refuse(u"token not yet valid"_s);
    }
    if (!m_settings.issuer.isEmpty()) {
        const QJsonValue iss = payload.value("iss"_L1);
        if (!iss.isString() || iss.toString() != m_settings.issuer)
            return refuse(u"token issuer mismatch"_s);
    }
    if (!m_settings.audiences.isEmpty()) {
        const QJsonValue aud = payload.value("aud"_L1);
        QStringList audiences;
        if (aud.isString()) {
            audiences.append(aud.toString());
        } else if (aud.isArray()) {
            for (const QJsonValue item : aud.toArray()) {
                if (item.isString())
                    audiences.append(item.toString());
            }
        }
        const bool matches =
            std::any_of(audiences.cbegin(), audiences.cend(), [this](const QString &candidate) {
                return m_settings.audiences.contains(candidate);
            });
        if (!matches)
            return refuse(u"token audience mismatch"_s);
    }
    return {};
}

} // namespace Mtw::AuthJwt
