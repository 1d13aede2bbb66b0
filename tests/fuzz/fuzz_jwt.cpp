// SPDX-License-Identifier: MIT
// JSON Web Tokens as mtw-auth-jwt verifies them (plugins/auth-jwt/jwtverifier.cpp): the token any
// client sends in metadata.token, ?token= or a Bearer header, before it is authenticated.
#include "fuzz_check.h"
#include "jwtverifier.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>

using namespace Qt::StringLiterals;
using Mtw::AuthJwt::JwtSettings;
using Mtw::AuthJwt::JwtVerifier;

namespace {

constexpr qint64 Now = 1700000000;
const QByteArray Secret = "fuzz-secret-of-32-bytes-at-least!";

const JwtVerifier &verifier()
{
    static const std::shared_ptr<const JwtVerifier> instance = [] {
        JwtSettings settings;
        settings.secret = Secret;
        settings.allowNoExp = true; // so that payloads without exp reach the claim checks
        auto created = JwtVerifier::create(settings, [] { return Now; });
        MTW_FUZZ_CHECK(created.has_value());
        return *created;
    }();
    return *instance;
}

QByteArray b64(QByteArrayView bytes)
{
    return bytes.toByteArray().toBase64(QByteArray::Base64UrlEncoding
                                        | QByteArray::OmitTrailingEquals);
}

QByteArray hs256(QByteArrayView input)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(),
         Secret.constData(),
         int(Secret.size()),
         reinterpret_cast<const unsigned char *>(input.data()),
         size_t(input.size()),
         mac,
         &length);
    return QByteArray(reinterpret_cast<const char *>(mac), qsizetype(length));
}

// What an accepted token's identity must say about its payload.
void checkIdentity(const Mtw::Identity &identity, QByteArrayView payloadJson)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(payloadJson.toByteArray(), &error);
    MTW_FUZZ_CHECK(error.error == QJsonParseError::NoError && document.isObject());
    const QJsonObject payload = document.object();
    const QJsonValue sub = payload.value("sub"_L1);
    if (sub.isString())
        MTW_FUZZ_CHECK(identity.userId() == sub.toString());
    const QJsonValue roles = payload.value("roles"_L1);
    if (roles.isArray())
        MTW_FUZZ_CHECK(identity.roles().size() == roles.toArray().size());
    const QJsonValue exp = payload.value("exp"_L1);
    MTW_FUZZ_CHECK(exp.isUndefined() ? identity.expiresAt() == 0 : exp.isDouble());
    if (exp.isDouble())
        MTW_FUZZ_CHECK(exp.toDouble() + 30 > double(Now)); // not expired, with the leeway
}

} // namespace

// The first byte picks the mode: odd = the rest is a whole token as a client sends it; even =
// the rest is a payload that is signed here with the verifier's own key, so that the claim
// checks behind the signature are reached; one flipped signature bit must then be refused.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const QByteArrayView rest(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    if (data[0] & 1) {
        const auto identity = verifier().verify(rest);
        if (!identity) {
            MTW_FUZZ_CHECK(identity.error().code == 401 && !identity.error().message.isEmpty());
            return 0;
        }
        MTW_FUZZ_CHECK(rest.size() <= JwtVerifier::MaxTokenSize);
        MTW_FUZZ_CHECK(rest.count('.') == 2);
        const qsizetype first = rest.indexOf('.');
        const qsizetype second = rest.indexOf('.', first + 1);
        const auto payload =
            Mtw::AuthJwt::decodeBase64Url(rest.sliced(first + 1, second - first - 1));
        MTW_FUZZ_CHECK(payload.has_value());
        checkIdentity(*identity, *payload);
        return 0;
    }
    const QByteArray signingInput = b64(R"({"alg":"HS256","typ":"JWT"})") + '.' + b64(rest);
    QByteArray signature = hs256(signingInput);
    const QByteArray token = signingInput + '.' + b64(signature);
    const auto identity = verifier().verify(token);
    if (identity)
        checkIdentity(*identity, rest);
    else
        MTW_FUZZ_CHECK(identity.error().code == 401 && !identity.error().message.isEmpty());
    signature[qsizetype(data[0] >> 3) % signature.size()] ^= char(1 << ((data[0] >> 1) & 3));
    MTW_FUZZ_CHECK(!verifier().verify(signingInput + '.' + b64(signature)));
    return 0;
}
