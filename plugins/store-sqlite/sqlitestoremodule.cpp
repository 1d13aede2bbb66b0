// SPDX-License-Identifier: MIT
#include "sqlitestoremodule.h"

#include "storelog.h"

#include <exception>

namespace Mtw::StoreSqlite {

using namespace Qt::StringLiterals;

SqliteStoreModule::SqliteStoreModule(QObject *parent)
    : QObject(parent)
{ }

SqliteStoreModule::~SqliteStoreModule() = default;

Result<void> SqliteStoreModule::load(ModuleContext &context)
{
    try {
        {
            // A failed reload must not leave an earlier store looking configured.
            std::lock_guard lock(m_mutex);
            m_configured = false;
        }
        const auto settings = StoreSettings::fromConfig(context.config());
        if (!settings)
            return tl::unexpected(settings.error());
        auto store = std::make_unique<SqliteStore>(*settings);
        SqliteStore *registered = store.get();
        {
            std::lock_guard lock(m_mutex);
            m_stores.push_back(std::move(store));
            m_configured = true;
        }
        qCInfo(lcStore).noquote()
            << u"mtw-store-sqlite: keeping history and key-value entries in %1 (flush every %2 "
               u"ms, at most %3 queued writes)"_s.arg(settings->path)
                   .arg(settings->flushIntervalMs)
                   .arg(settings->maxPending);
        context.registerStore(registered, 100);
        return {};
    } catch (const std::exception &exception) {
        return fail(500,
                    u"mtw-store-sqlite: load failed"_s,
                    QString::fromLocal8Bit(exception.what()));
    } catch (...) {
        return fail(500, u"mtw-store-sqlite: load failed"_s);
    }
}

bool SqliteStoreModule::stop()
{
    try {
        std::lock_guard lock(m_mutex);
        for (const auto &store : m_stores)
            store->stop();
    } catch (...) {
        qCCritical(lcStore) << "mtw-store-sqlite: stop failed with an exception";
    }
    return true;
}

ModuleHealth SqliteStoreModule::health() const
{
    std::lock_guard lock(m_mutex);
    if (!m_configured || m_stores.empty())
        return {HealthStatus::Unhealthy, u"not configured"_s};
    return m_stores.back()->health();
}

SqliteStore *SqliteStoreModule::store() const
{
    std::lock_guard lock(m_mutex);
    return m_configured && !m_stores.empty() ? m_stores.back().get() : nullptr;
}

} // namespace Mtw::StoreSqlite
