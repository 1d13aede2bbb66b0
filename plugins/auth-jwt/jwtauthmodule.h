// SPDX-License-Identifier: MIT
// The mtw-auth-jwt module: verifies JSON Web Tokens for the server's authentication hook and,
// with `required = true`, keeps anonymous connections from subscribing, publishing and requesting.
#pragma once

#include "jwtverifier.h"

#include <mtw/module.h>

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <atomic>
#include <memory>
#include <mutex>

class QNetworkAccessManager;
class QNetworkReply;

namespace Mtw::AuthJwt {

// The plugin's root object. Lives in the server's main thread; authenticate() and beforeMessage()
// are called from I/O worker threads, concurrently. With jwks_url / jwks_file the key set is
// fetched and refreshed in this object's thread (asynchronously: QNetworkAccessManager), and each
// new set becomes a new immutable verifier swapped in under m_mutex.
class JwtAuthModule : public QObject,
                      public Mtw::IModule,
                      public Mtw::IReconfigurable,
                      public Mtw::IAuthenticator,
                      public Mtw::IMessageFilter
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "mtw-auth-jwt.json")
    Q_INTERFACES(Mtw::IModule Mtw::IReconfigurable)

public:
    explicit JwtAuthModule(QObject *parent = nullptr);
    ~JwtAuthModule() override;

    // IModule
    Result<void> load(ModuleContext &context) override;
    bool stop() override;
    ModuleHealth health() const override;

    // IReconfigurable: every key may change on a reload (secret, public_key_file, jwks_*,
    // issuer, audience, leeway, required, ...); new tokens are checked against the new table.
    Result<void> validateConfig(const QVariantMap &newConfig) override;
    Result<void> reconfigure(const QVariantMap &newConfig) override;

    // IAuthenticator: answers before it returns (verifying a token is quick, local work).
    void authenticate(const AuthRequest &request, AuthReply reply) override;

    // IMessageFilter (registered only with `required = true`)
    void
    beforeMessage(const ClientInfo &client, const Message &message, FilterReply reply) override;

private:
    struct Prepared
    {
        JwtSettings settings;
        std::shared_ptr<const JwtVerifier> verifier;
        QByteArray keyBytes; // a jwks_file's set, read and checked
    };
    Result<Prepared> prepare(const QVariantMap &config) const;
    void apply(Prepared prepared, const QVariantMap &config);
    std::shared_ptr<const JwtVerifier> verifier() const;

    // Key set refresh, all in this object's thread.
    void stopRefreshing();
    void refreshNow();  // fetch (URL) or read (file) now
    void refreshSoon(); // an unknown kid: refresh, at most every jwks_min_refresh
    void scheduleRefresh(qint64 ms);
    void fetchFinished(QNetworkReply *reply);
    void keySetReceived(const QByteArray &bytes);
    void keySetFailed(const QString &reason);
    // A token whose kid is unknown waits for the refresh it asks for (bounded: m_holdMs, under
    // the server's decision_timeout_ms); the refresh's outcome, or the bound, answers it.
    void holdStarted();
    void answerHeld();
    QString sourceName() const; // the URL without user info or query, or the file path

    // Qt keeps one root object per plugin file in the process, so load() may run again (another
    // Server in the same process): the verifier is swapped under a lock, never changed in place.
    mutable std::mutex m_mutex;
    std::shared_ptr<const JwtVerifier> m_verifier;
    std::atomic<bool> m_required = false;

    JwtSettings m_settings;
    ModuleContext *m_context = nullptr; // from load(); for the filter a reload may need
    bool m_filterRegistered = false;
    QNetworkAccessManager *m_network = nullptr;
    QPointer<QNetworkReply> m_reply;
    QTimer m_refreshTimer;
    QElapsedTimer m_sinceLastFetch; // invalid before the first fetch
    qint64 m_backoffMs = 1000;      // the next retry after a failure (doubles up to jwks_refresh)
    QByteArray m_lastGoodBytes;     // the set in use, as served (an unchanged set is not re-parsed)
    bool m_failing = false;         // in a failure streak (logged once)
    std::atomic<bool> m_refreshQueued = false;
    struct Held
    {
        QByteArray token;
        QString connId;
        AuthReply reply;
    };
    QList<Held> m_held; // under m_mutex: added by the I/O workers, answered in this thread
    QTimer m_holdTimer;
    int m_holdMs = 900;
    // Read by health() from any thread; under m_mutex.
    QString m_keysSource; // empty without jwks_url / jwks_file
    bool m_haveKeys = false;
    QString m_keysProblem;
};

} // namespace Mtw::AuthJwt
