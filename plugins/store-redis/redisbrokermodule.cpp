// SPDX-License-Identifier: MIT
#include "redisbrokermodule.h"

#include "redislog.h"

#include <exception>

namespace Mtw::StoreRedis {

using namespace Qt::StringLiterals;

RedisBrokerModule::RedisBrokerModule(QObject *parent)
    : QObject(parent)
{ }

RedisBrokerModule::~RedisBrokerModule() = default;

Result<void> RedisBrokerModule::load(ModuleContext &context)
{
    try {
        const auto settings = RedisSettings::fromConfig(context.config());
        if (!settings)
            return tl::unexpected(settings.error());
        auto broker = std::make_unique<RedisBroker>(*settings);
        broker->start();
        QStringList shards;
        for (const RedisAddress &address : settings->shards)
            shards.append(address.display());
        qCInfo(lcRedis).noquote() << u"mtw-store-redis: cluster through %1 (key prefix '%2')"_s.arg(
            shards.join(u", "_s),
            settings->prefix);
        RedisBroker *registered = broker.get();
        {
            std::lock_guard lock(m_mutex);
            m_brokers.push_back(std::move(broker));
        }
        context.registerBroker(registered, 100);
        return {};
    } catch (const std::exception &exception) {
        return fail(500,
                    u"mtw-store-redis: load failed"_s,
                    QString::fromLocal8Bit(exception.what()));
    } catch (...) {
        return fail(500, u"mtw-store-redis: load failed"_s);
    }
}

bool RedisBrokerModule::stop()
{
    try {
        std::lock_guard lock(m_mutex);
        for (const auto &broker : m_brokers)
            broker->stop();
    } catch (...) {
        qCCritical(lcRedis) << "mtw-store-redis: stop failed with an exception";
    }
    return true;
}

ModuleHealth RedisBrokerModule::health() const
{
    std::lock_guard lock(m_mutex);
    if (m_brokers.empty())
        return {HealthStatus::Unhealthy, u"not configured"_s};
    const RedisBroker &broker = *m_brokers.back();
    if (broker.isConnected())
        return {HealthStatus::Healthy, broker.state()};
    return {HealthStatus::Unhealthy, u"Redis unreachable: "_s + broker.state()};
}

} // namespace Mtw::StoreRedis
