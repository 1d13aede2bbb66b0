// SPDX-License-Identifier: MIT
// Test helpers shared by tst_jwtverifier and the integration test tst_jwt: a JWK (RFC 7517)
// for an OpenSSL public key, and compact JWS tokens signed with RS256 or ES256/384 and a kid.
#pragma once

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <memory>

namespace JwkTest {

inline QByteArray b64url(const QByteArray &bytes)
{
    return bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

inline QByteArray bnParam(EVP_PKEY *key, const char *name, int padTo = 0)
{
    BIGNUM *bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        return {};
    const int size = padTo > 0 ? padTo : BN_num_bytes(bn);
    QByteArray out(size, '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char *>(out.data()), size);
    BN_free(bn);
    return out;
}

// The public JWK of an RSA or EC (P-256/384/521) key, with this kid (none when empty).
inline QJsonObject jwkFor(EVP_PKEY *key, const QString &kid)
{
    QJsonObject jwk;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        jwk = {
            {QStringLiteral("kty"), QStringLiteral("RSA")},
            {QStringLiteral("n"), QString::fromLatin1(b64url(bnParam(key, OSSL_PKEY_PARAM_RSA_N)))},
            {QStringLiteral("e"),
             QString::fromLatin1(b64url(bnParam(key, OSSL_PKEY_PARAM_RSA_E)))}};
    } else {
        const int bits = EVP_PKEY_get_bits(key);
        const int size = (bits + 7) / 8;
        const QString crv = bits == 256 ? QStringLiteral("P-256")
            : bits == 384               ? QStringLiteral("P-384")
                                        : QStringLiteral("P-521");
        jwk = {{QStringLiteral("kty"), QStringLiteral("EC")},
               {QStringLiteral("crv"), crv},
               {QStringLiteral("x"),
                QString::fromLatin1(b64url(bnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, size)))},
               {QStringLiteral("y"),
                QString::fromLatin1(b64url(bnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, size)))}};
    }
    if (!kid.isEmpty())
        jwk.insert(QStringLiteral("kid"), kid);
    return jwk;
}

inline QByteArray jwks(const QJsonArray &keys)
{
    return QJsonDocument(QJsonObject{{QStringLiteral("keys"), keys}}).toJson();
}

// The signature as OpenSSL makes it (DER for ECDSA); empty on failure.
inline QByteArray signDigest(EVP_PKEY *key, const EVP_MD *digest, const QByteArray &input)
{
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    size_t length = 0;
    const auto *bytes = reinterpret_cast<const unsigned char *>(input.constData());
    if (EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, key) != 1
        || EVP_DigestSign(ctx.get(), nullptr, &length, bytes, size_t(input.size())) != 1) {
        return {};
    }
    QByteArray signature(qsizetype(length), '\0');
    auto *out = reinterpret_cast<unsigned char *>(signature.data());
    if (EVP_DigestSign(ctx.get(), out, &length, bytes, size_t(input.size())) != 1)
        return {};
    signature.resize(qsizetype(length));
    return signature;
}

// "RS256", "ES256" or "ES384" over "header.payload"; EC signatures in JOSE form (r || s).
inline QByteArray sign(EVP_PKEY *key, const QString &alg, const QByteArray &input)
{
    const EVP_MD *digest = alg.endsWith(QLatin1String("384")) ? EVP_sha384() : EVP_sha256();
    const QByteArray signature = signDigest(key, digest, input);
    if (!alg.startsWith(QLatin1String("ES")))
        return signature;
    const int half = alg == QLatin1String("ES384") ? 48 : 32;
    const auto *der = reinterpret_cast<const unsigned char *>(signature.constData());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
        d2i_ECDSA_SIG(nullptr, &der, long(signature.size())),
        &ECDSA_SIG_free);
    if (!sig)
        return {};
    QByteArray jose(2 * half, '\0');
    auto *joseBytes = reinterpret_cast<unsigned char *>(jose.data());
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), joseBytes, half);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), joseBytes + half, half);
    return jose;
}

// A compact JWS with {"alg": alg, "kid": kid} (no kid when empty) over these claims.
inline QByteArray
token(EVP_PKEY *key, const QString &alg, const QString &kid, const QJsonObject &claims)
{
    QJsonObject header{{QStringLiteral("alg"), alg},
                       {QStringLiteral("typ"), QStringLiteral("JWT")}};
    if (!kid.isEmpty())
        header.insert(QStringLiteral("kid"), kid);
    const QByteArray input = b64url(QJsonDocument(header).toJson(QJsonDocument::Compact)) + '.'
        + b64url(QJsonDocument(claims).toJson(QJsonDocument::Compact));
    return input + '.' + b64url(sign(key, alg, input));
}

} // namespace JwkTest
