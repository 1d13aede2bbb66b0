// SPDX-License-Identifier: MIT
#include "jwtauthmodule.h"

#include <QFile>
#include <QLoggingCategory>
#include <QMetaEnum>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrl>

#include <algorithm>

namespace Mtw::AuthJwt {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcJwt, "mtw.auth.jwt", QtInfoMsg)

namespace {

// Keys the module reads; anything else is most likely a typo worth a warning.
const QStringList &knownKeys()
{
    static const QStringList keys{u"secret"_s,
                                  u"public_key_file"_s,
                                  u"jwks_url"_s,
                                  u"jwks_file"_s,
                                  u"jwks_refresh"_s,
                                  u"jwks_min_refresh"_s,
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

// A key set larger than this is refused (a real one is a few kilobytes).
constexpr qint64 MaxJwksBytes = 1024 * 1024;
// One fetch may take this long (connect, TLS and transfer).
constexpr int FetchTimeoutMs = 10'000;
// The first retry after a failed fetch; it doubles up to jwks_refresh.
constexpr qint64 FirstRetryMs = 1000;

} // namespace

JwtAuthModule::JwtAuthModule(QObject *parent)
    : QObject(parent)
{
    m_refreshTimer.setSingleShot(true);
    connect(&m_refreshTimer, &QTimer::timeout, this, &JwtAuthModule::refreshNow);
    m_holdTimer.setSingleShot(true);
    connect(&m_holdTimer, &QTimer::timeout, this, &JwtAuthModule::answerHeld);
}

JwtAuthModule::~JwtAuthModule() = default;

// What a config table makes: its settings, the verifier of its secret or public key, and a
// jwks_file's key set. Reads files; changes nothing.
Result<JwtAuthModule::Prepared> JwtAuthModule::prepare(const QVariantMap &config) const
{
    const auto settings = JwtSettings::fromConfig(config);
    if (!settings)
        return tl::unexpected(settings.error());
    Prepared prepared;
    prepared.settings = *settings;
    std::shared_ptr<const JwkSet> keys;
    if (!settings->jwksFile.isEmpty()) {
        // A local file is the admin's own: unreadable or unusable at load fails the module.
        // Later re-reads that fail keep the set read here.
        QFile file(settings->jwksFile);
        if (!file.open(QIODevice::ReadOnly)) {
            return fail(500,
                        u"mtw-auth-jwt: cannot read jwks_file %1: %2"_s.arg(settings->jwksFile,
                                                                            file.errorString()));
        }
        prepared.keyBytes = file.read(MaxJwksBytes);
        const auto parsed = parseJwks(prepared.keyBytes);
        if (!parsed) {
            return fail(500,
                        u"mtw-auth-jwt: jwks_file %1: %2"_s.arg(settings->jwksFile,
                                                                parsed.error().message));
        }
        keys = *parsed;
    }
    auto verifier = JwtVerifier::create(*settings, {}, keys);
    if (!verifier)
        return tl::unexpected(verifier.error());
    prepared.verifier = std::move(*verifier);
    return prepared;
}

Result<void> JwtAuthModule::load(ModuleContext &context)
{
    stopRefreshing();
    {
        // A failed reload must not leave an earlier configuration accepting tokens.
        std::lock_guard lock(m_mutex);
        m_verifier.reset();
        m_required = false;
        m_keysSource.clear();
        m_haveKeys = false;
        m_keysProblem.clear();
    }
    m_lastGoodBytes.clear();
    m_context = &context;
    m_filterRegistered = false;
    // Held tokens are answered before the server gives up on the decision (it would log the
    // module as too slow): a tenth of its deadline, at least 10 ms, is left for the answer.
    const qint64 deadline =
        context.serverConfig().value(u"server.decision_timeout_ms").toLongLong();
    m_holdMs = int(
        std::max<qint64>(5, deadline > 0 ? deadline - std::max<qint64>(10, deadline / 10) : 900));
    auto prepared = prepare(context.config());
    if (!prepared)
        return tl::unexpected(prepared.error());
    apply(std::move(*prepared), context.config());
    context.registerAuthenticator(this, 100);
    return {};
}

Result<void> JwtAuthModule::validateConfig(const QVariantMap &newConfig)
{
    const auto prepared = prepare(newConfig);
    if (!prepared)
        return tl::unexpected(prepared.error());
    return {};
}

// A reload: tokens are checked against the new settings from the swap on (the connections
// authenticated before stay); a key set from an unchanged jwks_url is kept, not fetched again.
Result<void> JwtAuthModule::reconfigure(const QVariantMap &newConfig)
{
    auto prepared = prepare(newConfig);
    if (!prepared)
        return tl::unexpected(prepared.error());
    apply(std::move(*prepared), newConfig);
    return {};
}

void JwtAuthModule::apply(Prepared prepared, const QVariantMap &config)
{
    for (auto it = config.cbegin(); it != config.cend(); ++it) {
        if (!knownKeys().contains(it.key()))
            qCWarning(lcJwt).noquote() << "mtw-auth-jwt: unknown config key" << it.key()
                                       << "ignored (known:" << knownKeys().join(u", "_s) + u')';
    }
    const JwtSettings &settings = prepared.settings;
    const bool sameUrl = !settings.jwksUrl.isEmpty() && settings.jwksUrl == m_settings.jwksUrl;
    const QByteArray fetched = sameUrl ? m_lastGoodBytes : QByteArray();
    stopRefreshing();
    m_lastGoodBytes.clear();
    m_failing = false;
    m_backoffMs = FirstRetryMs;
    if (!sameUrl)
        m_sinceLastFetch.invalidate();
    m_settings = settings;

    if (!settings.secret.isEmpty() && settings.secret.size() < MinimumSecretBytes)
        qCWarning(lcJwt).noquote() << "mtw-auth-jwt: the secret is shorter than"
                                   << MinimumSecretBytes << "bytes; HMAC tokens are weak";
    QString summary = u"mtw-auth-jwt: accepting %1 tokens, leeway %2 s"_s
                          .arg(prepared.verifier->algorithms().join(u", "_s))
                          .arg(settings.leeway);
    if (!settings.issuer.isEmpty())
        summary += u", issuer "_s + settings.issuer;
    if (!settings.audiences.isEmpty())
        summary += u", audience "_s + settings.audiences.join(u" | "_s);
    if (settings.required)
        summary += u", anonymous clients refused"_s;
    if (settings.allowNoExp)
        summary += u", tokens without exp never expire"_s;
    if (settings.usesJwks()) {
        summary += u", keys from %1 (refreshed every %2 s, on an unknown kid at most every %3 s)"_s
                       .arg(sourceName())
                       .arg(settings.jwksRefresh)
                       .arg(settings.jwksMinRefresh);
    }
    qCInfo(lcJwt).noquote() << summary;
    {
        std::lock_guard lock(m_mutex);
        m_verifier = std::move(prepared.verifier);
        m_required = settings.required;
        m_keysSource = settings.usesJwks() ? sourceName() : QString();
        m_haveKeys = false;
        m_keysProblem.clear();
    }
    if (!prepared.keyBytes.isEmpty()) {
        keySetReceived(prepared.keyBytes);
    } else if (!fetched.isEmpty()) {
        keySetReceived(fetched); // the same URL's last set, under the new settings
    } else if (!settings.jwksUrl.isEmpty()) {
        // Until the first fetch succeeds RS*/ES* tokens get 503 and the health is degraded.
        refreshNow();
    }
    if (settings.required && !m_filterRegistered && m_context) {
        // Before other modules' filters: an anonymous message is refused before anyone acts on
        // it. Registered once; with required = false it lets everything through.
        m_context->registerMessageFilter(this, 1000);
        m_filterRegistered = true;
    }
}

bool JwtAuthModule::stop()
{
    stopRefreshing();
    answerHeld();
    return true;
}

ModuleHealth JwtAuthModule::health() const
{
    std::lock_guard lock(m_mutex);
    if (!m_verifier)
        return {HealthStatus::Unhealthy, u"not configured"_s};
    if (!m_keysSource.isEmpty() && !m_haveKeys) {
        return {HealthStatus::Degraded,
                u"no key set loaded yet from %1: %2"_s.arg(m_keysSource, m_keysProblem)};
    }
    if (!m_keysSource.isEmpty() && !m_keysProblem.isEmpty()) {
        return {HealthStatus::Healthy,
                u"key set refresh failing (%1); using the last good set"_s.arg(m_keysProblem)};
    }
    return {};
}

QString JwtAuthModule::sourceName() const
{
    if (!m_settings.jwksFile.isEmpty())
        return m_settings.jwksFile;
    return QUrl(m_settings.jwksUrl).toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery);
}

void JwtAuthModule::stopRefreshing()
{
    m_refreshTimer.stop();
    if (m_reply) {
        QNetworkReply *reply = m_reply;
        m_reply = nullptr;
        disconnect(reply, nullptr, this, nullptr);
        reply->abort();
        reply->deleteLater();
    }
}

void JwtAuthModule::scheduleRefresh(qint64 ms)
{
    m_refreshTimer.start(int(std::clamp<qint64>(ms, 0, 86'400'000)));
}

void JwtAuthModule::refreshSoon()
{
    m_refreshQueued = false;
    if (m_reply || !m_settings.usesJwks())
        return;
    const qint64 minimumMs = m_settings.jwksMinRefresh * 1000;
    const qint64 since = m_sinceLastFetch.isValid() ? m_sinceLastFetch.elapsed() : minimumMs;
    if (since >= minimumMs) {
        refreshNow();
        return;
    }
    const qint64 wait = minimumMs - since;
    if (!m_refreshTimer.isActive() || m_refreshTimer.remainingTime() > wait)
        scheduleRefresh(wait);
}

void JwtAuthModule::refreshNow()
{
    if (m_reply || !m_settings.usesJwks())
        return;
    m_refreshTimer.stop();
    m_sinceLastFetch.start();
    if (!m_settings.jwksFile.isEmpty()) {
        QFile file(m_settings.jwksFile);
        if (!file.open(QIODevice::ReadOnly)) {
            keySetFailed(u"cannot read the file: "_s + file.errorString());
            return;
        }
        const QByteArray bytes = file.read(MaxJwksBytes + 1);
        if (bytes.size() > MaxJwksBytes)
            keySetFailed(u"larger than %1 bytes"_s.arg(MaxJwksBytes));
        else
            keySetReceived(bytes);
        return;
    }
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    QNetworkRequest request{QUrl(m_settings.jwksUrl)};
    request.setTransferTimeout(FetchTimeoutMs);
    request.setRawHeader("Accept", "application/jwk-set+json, application/json");
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                         QNetworkRequest::NoLessSafeRedirectPolicy);
    QNetworkReply *reply = m_network->get(request);
    m_reply = reply;
    connect(reply, &QNetworkReply::downloadProgress, this, [reply](qint64 received, qint64) {
        if (received > MaxJwksBytes) {
            reply->setProperty("mtwTooLarge", true);
            reply->abort();
        }
    });
    connect(reply, &QNetworkReply::finished, this, [this, reply] { fetchFinished(reply); });
}

void JwtAuthModule::fetchFinished(QNetworkReply *reply)
{
    reply->deleteLater();
    if (m_reply == reply)
        m_reply = nullptr;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    // Never errorString(): Qt puts the whole URL in it, query and all.
    if (reply->property("mtwTooLarge").toBool()) {
        keySetFailed(u"larger than %1 bytes"_s.arg(MaxJwksBytes));
    } else if (status != 0 && status != 200) {
        keySetFailed(u"HTTP status %1"_s.arg(status));
    } else if (reply->error() != QNetworkReply::NoError) {
        keySetFailed(QString::fromLatin1(
            QMetaEnum::fromType<QNetworkReply::NetworkError>().valueToKey(reply->error())));
    } else {
        const QByteArray bytes = reply->read(MaxJwksBytes + 1);
        if (bytes.size() > MaxJwksBytes)
            keySetFailed(u"larger than %1 bytes"_s.arg(MaxJwksBytes));
        else
            keySetReceived(bytes);
    }
}

void JwtAuthModule::keySetReceived(const QByteArray &bytes)
{
    if (m_lastGoodBytes.isEmpty() || bytes != m_lastGoodBytes) {
        const auto keys = parseJwks(bytes);
        if (!keys) {
            keySetFailed(keys.error().message);
            return;
        }
        auto verifier = JwtVerifier::create(m_settings, {}, *keys);
        if (!verifier) {
            keySetFailed(verifier.error().message);
            return;
        }
        // Logged once per new set, not per refresh.
        for (const QString &skipped : (*keys)->skipped)
            qCWarning(lcJwt).noquote()
                << "mtw-auth-jwt: key set from" << sourceName() << "skips" << skipped;
        qCInfo(lcJwt).noquote() << "mtw-auth-jwt: key set from" << sourceName()
                                << "loaded:" << (*keys)->kids().join(u", "_s);
        std::lock_guard lock(m_mutex);
        m_verifier = std::move(*verifier);
        m_lastGoodBytes = bytes;
    }
    if (m_failing)
        qCInfo(lcJwt).noquote() << "mtw-auth-jwt: key set from" << sourceName() << "works again";
    m_failing = false;
    m_backoffMs = FirstRetryMs;
    {
        std::lock_guard lock(m_mutex);
        m_haveKeys = true;
        m_keysProblem.clear();
    }
    scheduleRefresh(m_settings.jwksRefresh * 1000);
    answerHeld(); // the refresh they waited for answered
}

void JwtAuthModule::keySetFailed(const QString &reason)
{
    bool haveKeys = false;
    {
        std::lock_guard lock(m_mutex);
        haveKeys = m_haveKeys;
        m_keysProblem = reason;
    }
    if (!m_failing) {
        // Once per failure streak: a key server that is down for an hour logs one line.
        qCWarning(lcJwt).noquote() << u"mtw-auth-jwt: key set from %1 failed: %2; %3"_s.arg(
            sourceName(),
            reason,
            haveKeys ? u"keeping the last good set"_s
                     : u"RS/ES tokens get 503 until a fetch succeeds"_s);
    }
    m_failing = true;
    const qint64 refreshMs = m_settings.jwksRefresh * 1000;
    scheduleRefresh(std::min(m_backoffMs, refreshMs));
    m_backoffMs = std::min(m_backoffMs * 2, refreshMs);
    answerHeld(); // with the last good set, if there is one
}

// This thread: the first held token starts the bound; the refresh it asked for may already be
// on its way (refreshSoon is rate-limited by jwks_min_refresh).
void JwtAuthModule::holdStarted()
{
    if (!m_holdTimer.isActive())
        m_holdTimer.start(m_holdMs);
}

// Every held token, verified again with the verifier in use now: accepted if its kid arrived,
// else refused as before (401 unknown signing key).
void JwtAuthModule::answerHeld()
{
    m_holdTimer.stop();
    QList<Held> held;
    std::shared_ptr<const JwtVerifier> current;
    {
        std::lock_guard lock(m_mutex);
        held.swap(m_held);
        current = m_verifier;
    }
    for (const Held &one : std::as_const(held)) {
        if (!current) {
            one.reply.reject(Error{401, u"authentication failed"_s, u"mtw-auth-jwt stopped"_s});
            continue;
        }
        const auto identity = current->verify(one.token);
        if (identity) {
            one.reply.accept(*identity);
        } else {
            qCDebug(lcJwt).noquote()
                << "token of" << one.connId
                << "refused after the key set refresh:" << identity.error().message;
            one.reply.reject(identity.error());
        }
    }
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
        if (JwtVerifier::isUnknownKey(identity.error())) {
            // The issuer may have rotated its keys: hold the client until the refresh this asks
            // for answers (bounded), instead of refusing a token that is about to be valid.
            bool held = false;
            bool first = false;
            {
                std::lock_guard lock(m_mutex);
                if (!m_keysSource.isEmpty()) {
                    first = m_held.isEmpty();
                    m_held.append({request.token().toUtf8(), request.connId(), reply});
                    held = true;
                }
            }
            if (!m_refreshQueued.exchange(true))
                QMetaObject::invokeMethod(this, &JwtAuthModule::refreshSoon, Qt::QueuedConnection);
            if (held) {
                if (first)
                    QMetaObject::invokeMethod(this,
                                              &JwtAuthModule::holdStarted,
                                              Qt::QueuedConnection);
                return;
            }
        }
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
