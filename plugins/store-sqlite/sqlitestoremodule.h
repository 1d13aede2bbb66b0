// SPDX-License-Identifier: MIT
// The mtw-store-sqlite module: registers a SqliteStore, the server's IStore, so that channel
// history and key-value entries survive a restart. See docs/store.md.
#pragma once

#include "sqlitestore.h"

#include <mtw/module.h>

#include <QObject>

#include <memory>
#include <mutex>
#include <vector>

namespace Mtw::StoreSqlite {

// The plugin's root object; every IModule call comes from the server's main thread. The store
// it registers is called from I/O threads (see SqliteStore).
class SqliteStoreModule : public QObject, public Mtw::IModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "mtw-store-sqlite.json")
    Q_INTERFACES(Mtw::IModule)

public:
    explicit SqliteStoreModule(QObject *parent = nullptr);
    ~SqliteStoreModule() override;

    // IModule
    Result<void> load(ModuleContext &context) override;
    bool stop() override; // flushes what is queued and closes the file
    ModuleHealth health() const override;

    // The store the last successful load() registered (tests drive it directly).
    SqliteStore *store() const;

private:
    // Qt keeps one root object per plugin file, so load() may run again (another Server in the
    // same process). A registered store must outlive its server's use of it: each load() makes a
    // new one and the earlier ones are kept, stopped, until the module goes.
    mutable std::mutex m_mutex;
    std::vector<std::unique_ptr<SqliteStore>> m_stores;
    bool m_configured = false;
};

} // namespace Mtw::StoreSqlite
