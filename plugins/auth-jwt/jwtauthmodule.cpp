// SPDX-License-Identifier: MIT
#include "jwtauthmodule.h"

#include <QLoggingCategory>

namespace Mtw::AuthJwt {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcJwt, "mtw.auth.jwt", QtInfoMsg)

namespace {

// Keys the module reads; anything else is most likely a typo worth a warning.
const QStringList &knownKeys()
{
    static const QStringList keys{u"secret"_s,
                                  u"public_key_file"_s,
                                  u"algorithms"_s,
                                  u"issuer"_s,
                                  u"audience"_s,
                                  u"leeway"_s,
                                  u"required"_s,
                                  u"allow_no_exp"_s};
    return keys;
}

// RFC 7518 3.2: an HMAC key should be at least as long as the hash output.
constexpr qsizetype MinimumSecretBytes = 32;

} // namespace

JwtAuthModule::JwtAuthModule(QObject *parent)
    : QObject(parent)
{ }

JwtAuthModule::~JwtAuthModule() = default;

Result<void> JwtAuthModule::load(ModuleContext &context)
{
    {
        // A failed reload must not leave an earlier configuration accepting tokens.
        std::lock_guard lock(m_mutex);
        m_verifier.reset();
        m_required = false;
    }
    const QVariantMap &config = context.config();
    for (auto it = config.cbegin(); it != config.cend(); ++it) {
        if (!knownKeys().contains(it.key()))
            qCWarning(lcJwt).noquote() << "mtw-auth-jwt: unknown config key" << it.key()
                                       << "ignored (known:" << knownKeys().join(u", "_s) + u')';
    }
    const auto settings = JwtSettings::fromConfig(config);
    if (!settings)
        return tl::unexpected(settings.error());
    auto verifier = JwtVerifier::create(*settings);
    if (!verifier)
        return tl::unexpected(verifier.error());

    if (!settings->secret.isEmpty() && settings->secret.size() < MinimumSecretBytes)
        qCWarning(lcJwt).noquote() << "mtw-auth-jwt: the secret is shorter than"
                                   << MinimumSecretBytes << "bytes; HMAC tokens are weak";
    QString summary = u"mtw-auth-jwt: accepting %1 tokens, leeway %2 s"_s
                          .arg((*verifier)->algorithms().join(u", "_s))
                          .arg(settings->leeway);
    if (!settings->issuer.isEmpty())
        summary += u", issuer "_s + settings->issuer;
    if (!settings->audiences.isEmpty())
        summary += u", audience "_s + settings->audiences.join(u" | "_s);
    if (settings->required)
        summary += u", anonymous clients refused"_s;
    if (settings->allowNoExp)
        summary += u", tokens without exp never expire"_s;
    qCInfo(lcJwt).noquote() << summary;
    {
        std::lock_guard lock(m_mutex);
        m_verifier = std::move(*verifier);
        m_required = settings->required;
    }
    context.registerAuthenticator(this, 100);
    if (settings->required) {
        // Before other modules' filters: an anonymous message is refused before anyone acts on it.
        context.registerMessageFilter(this, 1000);
    }
    return {};
}

ModuleHealth JwtAuthModule::health() const
{
    if (!verifier())
        return {HealthStatus::Unhealthy, u"not configured"_s};
    return {};
}

std::shared_ptr<const JwtVerifier> JwtAuthModule::verifier() const
{
    std::lock_guard lock(m_mutex);
    return m_verifier;
}

void JwtAuthModule::authenticate(const AuthRequest &request, AuthReply reply)
{
    const auto current = verifier();
    if (!current) {
        reply.reject(Error{401, u"authentication failed"_s, u"mtw-auth-jwt is not configured"_s});
        return;
    }
    const auto identity = current->verify(request.token().toUtf8());
    if (!identity) {
        // The reason only; a token is a credential and never goes to the log.
        qCDebug(lcJwt).noquote() << "token of" << request.connId()
                                 << "refused:" << identity.error().message;
        reply.reject(identity.error());
        return;
    }
    reply.accept(*identity);
}

void JwtAuthModule::beforeMessage(const ClientInfo &client,
                                  const Message &message,
                                  FilterReply reply)
{
    if (client.isAuthenticated() || !m_required) {
        reply.accept();
        return;
    }
    switch (message.type) {
    case MessageType::Subscribe:
    case MessageType::Publish:
    case MessageType::Request:
    case MessageType::AgentTask:
        reply.reject(Error{401, u"authentication required: connect with a token"_s});
        return;
    default:
        reply.accept();
        return;
    }
}

} // namespace Mtw::AuthJwt
