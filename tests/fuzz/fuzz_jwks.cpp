// SPDX-License-Identifier: MIT
// JSON Web Key Sets as mtw-auth-jwt reads them (plugins/auth-jwt/jwks.cpp): the bytes a jwks_url
// serves, which whoever runs (or sits in front of) the key server chooses.
#include "fuzz_check.h"
#include "jwks.h"
#include "jwktestutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>

using namespace Qt::StringLiterals;

// Invariants: a refusal has a message; an accepted set has keys, each RSA or EC, with distinct
// non-empty kids, and keys plus skipped entries account for the whole "keys" array; every key
// written back as a JWK parses to the same key.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    const auto set = Mtw::AuthJwt::parseJwks(bytes);
    if (!set) {
        MTW_FUZZ_CHECK(!set.error().message.isEmpty());
        return 0;
    }
    const Mtw::AuthJwt::JwkSet &keys = **set;
    MTW_FUZZ_CHECK(!keys.keys.isEmpty());
    const QJsonArray array = QJsonDocument::fromJson(bytes).object().value("keys"_L1).toArray();
    MTW_FUZZ_CHECK(keys.keys.size() + keys.skipped.size() == array.size());
    for (const Mtw::AuthJwt::Jwk &jwk : keys.keys) {
        MTW_FUZZ_CHECK(jwk.key);
        const int type = EVP_PKEY_get_base_id(jwk.key.get());
        MTW_FUZZ_CHECK(type == EVP_PKEY_RSA || type == EVP_PKEY_EC);
        if (!jwk.kid.isEmpty())
            MTW_FUZZ_CHECK(keys.find(jwk.kid) == &jwk);
        const auto again = Mtw::AuthJwt::publicKeyFromJwk(JwkTest::jwkFor(jwk.key.get(), jwk.kid));
        MTW_FUZZ_CHECK(again && EVP_PKEY_eq(again->get(), jwk.key.get()) == 1);
    }
    return 0;
}
