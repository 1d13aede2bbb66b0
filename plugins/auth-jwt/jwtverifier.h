// SPDX-License-Identifier: MIT
// Verifies JSON Web Tokens (RFC 7519, compact JWS) for the mtw-auth-jwt module. Kept apart from
// the module so that it can be tested without a server.
#pragma once

#include <mtw/result.h>
#include <mtw/services.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>

typedef struct evp_pkey_st EVP_PKEY;

namespace Mtw::AuthJwt {

// What a verifier accepts. Built from the module's [[modules]] config by fromConfig().
struct JwtSettings
{
    QByteArray secret;      // HMAC key for HS256/384/512; empty = none
    QString publicKeyFile;  // PEM public key (or certificate) for RS* / ES*; empty = none
    QStringList algorithms; // explicit allow-list; empty = derived from the key material
    QString issuer;         // required `iss` when non-empty
    QStringList audiences;  // `aud` must contain one of these when non-empty
    qint64 leeway = 30;     // seconds of clock skew tolerated for exp and nbf
    bool required = false;  // the module's `required` key (the verifier does not use it)
    // A token without `exp` would stay valid forever, so it is refused unless this says
    // otherwise (an issuer that never sets exp and revokes by other means).
    bool allowNoExp = false;

    // Reads the config table: secret, public_key_file, algorithms, issuer, audience, leeway,
    // required, allow_no_exp. Values may be strings (after ${ENV} expansion), so "45" and
    // "true" are accepted. Errors name the key and the offending value.
    static Result<JwtSettings> fromConfig(const QVariantMap &config);
};

// A thread-safe, immutable verifier: verify() may be called from many threads at once.
class JwtVerifier
{
public:
    // Seconds since the Unix epoch; replaceable so that tests control time.
    using Clock = std::function<qint64()>;

    // Loads the key material and settles the allowed algorithms. Errors are for the admin:
    // a missing key, an unreadable key file, an algorithm the key cannot verify.
    static Result<std::shared_ptr<const JwtVerifier>> create(const JwtSettings &settings,
                                                             Clock clock = {});

    ~JwtVerifier();
    JwtVerifier(const JwtVerifier &) = delete;
    JwtVerifier &operator=(const JwtVerifier &) = delete;

    // Checks the token and returns who it belongs to: userId = `sub`, roles = `roles` (array of
    // strings or a space-separated string), claims = the whole payload, expiresAt = the moment
    // this verifier starts refusing the token, (exp + leeway) * 1000 ms, or 0 without exp. A
    // refusal is an Error 401 whose message a client may see ("token expired", "invalid token
    // signature", ...). Never throws and never crashes, whatever the input.
    Result<Identity> verify(QByteArrayView token) const;

    // The algorithms this verifier accepts, e.g. {"HS256", "HS384", "HS512"}.
    QStringList algorithms() const { return m_algorithms; }

    // Tokens longer than this are refused before any parsing.
    static constexpr qsizetype MaxTokenSize = 16 * 1024;

private:
    JwtVerifier() = default;
    Result<void> checkSignature(const QString &alg,
                                QByteArrayView signingInput,
                                const QByteArray &signature) const;
    Result<void> checkClaims(const QJsonObject &payload) const;

    JwtSettings m_settings;
    QStringList m_algorithms;
    std::shared_ptr<EVP_PKEY> m_publicKey; // RSA or EC; null when only a secret is configured
    Clock m_clock;
};

// Strict base64url without padding (RFC 7515 section 2): only [A-Za-z0-9_-], canonical trailing
// bits. Returns nullopt for anything else.
std::optional<QByteArray> decodeBase64Url(QByteArrayView text);

} // namespace Mtw::AuthJwt
