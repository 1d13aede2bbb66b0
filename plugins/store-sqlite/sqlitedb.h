// SPDX-License-Identifier: MIT
// The SQLite side of mtw-store-sqlite: one connection, its schema, its prepared statements, and
// the two things the store does with it (read a snapshot, write a batch). Not thread-safe: the
// server's thread uses it during open(), then only the writer thread does.
#pragma once

#include <mtw/store.h>

#include <QHash>
#include <QString>

#include <deque>
#include <memory>
#include <variant>

struct sqlite3;
struct sqlite3_stmt;

namespace Mtw::StoreSqlite {

// What sqlite said when something failed. `code` is the primary result code (SQLITE_FULL...),
// 0 when nothing failed.
struct DbError
{
    int code = 0;
    QString message; // sqlite's message, the code's name and the OS error where there is one

    explicit operator bool() const { return code != 0; }
    bool isCorruption() const; // not a database, or a damaged one: worth moving aside
};

// The queued writes, one per IStore call. A dropped publication write stays in the queue as
// std::monostate so that dropping never shifts the queue.
struct AppendWrite
{
    QString channel;
    QString epoch;
    StoredPublication publication;
    HistoryBounds bounds;
};
struct RemoveChannelWrite
{
    QString channel;
};
struct PutEntryWrite
{
    KvEntry entry;
};
struct RemoveEntryWrite
{
    QString bucket;
    QString key;
    quint64 revision = 0;
};
using Write =
    std::variant<std::monostate, AppendWrite, RemoveChannelWrite, PutEntryWrite, RemoveEntryWrite>;
using WriteBatch = std::deque<Write>;

// A prepared statement, finalized with its owner. Binds return the statement for chaining; text
// and blobs are bound without copying, so the values must outlive step().
class Statement
{
public:
    Statement() = default;
    ~Statement();
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;

    int prepare(sqlite3 *db, const char *sql);
    Statement &bind(int index, qint64 value);
    Statement &bindText(int index, const QByteArray &utf8);
    Statement &bindBlob(int index, const QByteArray &bytes);
    int step(); // SQLITE_ROW, SQLITE_DONE or an error
    int run();  // steps to the end and resets: SQLITE_DONE or an error
    void reset();
    qint64 integer(int column) const;
    QByteArray bytes(int column) const;
    QString text(int column) const;

private:
    sqlite3_stmt *m_stmt = nullptr;
};

class Database
{
public:
    ~Database();
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    // Opens (creating it if missing) the file; nothing is read yet.
    static std::unique_ptr<Database> open(const QString &path, DbError *error);
    // PRAGMA quick_check: an error when the file is not a database or is damaged.
    DbError check();
    // WAL, synchronous=NORMAL, the tables and the statements.
    DbError prepare();
    // What the file holds, without expired publications and entries. `now`: ms since the epoch.
    Result<StoreSnapshot> readSnapshot(qint64 now);
    // The whole batch in one transaction; on failure it is rolled back and nothing is written.
    DbError write(const WriteBatch &batch, qint64 now);

    // Marks the file in use; false when the previous run did not stop gracefully (endRun()).
    Result<bool> beginRun();
    DbError endRun();

    void setMaxPageCount(qint64 pages); // test seam: make the disk "full"

private:
    struct Statements;
    struct Touched;

    explicit Database(sqlite3 *db);
    DbError error(int rc) const;
    DbError exec(const char *sql);
    DbError createSchema();
    DbError prepareStatements();
    DbError apply(const Write &write, QHash<QString, Touched> &touched);
    DbError append(const AppendWrite &write, QHash<QString, Touched> &touched);
    DbError removeChannel(const RemoveChannelWrite &write, QHash<QString, Touched> &touched);
    DbError putEntry(const PutEntryWrite &write);
    DbError removeEntry(const RemoveEntryWrite &write);
    DbError bumpRevision(const QByteArray &bucket, quint64 revision);
    DbError finishChannel(const QByteArray &channel, const Touched &touched, qint64 now);
    DbError trim(const QByteArray &channel, const HistoryBounds &bounds, qint64 now);
    Result<QList<StoredChannel>> readChannels(qint64 now);
    Result<QList<KvEntry>> readEntries(qint64 now);
    Result<QHash<QString, quint64>> readRevisions();

    sqlite3 *m_db = nullptr;
    std::unique_ptr<Statements> m_statements;
    // The epoch stored for each channel the writer has seen (a null string: no row), so that an
    // append does not read the channel's row; cleared whenever a transaction rolls back.
    QHash<QString, QString> m_epochs;
};

} // namespace Mtw::StoreSqlite
