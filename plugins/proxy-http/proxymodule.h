// SPDX-License-Identifier: MIT
// The mtw-proxy-http module: connect, subscribe, publish and request (rpc) decisions asked of the
// application's backend over HTTP, like Centrifugo's proxies (docs/proxy.md).
#pragma once

#include "backendclient.h"

#include <mtw/module.h>

#include <QObject>

#include <memory>
#include <mutex>

namespace Mtw::ProxyHttp {

// The plugin's root object, in the server's main thread. The deciding services are called from
// the I/O workers: each builds the JSON body, hands it to the BackendClient (its own thread) and
// returns at once; the answer comes back through the reply handle from the client's thread.
class ProxyModule : public QObject,
                    public Mtw::IModule,
                    public Mtw::IAuthenticator,
                    public Mtw::IMessageFilter,
                    public Mtw::IRequestHandler
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "mtw-proxy-http.json")
    Q_INTERFACES(Mtw::IModule)

public:
    explicit ProxyModule(QObject *parent = nullptr);
    ~ProxyModule() override;

    // IModule
    Result<void> load(ModuleContext &context) override;
    bool stop() override;
    ModuleHealth health() const override;

    // IAuthenticator (with connect_url)
    void authenticate(const AuthRequest &request, AuthReply reply) override;
    // IMessageFilter (with subscribe_url or publish_url): subscribe and publish only
    void
    beforeMessage(const ClientInfo &client, const Message &message, FilterReply reply) override;
    // IRequestHandler (with rpc_url), for each of rpc_actions
    void
    handleRequest(const ClientInfo &client, const Message &request, RequestReply reply) override;

private:
    // The current client and settings, swapped as a whole under m_mutex (load() may run again).
    struct Backend
    {
        ProxySettings settings;
        std::unique_ptr<BackendClient> client;
    };
    std::shared_ptr<Backend> backend() const;

    mutable std::mutex m_mutex;
    std::shared_ptr<Backend> m_backend;
    ServerHandle *m_server = nullptr; // for a backend's "disconnect" answer
};

} // namespace Mtw::ProxyHttp
