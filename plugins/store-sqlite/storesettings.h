// SPDX-License-Identifier: MIT
// The `[[modules]] config` of mtw-store-sqlite, validated.
#pragma once

#include <mtw/result.h>

#include <QString>
#include <QVariantMap>

namespace Mtw::StoreSqlite {

struct StoreSettings
{
    QString path;               // the database file
    int flushIntervalMs = 20;   // how long the writer waits to batch writes
    qint64 maxPending = 100000; // queued writes not yet written; beyond, publications are dropped

    // Every key is checked: an unknown one is an Error (a typo must not silently change nothing).
    static Result<StoreSettings> fromConfig(const QVariantMap &config);
};

} // namespace Mtw::StoreSqlite
