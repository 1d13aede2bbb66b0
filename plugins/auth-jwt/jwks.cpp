// SPDX-License-Identifier: MIT
#include "jwks.h"

#include "jwtverifier.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <utility>

namespace Mtw::AuthJwt {

using namespace Qt::StringLiterals;

namespace {

using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)>;
using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

// RSA moduli below this are refused: they can be factored.
constexpr int MinimumRsaBits = 2048;

tl::unexpected<Error> bad(const QString &message)
{
    return fail(400, message);
}

// A base64url member that must be present and non-empty.
Result<QByteArray> member(const QJsonObject &jwk, const char *name)
{
    const QJsonValue value = jwk.value(QLatin1StringView(name));
    if (!value.isString() || value.toString().isEmpty())
        return bad(u"member '%1' is missing or not a string"_s.arg(QLatin1StringView(name)));
    const auto bytes = decodeBase64Url(value.toString().toLatin1());
    if (!bytes || bytes->isEmpty())
        return bad(u"member '%1' is not base64url"_s.arg(QLatin1StringView(name)));
    return *bytes;
}

// Two members a key type needs, e.g. n and e, or x and y.
Result<std::pair<QByteArray, QByteArray>>
members(const QJsonObject &jwk, const char *first, const char *second)
{
    const auto a = member(jwk, first);
    if (!a)
        return tl::unexpected(a.error());
    const auto b = member(jwk, second);
    if (!b)
        return tl::unexpected(b.error());
    return std::pair{*a, *b};
}

// `check`: run OpenSSL's public key check. Only for EC (is the point on the curve): for RSA,
// OpenSSL 3.0's check (SP 800-56B) runs a Miller-Rabin test with random bases on n and refuses
// a modulus when a base happens to reveal a factor, so the same valid key was refused about once
// in 3,000 parses (fuzz_jwks found it): a refresh could drop a good key. rsaKey() checks what
// verification needs deterministically instead.
Result<std::shared_ptr<EVP_PKEY>> fromParams(const char *type, OSSL_PARAM_BLD *builder, bool check)
{
    ParamPtr params(OSSL_PARAM_BLD_to_param(builder), &OSSL_PARAM_free);
    PkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), &EVP_PKEY_CTX_free);
    EVP_PKEY *key = nullptr;
    if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1
        || EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return bad(u"OpenSSL refused the key"_s);
    }
    std::shared_ptr<EVP_PKEY> owned(key, &EVP_PKEY_free);
    if (!check)
        return owned;
    // OpenSSL 3.0 refuses an EC point off its curve in fromdata already; check the public key
    // once more for whatever a provider lets through.
    PkeyCtxPtr checker(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr), &EVP_PKEY_CTX_free);
    if (!checker || EVP_PKEY_public_check(checker.get()) != 1)
        return bad(u"the public key is invalid"_s);
    return owned;
}

Result<std::shared_ptr<EVP_PKEY>> rsaKey(const QJsonObject &jwk)
{
    const auto ne = members(jwk, "n", "e");
    if (!ne)
        return tl::unexpected(ne.error());
    const QByteArray *n = &ne->first;
    const QByteArray *e = &ne->second;
    const auto *nBytes = reinterpret_cast<const unsigned char *>(n->constData());
    const auto *eBytes = reinterpret_cast<const unsigned char *>(e->constData());
    BnPtr modulus(BN_bin2bn(nBytes, int(n->size()), nullptr), &BN_free);
    BnPtr exponent(BN_bin2bn(eBytes, int(e->size()), nullptr), &BN_free);
    if (!modulus || !exponent)
        return bad(u"OpenSSL refused the key"_s);
    if (BN_num_bits(modulus.get()) < MinimumRsaBits)
        return bad(u"RSA modulus of %1 bits is shorter than %2"_s.arg(BN_num_bits(modulus.get()))
                       .arg(MinimumRsaBits));
    // What OpenSSL's SP 800-56B check would refuse for certain (see fromParams): an even
    // modulus, an even or too small exponent, an exponent not below the modulus.
    if (!BN_is_odd(modulus.get()))
        return bad(u"the RSA modulus is even"_s);
    if (!BN_is_odd(exponent.get()) || BN_num_bits(exponent.get()) < 2
        || BN_cmp(exponent.get(), modulus.get()) >= 0)
        return bad(u"the RSA exponent must be odd, at least 3 and below the modulus"_s);
    ParamBldPtr builder(OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
    if (!builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1
        || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
        return bad(u"OpenSSL refused the key"_s);
    }
    return fromParams("RSA", builder.get(), false);
}

Result<std::shared_ptr<EVP_PKEY>> ecKey(const QJsonObject &jwk)
{
    struct Curve
    {
        QLatin1StringView crv;
        const char *group;
        int size;
    };
    static const Curve curves[] = {{"P-256"_L1, "prime256v1", 32},
                                   {"P-384"_L1, "secp384r1", 48},
                                   {"P-521"_L1, "secp521r1", 66}};
    const QString crv = jwk.value("crv"_L1).toString();
    const Curve *curve = nullptr;
    for (const Curve &candidate : curves) {
        if (crv == candidate.crv)
            curve = &candidate;
    }
    if (!curve) {
        return bad(crv.isEmpty() ? u"member 'crv' is missing"_s
                                 : u"unsupported crv '%1'"_s.arg(crv.left(32)));
    }
    const auto xy = members(jwk, "x", "y");
    if (!xy)
        return tl::unexpected(xy.error());
    const QByteArray *x = &xy->first;
    const QByteArray *y = &xy->second;
    // RFC 7518 6.2.1.2: x and y are exactly the field size.
    if (x->size() != curve->size || y->size() != curve->size)
        return bad(u"members 'x' and 'y' must be %1 bytes for %2"_s.arg(curve->size).arg(crv));
    const QByteArray point = QByteArray(1, '\x04') + *x + *y; // uncompressed SEC1 point
    ParamBldPtr builder(OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
    if (!builder
        || OSSL_PARAM_BLD_push_utf8_string(builder.get(),
                                           OSSL_PKEY_PARAM_GROUP_NAME,
                                           curve->group,
                                           0)
            != 1
        || OSSL_PARAM_BLD_push_octet_string(builder.get(),
                                            OSSL_PKEY_PARAM_PUB_KEY,
                                            point.constData(),
                                            size_t(point.size()))
            != 1) {
        return bad(u"OpenSSL refused the key"_s);
    }
    auto key = fromParams("EC", builder.get(), true);
    if (!key)
        return bad(u"the point (x, y) is not on %1"_s.arg(crv));
    return key;
}

} // namespace

const Jwk *JwkSet::find(const QString &kid) const
{
    for (const Jwk &jwk : keys) {
        if (jwk.kid == kid)
            return &jwk;
    }
    return nullptr;
}

QStringList JwkSet::kids() const
{
    QStringList list;
    for (const Jwk &jwk : keys)
        list.append(jwk.kid.isEmpty() ? u"(no kid)"_s : jwk.kid);
    return list;
}

Result<std::shared_ptr<EVP_PKEY>> publicKeyFromJwk(const QJsonObject &jwk)
{
    // OpenSSL keeps errors in a per-thread queue; leave it empty for whoever uses it next.
    struct Guard
    {
        ~Guard() { ERR_clear_error(); }
    } guard;
    const QJsonValue kty = jwk.value("kty"_L1);
    if (!kty.isString())
        return bad(u"member 'kty' is missing"_s);
    if (const QJsonValue use = jwk.value("use"_L1);
        !use.isUndefined() && use.toString() != "sig"_L1)
        return bad(u"use '%1' is not 'sig'"_s.arg(use.toString().left(32)));
    if (kty == "RSA"_L1)
        return rsaKey(jwk);
    if (kty == "EC"_L1)
        return ecKey(jwk);
    return bad(u"unsupported kty '%1'"_s.arg(kty.toString().left(32)));
}

Result<std::shared_ptr<const JwkSet>> parseJwks(const QByteArray &json)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError)
        return bad(u"malformed JSON at offset %1: %2"_s.arg(error.offset).arg(error.errorString()));
    const QJsonValue keys = document.object().value("keys"_L1);
    if (!document.isObject() || !keys.isArray())
        return bad(u"not a JWK set (expected an object with a \"keys\" array)"_s);
    auto set = std::make_shared<JwkSet>();
    int index = 0;
    for (const QJsonValue value : keys.toArray()) {
        const QJsonObject object = value.toObject();
        const QString kid = object.value("kid"_L1).toString();
        const QString name = kid.isEmpty() ? u"key %1"_s.arg(index) : u"key '%1'"_s.arg(kid);
        ++index;
        const QJsonValue alg = object.value("alg"_L1);
        if (!value.isObject()) {
            set->skipped.append(name + u": not an object"_s);
        } else if (!alg.isUndefined() && !alg.isString()) {
            set->skipped.append(name + u": member 'alg' is not a string"_s);
        } else if (!kid.isEmpty() && set->find(kid)) {
            set->skipped.append(name + u": duplicate kid"_s);
        } else if (const auto key = publicKeyFromJwk(object); !key) {
            set->skipped.append(name + u": "_s + key.error().message);
        } else {
            set->keys.append(Jwk{kid, alg.toString(), *key});
        }
    }
    if (set->keys.isEmpty()) {
        QString message = u"no usable key in the set"_s;
        if (!set->skipped.isEmpty())
            message += u" ("_s + set->skipped.join(u"; "_s) + u')';
        return bad(message);
    }
    return std::shared_ptr<const JwkSet>(std::move(set));
}

} // namespace Mtw::AuthJwt
