// SPDX-License-Identifier: MIT
// The mtw-store-redis module: registers a RedisBroker, the server's IBroker, so that every node
// sharing the Redis behaves as one server. See docs/cluster.md.
#pragma once

#include "redisbroker.h"

#include <mtw/module.h>

#include <QObject>

#include <memory>
#include <mutex>
#include <vector>

namespace Mtw::StoreRedis {

class RedisBrokerModule : public QObject, public Mtw::IModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "mtw-store-redis.json")
    Q_INTERFACES(Mtw::IModule)

public:
    explicit RedisBrokerModule(QObject *parent = nullptr);
    ~RedisBrokerModule() override;

    Result<void> load(ModuleContext &context) override;
    bool stop() override;
    ModuleHealth health() const override;

private:
    // As in mtw-store-sqlite: load() may run again (another Server in the process); a broker a
    // server used stays, stopped, until the module goes.
    mutable std::mutex m_mutex;
    std::vector<std::unique_ptr<RedisBroker>> m_brokers;
};

} // namespace Mtw::StoreRedis
