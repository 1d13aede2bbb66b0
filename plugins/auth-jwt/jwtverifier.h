// SPDX-License-Identifier: MIT
// Verifies JSON Web Tokens (RFC 7519, compact JWS) for the mtw-auth-jwt module. Kept apart from
// the module so that it can be tested without a server.
#pragma once

#include "jwks.h"

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
    // Rotating keys: a JSON Web Key Set fetched from jwksUrl or read from jwksFile (one of them;
    // never together with publicKeyFile), refreshed every jwksRefresh seconds and, for a token
    // whose kid is unknown, at most every jwksMinRefresh seconds.
    QString jwksUrl;
    QString jwksFile;
    qint64 jwksRefresh = 300;
    qint64 jwksMinRefresh = 30;

    bool usesJwks() const { return !jwksUrl.isEmpty() || !jwksFile.isEmpty(); }

    // Reads the config table: secret, public_key_file, jwks_url, jwks_file, jwks_refresh,
    // jwks_min_refresh, algorithms, issuer, audience, leeway, required, allow_no_exp. Values may be strings (after ${ENV} expansion), so "45" and
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
    // With settings.usesJwks(), RS*/ES* tokens are verified with `keys`, the key picked by the
    // token's kid (null keys: not loaded yet, such tokens get 503).
    static Result<std::shared_ptr<const JwtVerifier>>
    create(const JwtSettings &settings, Clock clock = {}, std::shared_ptr<const JwkSet> keys = {});

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

    // The refusal of a token whose kid is not in the key set: the module refreshes the set.
    static bool isUnknownKey(const Error &error);
    static QString unknownKeyMessage() { return QStringLiteral("unknown signing key (kid)"); }

private:
    JwtVerifier() = default;
    Result<EVP_PKEY *> keyFor(const QString &alg, const QJsonObject &header) const;
    Result<void> checkSignature(const QString &alg,
                                const QJsonObject &header,
                                QByteArrayView signingInput,
                                const QByteArray &signature) const;
    Result<void> checkClaims(const QJsonObject &payload) const;

    JwtSettings m_settings;
    QStringList m_algorithms;
    std::shared_ptr<EVP_PKEY> m_publicKey; // RSA or EC; null when only a secret is configured
    Clock m_clock;
    std::shared_ptr<const JwkSet> m_keys; // with settings.usesJwks() only
};

// Strict base64url without padding (RFC 7515 section 2): only [A-Za-z0-9_-], canonical trailing
// bits. Returns nullopt for anything else.
std::optional<QByteArray> decodeBase64Url(QByteArrayView text);

} // namespace Mtw::AuthJwt
