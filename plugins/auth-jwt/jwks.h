// SPDX-License-Identifier: MIT
// JSON Web Key Sets (RFC 7517) for mtw-auth-jwt: RSA (n, e) and EC P-256/P-384/P-521 (x, y)
// public keys turned into OpenSSL 3 EVP_PKEYs. No network here: the module fetches the bytes.
#pragma once

#include <mtw/result.h>

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <memory>

typedef struct evp_pkey_st EVP_PKEY;

namespace Mtw::AuthJwt {

// One usable verification key of a set.
struct Jwk
{
    QString kid;                   // empty when the JWK has none
    QString alg;                   // the JWK's `alg`, empty when absent (then any fitting alg)
    std::shared_ptr<EVP_PKEY> key; // RSA or EC public key
};

// An immutable key set; shared between verifiers and threads through shared_ptr<const JwkSet>.
struct JwkSet
{
    QList<Jwk> keys;
    QStringList skipped; // one line per key left out and why, for the log (no key material)

    const Jwk *find(const QString &kid) const;
    QStringList kids() const;
};

// One JWK object to a public key; the error names the member that is wrong.
Result<std::shared_ptr<EVP_PKEY>> publicKeyFromJwk(const QJsonObject &jwk);

// A whole set: {"keys": [...]}. Keys with an unsupported kty or crv, use = "enc", or bad
// members are skipped (listed in JwkSet::skipped); no usable key at all, or bytes that are not
// a JSON object with a `keys` array, is an error.
Result<std::shared_ptr<const JwkSet>> parseJwks(const QByteArray &json);

} // namespace Mtw::AuthJwt
