// SPDX-License-Identifier: MIT
// The mtw-auth-jwt module: verifies JSON Web Tokens for the server's authentication hook and,
// with `required = true`, keeps anonymous connections from subscribing, publishing and requesting.
#pragma once

#include "jwtverifier.h"

#include <mtw/module.h>

#include <QObject>

#include <atomic>
#include <memory>
#include <mutex>

namespace Mtw::AuthJwt {

// The plugin's root object. Lives in the server's main thread; authenticate() and beforeMessage()
// are called from I/O worker threads, concurrently.
class JwtAuthModule : public QObject,
                      public Mtw::IModule,
                      public Mtw::IAuthenticator,
                      public Mtw::IMessageFilter
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "mtw-auth-jwt.json")
    Q_INTERFACES(Mtw::IModule)

public:
    explicit JwtAuthModule(QObject *parent = nullptr);
    ~JwtAuthModule() override;

    // IModule
    Result<void> load(ModuleContext &context) override;
    ModuleHealth health() const override;

    // IAuthenticator: answers before it returns (verifying a token is quick, local work).
    void authenticate(const AuthRequest &request, AuthReply reply) override;

    // IMessageFilter (registered only with `required = true`)
    void
    beforeMessage(const ClientInfo &client, const Message &message, FilterReply reply) override;

private:
    std::shared_ptr<const JwtVerifier> verifier() const;

    // Qt keeps one root object per plugin file in the process, so load() may run again (another
    // Server in the same process): the verifier is swapped under a lock, never changed in place.
    mutable std::mutex m_mutex;
    std::shared_ptr<const JwtVerifier> m_verifier;
    std::atomic<bool> m_required = false;
};

} // namespace Mtw::AuthJwt
