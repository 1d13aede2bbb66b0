// SPDX-License-Identifier: MIT
#include "sqlitestore.h"

#include "storelog.h"

#include <QDateTime>
#include <QDeadlineTimer>
#include <QFile>
#include <QFileInfo>

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <iterator>

namespace Mtw::StoreSqlite {

using namespace Qt::StringLiterals;

namespace {

// No exception may leave a module's code (and one leaving the writer thread would terminate the
// process): every entry point runs its body through this.
template<typename Function>
bool guarded(const char *where, Function &&function)
{
    try {
        function();
        return true;
    } catch (const std::exception &exception) {
        qCCritical(lcStore).noquote() << where << "failed:" << exception.what();
    } catch (...) {
        qCCritical(lcStore).noquote() << where << "failed with an unknown exception";
    }
    return false;
}

// Where a corrupt file goes: <path>.corrupt-<yyyyMMddhhmmss>, with a suffix if that is taken.
QString asidePath(const QString &path)
{
    const QString base =
        path + u".corrupt-"_s + QDateTime::currentDateTime().toString(u"yyyyMMddhhmmss"_s);
    QString candidate = base;
    for (int n = 2; QFileInfo::exists(candidate); ++n)
        candidate = base + u'-' + QString::number(n);
    return candidate;
}

std::unique_ptr<Database> openAndPrepare(const QString &path, DbError *problem)
{
    auto db = Database::open(path, problem);
    if (!db)
        return nullptr;
    *problem = db->check();
    if (!*problem)
        *problem = db->prepare();
    if (*problem)
        return nullptr;
    return db;
}

// sqlite's errno for a file it cannot create comes from its read-only retry ("No such file or
// directory"); the directory says what the operator has to fix.
QString whyUncreatable(const QString &path)
{
    const QFileInfo directory(QFileInfo(path).absolutePath());
    const QByteArray name = QFile::encodeName(directory.absoluteFilePath());
    if (!directory.exists())
        return u"directory %1 does not exist"_s.arg(directory.absoluteFilePath());
    if (!directory.isDir())
        return u"%1 is not a directory"_s.arg(directory.absoluteFilePath());
    if (::access(name.constData(), W_OK | X_OK) != 0)
        return u"directory %1 is not writable (%2)"_s.arg(directory.absoluteFilePath(),
                                                          QString::fromLocal8Bit(strerror(errno)));
    return {};
}

int publicationCount(const StoreSnapshot &snapshot)
{
    int count = 0;
    for (const StoredChannel &channel : snapshot.channels())
        count += int(channel.publications().size());
    return count;
}

} // namespace

SqliteStore::SqliteStore(const StoreSettings &settings)
    : m_settings(settings)
    , m_wakeThreshold(qsizetype(std::clamp<qint64>(settings.maxPending / 2, 1, 10000)))
{ }

SqliteStore::~SqliteStore()
{
    guarded("mtw-store-sqlite: closing the store", [this] { stop(); });
}

Result<StoreSnapshot> SqliteStore::open()
{
    Result<StoreSnapshot> result = fail(500, u"mtw-store-sqlite: open() failed"_s);
    guarded("mtw-store-sqlite: open()", [&] { result = openUnguarded(); });
    return result;
}

Result<StoreSnapshot> SqliteStore::openUnguarded()
{
    {
        // One open() per store: the server calls it once, and a stopped store stays stopped.
        std::lock_guard lock(m_queueMutex);
        if (m_open || m_db)
            return fail(500, u"store %1 was opened before"_s.arg(m_settings.path));
    }
    const QString &path = m_settings.path;
    if (!QFileInfo::exists(path))
        qCInfo(lcStore).noquote() << u"no store at %1: starting empty"_s.arg(path);
    auto db = openDatabase();
    if (!db) {
        failOpen(db.error().message);
        return tl::unexpected(db.error());
    }
    auto snapshot = (*db)->readSnapshot(QDateTime::currentMSecsSinceEpoch());
    if (!snapshot) {
        const QString reason = u"cannot read store %1: %2"_s.arg(path, snapshot.error().message);
        failOpen(reason);
        return fail(500, reason);
    }
    // Best effort: a full disk must not cost the snapshot just read.
    const auto clean = (*db)->beginRun();
    if (clean && !*clean)
        qCWarning(lcStore).noquote()
            << u"store %1 was not closed by a graceful stop (or dropped writes): the "
               u"publications and key-value changes of its last moments may be missing, so the "
               u"server starts its channels in new epochs"_s.arg(path);
    // Offsets the server handed out may be missing: it must not hand them out again as the
    // same stream. Unknown (the flag could not be read or written) counts as incomplete.
    snapshot->setComplete(clean && *clean);
    m_db = std::move(*db);
    {
        std::lock_guard lock(m_queueMutex);
        m_open = true;
    }
    m_accepting = true;
    m_writer = std::thread([this] {
        if (!guarded("mtw-store-sqlite: the writer", [this] { writerLoop(); }))
            failOpen(u"the writer of %1 stopped on an exception"_s.arg(m_settings.path));
    });
    qCInfo(lcStore).noquote() << u"opened store %1: %2 channels, %3 publications, %4 entries"_s
                                     .arg(path)
                                     .arg(snapshot->channels().size())
                                     .arg(publicationCount(*snapshot))
                                     .arg(snapshot->entries().size());
    return snapshot;
}

Result<std::unique_ptr<Database>> SqliteStore::openDatabase()
{
    DbError problem;
    auto db = openAndPrepare(m_settings.path, &problem);
    if (db)
        return db;
    if (problem.isCorruption())
        return recoverCorrupt(problem);
    QString reason = problem.message;
    if (problem.code == SQLITE_CANTOPEN) {
        if (const QString why = whyUncreatable(m_settings.path); !why.isEmpty())
            reason = why + u"; sqlite: "_s + reason;
    }
    return fail(500, u"cannot open store %1: %2"_s.arg(m_settings.path, reason));
}

// A file that is not a database, or a damaged one, is kept for a post-mortem and replaced by an
// empty store: the server must come up, and the history is not worth a crash loop.
Result<std::unique_ptr<Database>> SqliteStore::recoverCorrupt(const DbError &problem)
{
    const QString &path = m_settings.path;
    const QString aside = asidePath(path);
    if (!QFile::rename(path, aside)) {
        return fail(500,
                    u"store %1 is corrupt (%2) and cannot be moved aside to %3"_s
                        .arg(path, problem.message, aside));
    }
    // A write-ahead log belongs to the file it was written for; the shared-memory index is
    // rebuilt from it.
    if (QFileInfo::exists(path + u"-wal"_s))
        QFile::rename(path + u"-wal"_s, aside + u"-wal"_s);
    QFile::remove(path + u"-shm"_s);
    qCCritical(lcStore).noquote() << u"store %1 is corrupt (%2): moved it aside to %3, starting "
                                     u"empty"_s.arg(path, problem.message, aside);
    DbError again;
    auto db = openAndPrepare(path, &again);
    if (!db)
        return fail(500, u"cannot open store %1: %2"_s.arg(path, again.message));
    return db;
}

void SqliteStore::failOpen(const QString &reason)
{
    m_accepting = false;
    {
        std::lock_guard lock(m_healthMutex);
        m_openFailure = reason;
    }
    qCCritical(lcStore).noquote() << reason
            + u"; history and key-value entries are kept in memory only"_s;
}

void SqliteStore::appendPublication(const QString &channel,
                                    const QString &epoch,
                                    const StoredPublication &publication,
                                    const HistoryBounds &bounds)
{
    if (!m_accepting.load(std::memory_order_relaxed))
        return;
    guarded("mtw-store-sqlite: appendPublication()", [&] {
        enqueue(AppendWrite{channel, epoch, publication, bounds});
    });
}

void SqliteStore::removeChannel(const QString &channel)
{
    if (!m_accepting.load(std::memory_order_relaxed))
        return;
    guarded("mtw-store-sqlite: removeChannel()", [&] { enqueue(RemoveChannelWrite{channel}); });
}

void SqliteStore::putEntry(const KvEntry &entry)
{
    if (!m_accepting.load(std::memory_order_relaxed))
        return;
    guarded("mtw-store-sqlite: putEntry()", [&] { enqueue(PutEntryWrite{entry}); });
}

void SqliteStore::removeEntry(const QString &bucket, const QString &key, quint64 revision)
{
    if (!m_accepting.load(std::memory_order_relaxed))
        return;
    guarded("mtw-store-sqlite: removeEntry()", [&] {
        enqueue(RemoveEntryWrite{bucket, key, revision});
    });
}

// Called under the channel's or bucket's lock on an I/O thread: a push under a short mutex, no
// waiting for the writer, no I/O.
void SqliteStore::enqueue(Write &&write)
{
    bool wake = false;
    bool overflowBegins = false;
    {
        std::lock_guard lock(m_queueMutex);
        if (!m_open || m_stopping)
            return;
        if (m_live >= m_settings.maxPending) {
            overflowBegins = !m_overflowing;
            dropOldestPublication();
        }
        m_queue.push_back(std::move(write));
        ++m_live;
        wake = m_live == m_wakeThreshold;
    }
    if (wake)
        m_wake.notify_one();
    if (overflowBegins)
        qCWarning(lcStore).noquote()
            << u"write queue of %1 full (max_pending = %2): dropping the oldest queued "
               u"publication writes"_s.arg(m_settings.path)
                   .arg(m_settings.maxPending);
}

// Only publication writes are dropped: the server still has them in memory, and a gap in
// history hurts less than a lost key-value change or channel removal. With none queued the bound
// is exceeded instead.
void SqliteStore::dropOldestPublication()
{
    while (m_dropCursor < m_queue.size()) {
        Write &candidate = m_queue[m_dropCursor];
        if (!std::holds_alternative<AppendWrite>(candidate)) {
            ++m_dropCursor;
            continue;
        }
        --m_live;
        ++m_dropsInQueue;
        ++m_burstDrops;
        ++m_dropped;
        m_overflowing = true;
        if (m_dropCursor == 0) {
            m_queue.pop_front(); // the usual case: publications only, the oldest goes
        } else {
            candidate = std::monostate{};
            ++m_dropCursor;
            compactQueue();
        }
        return;
    }
}

// Dropped writes behind a queued key-value change stay as std::monostate; once there are more of
// them than max_pending they go, so that the queue's memory stays bounded while the writer lags.
void SqliteStore::compactQueue()
{
    if (qint64(m_queue.size()) - m_live <= m_settings.maxPending)
        return;
    WriteBatch compacted;
    size_t cursor = 0;
    for (size_t i = 0; i < m_queue.size(); ++i) {
        if (std::holds_alternative<std::monostate>(m_queue[i]))
            continue;
        cursor += i < m_dropCursor ? 1 : 0;
        compacted.push_back(std::move(m_queue[i]));
    }
    m_queue.swap(compacted);
    m_dropCursor = cursor;
}

void SqliteStore::writerLoop()
{
    while (writeOnce()) {
    }
}

// One cycle of the writer: wait for the interval (or a full queue, or stop), take the whole
// queue, write it. Returns false once the last cycle after stop() is done.
bool SqliteStore::writeOnce()
{
    WriteBatch batch;
    bool stopping = false;
    quint64 burstEnded = 0;
    {
        std::unique_lock lock(m_queueMutex);
        m_wake.wait_for(lock, std::chrono::milliseconds(m_settings.flushIntervalMs), [this] {
            return m_stopping || (!m_held && m_live >= m_wakeThreshold);
        });
        if (m_held && !m_stopping)
            return true;
        batch.swap(m_queue);
        m_live = 0;
        m_dropCursor = 0;
        stopping = m_stopping;
        // A whole interval without a drop: the writer keeps up again.
        if (m_overflowing && m_dropsInQueue == 0) {
            burstEnded = m_burstDrops;
            m_burstDrops = 0;
            m_overflowing = false;
        }
        m_dropsInQueue = 0;
    }
    if (const qint64 pages = m_testMaxPageCount.exchange(0))
        m_db->setMaxPageCount(pages);
    if (stopping)
        writeLast(batch);
    else if (!batch.empty())
        writeBatch(batch);
    if (burstEnded > 0)
        qCInfo(lcStore).noquote() << u"write queue of %1 keeps up again: %2 publication writes "
                                     u"were dropped"_s.arg(m_settings.path)
                                         .arg(burstEnded);
    return !stopping;
}

void SqliteStore::writeBatch(WriteBatch &batch)
{
    qsizetype writes = 0;
    for (const Write &write : batch)
        writes += std::holds_alternative<std::monostate>(write) ? 0 : 1;
    const DbError failure = m_db->write(batch, QDateTime::currentMSecsSinceEpoch());
    if (failure)
        noteWriteFailure(failure, writes);
    else
        noteWriteSuccess(writes);
}

// What is queued when stop() is called, in chunks against a deadline: a slow disk must not hold
// up the server's shutdown for long, and what could not be written is at least counted.
void SqliteStore::writeLast(WriteBatch &batch)
{
    constexpr qsizetype ChunkWrites = 10000;
    const QDeadlineTimer deadline(m_stopBudgetMs.load());
    while (!batch.empty() && !deadline.hasExpired()) {
        const auto end = batch.begin() + std::min<qsizetype>(ChunkWrites, batch.size());
        WriteBatch chunk(std::make_move_iterator(batch.begin()), std::make_move_iterator(end));
        batch.erase(batch.begin(), end);
        writeBatch(chunk);
    }
    const auto left = std::count_if(batch.cbegin(), batch.cend(), [](const Write &write) {
        return !std::holds_alternative<std::monostate>(write);
    });
    if (left == 0)
        return;
    m_dropped += quint64(left);
    qCWarning(lcStore).noquote()
        << u"stopping: %1 queued writes to %2 were not written within %3 ms and are lost"_s
               .arg(left)
               .arg(m_settings.path)
               .arg(m_stopBudgetMs.load());
}

// Logged once per kind of failure until a batch succeeds again: a full disk fails every batch,
// and a line per batch would fill what is left of it.
void SqliteStore::noteWriteFailure(const DbError &failure, qsizetype writes)
{
    ++m_failedBatches;
    m_dropped += quint64(writes);
    bool firstOfKind = false;
    {
        std::lock_guard lock(m_healthMutex);
        m_writeFailure = failure;
        m_failedWrites += writes;
        if (!m_loggedKinds.contains(failure.code)) {
            m_loggedKinds.append(failure.code);
            firstOfKind = true;
        }
    }
    if (firstOfKind)
        qCWarning(lcStore).noquote()
            << u"writes to %1 fail: %2; dropped a batch of %3 writes (logged once until writes "
               u"succeed again)"_s.arg(m_settings.path, failure.message)
                   .arg(writes);
}

void SqliteStore::noteWriteSuccess(qsizetype writes)
{
    m_written += quint64(writes);
    qsizetype lost = 0;
    {
        std::lock_guard lock(m_healthMutex);
        if (!m_writeFailure)
            return;
        lost = m_failedWrites;
        m_writeFailure = {};
        m_failedWrites = 0;
        m_loggedKinds.clear();
    }
    qCInfo(lcStore).noquote() << u"writes to %1 succeed again (%2 writes were dropped meanwhile)"_s
                                     .arg(m_settings.path)
                                     .arg(lost);
}

void SqliteStore::stop()
{
    {
        std::lock_guard lock(m_queueMutex);
        m_accepting = false;
        if (!m_open || m_stopping)
            return;
        m_stopping = true;
    }
    m_wake.notify_one();
    if (m_writer.joinable())
        m_writer.join();
    if (m_dropped.load() > 0) {
        // Leave the run marked unfinished: the next open() reports the gaps as incomplete.
        qCWarning(lcStore).noquote()
            << u"store %1: %2 writes were dropped this run; the next start begins new epochs"_s
                   .arg(m_settings.path)
                   .arg(m_dropped.load());
    } else if (const auto failed = m_db->endRun())
        qCWarning(lcStore).noquote()
            << u"store %1: cannot record the graceful stop: %2"_s.arg(m_settings.path,
                                                                      failed.message);
    m_db.reset();
    qCInfo(lcStore).noquote() << u"closed store %1: %2 writes persisted, %3 dropped"_s
                                     .arg(m_settings.path)
                                     .arg(m_written.load())
                                     .arg(m_dropped.load());
}

ModuleHealth SqliteStore::health() const
{
    std::lock_guard lock(m_healthMutex);
    if (!m_openFailure.isEmpty())
        return {HealthStatus::Unhealthy, m_openFailure};
    if (m_writeFailure) {
        // A full disk is an operator's job and writes resume by themselves; anything else (a
        // read-only file, I/O errors) means nothing gets persisted.
        const auto status =
            m_writeFailure.code == SQLITE_FULL ? HealthStatus::Degraded : HealthStatus::Unhealthy;
        return {status,
                u"writes fail: %1 (%2 writes dropped)"_s.arg(m_writeFailure.message)
                    .arg(m_failedWrites)};
    }
    if (m_overflowing)
        return {HealthStatus::Degraded,
                u"write queue full (max_pending = %1): publication writes are dropped"_s.arg(
                    m_settings.maxPending)};
    return {};
}

void SqliteStore::holdWriterForTesting(bool hold)
{
    {
        std::lock_guard lock(m_queueMutex);
        m_held = hold;
    }
    m_wake.notify_one();
}

qsizetype SqliteStore::queueSizeForTesting()
{
    std::lock_guard lock(m_queueMutex);
    return qsizetype(m_queue.size());
}

void SqliteStore::setMaxPageCountForTesting(qint64 pages)
{
    m_testMaxPageCount = qMax<qint64>(1, pages);
}

} // namespace Mtw::StoreSqlite
