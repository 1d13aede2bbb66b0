// SPDX-License-Identifier: MIT
// The IStore of mtw-store-sqlite: the server's calls queue writes, a writer thread of its own
// writes them in batches, one transaction per batch. See docs/store.md.
#pragma once

#include "sqlitedb.h"
#include "storesettings.h"

#include <mtw/module.h>
#include <mtw/store.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace Mtw::StoreSqlite {

class SqliteStore : public IStore
{
public:
    explicit SqliteStore(const StoreSettings &settings);
    ~SqliteStore() override; // stops, flushing what is queued
    SqliteStore(const SqliteStore &) = delete;
    SqliteStore &operator=(const SqliteStore &) = delete;

    // IStore. open() starts the writer; the write calls only queue, and are no-ops before a
    // successful open() and after stop().
    Result<StoreSnapshot> open() override;
    void appendPublication(const QString &channel,
                           const QString &epoch,
                           const StoredPublication &publication,
                           const HistoryBounds &bounds) override;
    void removeChannel(const QString &channel) override;
    void putEntry(const KvEntry &entry) override;
    void removeEntry(const QString &bucket, const QString &key, quint64 revision) override;

    // Writes what is queued, stops the writer and closes the file. Idempotent.
    void stop();
    ModuleHealth health() const;
    const StoreSettings &settings() const { return m_settings; }

    // Test seams, not configuration. The file may not grow beyond `pages` (below its current size:
    // not at all), as if the disk were full; applied by the writer before its next batch.
    void setMaxPageCountForTesting(qint64 pages);
    // While held, the writer takes nothing from the queue (stop() still flushes): lets a test fill
    // the queue beyond max_pending deterministically.
    void holdWriterForTesting(bool hold);
    // How long stop() keeps writing what is queued (default 5 s); what is left is dropped.
    void setStopBudgetForTesting(int milliseconds) { m_stopBudgetMs = milliseconds; }
    quint64 writtenCount() const { return m_written; } // writes committed
    quint64 droppedCount() const { return m_dropped; } // writes lost: queue full or write failed
    quint64 failedBatchCount() const { return m_failedBatches; }
    qsizetype queueSizeForTesting(); // queued entries, dropped ones not yet removed included

private:
    Result<std::unique_ptr<Database>> openDatabase();
    Result<std::unique_ptr<Database>> recoverCorrupt(const DbError &problem);
    Result<StoreSnapshot> openUnguarded();
    void failOpen(const QString &reason);
    void enqueue(Write &&write);
    void dropOldestPublication();
    void compactQueue();
    void writerLoop();
    bool writeOnce();
    void writeBatch(WriteBatch &batch);
    void writeLast(WriteBatch &batch);
    void noteWriteFailure(const DbError &failure, qsizetype writes);
    void noteWriteSuccess(qsizetype writes);
    void noteDrops(quint64 dropsSinceLastBatch);

    const StoreSettings m_settings;
    const qsizetype m_wakeThreshold; // this many queued writes wake the writer early

    std::unique_ptr<Database> m_db; // the server's thread during open(), then the writer's
    std::thread m_writer;

    // The queue. `m_accepting` is a lock-free early out for the no-op case; the truth is
    // m_open && !m_stopping under the mutex.
    std::atomic<bool> m_accepting = false;
    std::mutex m_queueMutex;
    std::condition_variable m_wake;
    WriteBatch m_queue;
    qsizetype m_live = 0;       // queued writes not dropped
    size_t m_dropCursor = 0;    // m_queue before it holds no publication write left to drop
    quint64 m_dropsInQueue = 0; // dropped since the writer last took the queue
    quint64 m_burstDrops = 0;   // dropped since the queue overflowed
    std::atomic<bool> m_overflowing = false; // publication writes are being dropped
    bool m_open = false;
    bool m_stopping = false;
    bool m_held = false; // holdWriterForTesting()

    // Health, written by the writer and open(), read by health() on the server's thread.
    mutable std::mutex m_healthMutex;
    QString m_openFailure;    // set: Unhealthy, writes are no-ops
    DbError m_writeFailure;   // the last failed batch, until a batch succeeds
    QList<int> m_loggedKinds; // failure codes logged in the current burst
    qsizetype m_failedWrites = 0;

    std::atomic<quint64> m_written = 0;
    std::atomic<quint64> m_dropped = 0;
    std::atomic<quint64> m_failedBatches = 0;
    std::atomic<qint64> m_testMaxPageCount = 0; // 0: nothing to apply
    std::atomic<int> m_stopBudgetMs = 5000;
};

} // namespace Mtw::StoreSqlite
