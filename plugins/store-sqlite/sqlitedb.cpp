// SPDX-License-Identifier: MIT
#include "sqlitedb.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <sqlite3.h>

#include <cstring>

namespace Mtw::StoreSqlite {

using namespace Qt::StringLiterals;

namespace {

// Version 1: the tables below. A file with a higher version was written by a newer module and is
// refused, not "repaired".
constexpr qint64 SchemaVersion = 1;

const char *const SchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS channels (
    name TEXT PRIMARY KEY NOT NULL,
    epoch TEXT NOT NULL,
    last_offset INTEGER NOT NULL,
    history_count INTEGER NOT NULL DEFAULT 0,
    history_bytes INTEGER NOT NULL DEFAULT 0,
    history_ttl_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS publications (
    channel TEXT NOT NULL,
    channel_offset INTEGER NOT NULL,
    published_at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    PRIMARY KEY (channel, channel_offset)
);
CREATE TABLE IF NOT EXISTS kv_entries (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    kind INTEGER NOT NULL,
    value BLOB NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_revisions (
    bucket TEXT PRIMARY KEY NOT NULL,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

QString codeName(int code)
{
    switch (code) {
    case SQLITE_FULL:
        return u"SQLITE_FULL"_s;
    case SQLITE_READONLY:
        return u"SQLITE_READONLY"_s;
    case SQLITE_IOERR:
        return u"SQLITE_IOERR"_s;
    case SQLITE_CORRUPT:
        return u"SQLITE_CORRUPT"_s;
    case SQLITE_NOTADB:
        return u"SQLITE_NOTADB"_s;
    case SQLITE_CANTOPEN:
        return u"SQLITE_CANTOPEN"_s;
    case SQLITE_PERM:
        return u"SQLITE_PERM"_s;
    case SQLITE_BUSY:
        return u"SQLITE_BUSY"_s;
    case SQLITE_LOCKED:
        return u"SQLITE_LOCKED"_s;
    case SQLITE_NOMEM:
        return u"SQLITE_NOMEM"_s;
    default:
        return u"sqlite code %1"_s.arg(code);
    }
}

// A Payload as (kind, bytes): Json as compact JSON text wrapped in an array (QJsonDocument holds
// no bare scalars), Text as UTF-8, Binary as is.
QByteArray encodeValue(const Payload &value)
{
    switch (value.kind) {
    case Payload::Kind::Json:
        return QJsonDocument(QJsonArray{value.json}).toJson(QJsonDocument::Compact);
    case Payload::Kind::Text:
        return value.text.toUtf8();
    case Payload::Kind::Binary:
        return value.binary;
    case Payload::Kind::None:
        break;
    }
    return {};
}

Payload decodeValue(qint64 kind, const QByteArray &bytes)
{
    switch (Payload::Kind(kind)) {
    case Payload::Kind::Json:
        return Payload::fromJson(QJsonDocument::fromJson(bytes).array().at(0));
    case Payload::Kind::Text:
        return Payload::fromText(QString::fromUtf8(bytes));
    case Payload::Kind::Binary:
        return Payload::fromBinary(bytes);
    case Payload::Kind::None:
        break;
    }
    return Payload::none();
}

} // namespace

bool DbError::isCorruption() const
{
    return code == SQLITE_NOTADB || code == SQLITE_CORRUPT;
}

// Statement

Statement::~Statement()
{
    sqlite3_finalize(m_stmt);
}

int Statement::prepare(sqlite3 *db, const char *sql)
{
    sqlite3_finalize(m_stmt);
    m_stmt = nullptr;
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &m_stmt, nullptr);
}

Statement &Statement::bind(int index, qint64 value)
{
    sqlite3_bind_int64(m_stmt, index, value);
    return *this;
}

Statement &Statement::bindText(int index, const QByteArray &utf8)
{
    sqlite3_bind_text(m_stmt, index, utf8.constData(), int(utf8.size()), SQLITE_STATIC);
    return *this;
}

Statement &Statement::bindBlob(int index, const QByteArray &bytes)
{
    // A zero-length blob, not NULL: the columns are NOT NULL.
    sqlite3_bind_blob(m_stmt,
                      index,
                      bytes.isNull() ? "" : bytes.constData(),
                      int(bytes.size()),
                      SQLITE_STATIC);
    return *this;
}

int Statement::step()
{
    return sqlite3_step(m_stmt);
}

int Statement::run()
{
    int rc = sqlite3_step(m_stmt);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(m_stmt);
    reset();
    return rc;
}

void Statement::reset()
{
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

qint64 Statement::integer(int column) const
{
    return sqlite3_column_int64(m_stmt, column);
}

QByteArray Statement::bytes(int column) const
{
    const void *data = sqlite3_column_blob(m_stmt, column);
    return QByteArray(static_cast<const char *>(data), sqlite3_column_bytes(m_stmt, column));
}

QString Statement::text(int column) const
{
    const auto *data = reinterpret_cast<const char *>(sqlite3_column_text(m_stmt, column));
    return QString::fromUtf8(data, sqlite3_column_bytes(m_stmt, column));
}

// Database

struct Database::Statements
{
    Statement selectEpoch, deletePublications, insertPublication, upsertChannel, deleteChannel;
    Statement trimCount, trimTtl, trimBytes;
    Statement putEntry, deleteEntry, bumpRevision;
};

// What a batch did to a channel, applied once per channel at the end of the batch.
struct Database::Touched
{
    QString epoch;
    quint64 offset = 0;
    HistoryBounds bounds;
};

Database::Database(sqlite3 *db)
    : m_db(db)
    , m_statements(std::make_unique<Statements>())
{ }

Database::~Database()
{
    m_statements.reset(); // finalized before the connection closes
    sqlite3_close_v2(m_db);
}

std::unique_ptr<Database> Database::open(const QString &path, DbError *error)
{
    sqlite3 *db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.toUtf8().constData(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::unique_ptr<Database> failed(new Database(db));
        *error = failed->error(rc);
        return nullptr;
    }
    sqlite3_extended_result_codes(db, 1);
    // Another process holding the file (a backup, the sqlite3 shell) is waited for, briefly.
    sqlite3_busy_timeout(db, 2000);
    return std::unique_ptr<Database>(new Database(db));
}

DbError Database::error(int rc) const
{
    QString message =
        m_db ? QString::fromUtf8(sqlite3_errmsg(m_db)) : QString::fromUtf8(sqlite3_errstr(rc));
    const int systemError = m_db ? sqlite3_system_errno(m_db) : 0;
    if (systemError != 0)
        message += u": "_s + QString::fromLocal8Bit(std::strerror(systemError));
    const int primary = rc & 0xff;
    return DbError{primary, message + u" ("_s + codeName(primary) + u')'};
}

DbError Database::exec(const char *sql)
{
    const int rc = sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? DbError{} : error(rc);
}

DbError Database::check()
{
    Statement check;
    int rc = check.prepare(m_db, "PRAGMA quick_check");
    if (rc != SQLITE_OK)
        return error(rc);
    QStringList problems;
    while ((rc = check.step()) == SQLITE_ROW) {
        const QString line = check.text(0);
        if (line != "ok"_L1)
            problems.append(line);
    }
    if (rc != SQLITE_DONE)
        return error(rc);
    if (!problems.isEmpty())
        return DbError{SQLITE_CORRUPT, u"quick_check: "_s + problems.mid(0, 3).join(u"; "_s)};
    return {};
}

DbError Database::prepare()
{
    // journal_mode answers with a row; sqlite3_exec ignores it.
    if (const auto failed = exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"))
        return failed;
    if (const auto failed = createSchema())
        return failed;
    return prepareStatements();
}

DbError Database::createSchema()
{
    if (const auto failed = exec("BEGIN IMMEDIATE"))
        return failed;
    DbError failed = exec(SchemaSql);
    Statement version;
    if (!failed) {
        const int rc = version.prepare(m_db, "SELECT max(version) FROM schema_version");
        if (rc != SQLITE_OK || version.step() != SQLITE_ROW)
            failed = error(sqlite3_errcode(m_db));
    }
    if (!failed) {
        const qint64 found = version.integer(0);
        version.reset();
        if (found > SchemaVersion) {
            failed = DbError{SQLITE_ERROR,
                             u"schema version %1 was written by a newer mtw-store-sqlite; this one "
                             u"knows version %2"_s.arg(found)
                                 .arg(SchemaVersion)};
        } else if (found == 0) {
            failed = exec("INSERT INTO schema_version (version) VALUES (1)");
        }
    }
    if (failed) {
        exec("ROLLBACK");
        return failed;
    }
    return exec("COMMIT");
}

DbError Database::prepareStatements()
{
    Statements &s = *m_statements;
    const std::pair<Statement *, const char *> all[] = {
        {&s.selectEpoch, "SELECT epoch FROM channels WHERE name = ?1"},
        {&s.deletePublications, "DELETE FROM publications WHERE channel = ?1"},
        {&s.insertPublication,
         "INSERT OR REPLACE INTO publications (channel, channel_offset, published_at, size, "
         "envelope) VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&s.upsertChannel,
         "INSERT INTO channels (name, epoch, last_offset, history_count, history_bytes, "
         "history_ttl_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET "
         "epoch = excluded.epoch, last_offset = excluded.last_offset, history_count = "
         "excluded.history_count, history_bytes = excluded.history_bytes, history_ttl_ms = "
         "excluded.history_ttl_ms"},
        {&s.deleteChannel, "DELETE FROM channels WHERE name = ?1"},
        // Everything at or below the offset of the (count+1)-th newest publication.
        {&s.trimCount,
         "DELETE FROM publications WHERE channel = ?1 AND channel_offset <= (SELECT "
         "channel_offset FROM publications WHERE channel = ?1 ORDER BY channel_offset DESC "
         "LIMIT 1 OFFSET ?2)"},
        {&s.trimTtl, "DELETE FROM publications WHERE channel = ?1 AND published_at <= ?2"},
        // Everything at or below the newest publication that makes the running total too big.
        {&s.trimBytes,
         "DELETE FROM publications WHERE channel = ?1 AND channel_offset <= (SELECT "
         "channel_offset FROM (SELECT channel_offset, sum(size) OVER (ORDER BY channel_offset "
         "DESC) AS total FROM publications WHERE channel = ?1) WHERE total > ?2 ORDER BY "
         "channel_offset DESC LIMIT 1)"},
        {&s.putEntry,
         "INSERT INTO kv_entries (bucket, key, kind, value, version, expires_at) VALUES (?1, ?2, "
         "?3, ?4, ?5, ?6) ON CONFLICT (bucket, key) DO UPDATE SET kind = excluded.kind, value = "
         "excluded.value, version = excluded.version, expires_at = excluded.expires_at"},
        {&s.deleteEntry, "DELETE FROM kv_entries WHERE bucket = ?1 AND key = ?2"},
        {&s.bumpRevision,
         "INSERT INTO bucket_revisions (bucket, revision) VALUES (?1, ?2) ON CONFLICT (bucket) "
         "DO UPDATE SET revision = max(revision, excluded.revision)"},
    };
    for (const auto &[statement, sql] : all) {
        if (const int rc = statement->prepare(m_db, sql); rc != SQLITE_OK)
            return error(rc);
    }
    return {};
}

// meta.running is 1 from open() to a graceful stop(): still 1 at the next open() means the
// process died with writes queued (up to flush_interval_ms of them are not in the file).
Result<bool> Database::beginRun()
{
    Statement select;
    if (select.prepare(m_db, "SELECT value FROM meta WHERE key = 'running'") != SQLITE_OK)
        return fail(500, error(sqlite3_errcode(m_db)).message);
    const int rc = select.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(500, error(rc).message);
    const bool wasRunning = rc == SQLITE_ROW && select.integer(0) != 0;
    select.reset();
    if (const auto failed = exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('running', 1)"))
        return fail(500, failed.message);
    return !wasRunning;
}

DbError Database::endRun()
{
    return exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('running', 0)");
}

void Database::setMaxPageCount(qint64 pages)
{
    // Below the current size sqlite keeps the current size: the file cannot grow any more.
    const QByteArray sql = "PRAGMA max_page_count = " + QByteArray::number(pages);
    exec(sql.constData());
}

DbError Database::write(const WriteBatch &batch, qint64 now)
{
    if (const auto failed = exec("BEGIN IMMEDIATE"))
        return failed;
    QHash<QString, Touched> touched;
    DbError failed;
    for (const Write &one : batch) {
        if ((failed = apply(one, touched)))
            break;
    }
    for (auto it = touched.cbegin(); !failed && it != touched.cend(); ++it)
        failed = finishChannel(it.key().toUtf8(), it.value(), now);
    if (!failed)
        failed = exec("COMMIT");
    if (failed) {
        // A failed COMMIT may leave the transaction open; the cache may hold rolled-back epochs.
        exec("ROLLBACK");
        m_epochs.clear();
    }
    return failed;
}

DbError Database::apply(const Write &write, QHash<QString, Touched> &touched)
{
    if (const auto *append = std::get_if<AppendWrite>(&write))
        return this->append(*append, touched);
    if (const auto *remove = std::get_if<RemoveChannelWrite>(&write))
        return removeChannel(*remove, touched);
    if (const auto *put = std::get_if<PutEntryWrite>(&write))
        return putEntry(*put);
    if (const auto *remove = std::get_if<RemoveEntryWrite>(&write))
        return removeEntry(*remove);
    return {}; // a dropped publication write
}

DbError Database::append(const AppendWrite &write, QHash<QString, Touched> &touched)
{
    Statements &s = *m_statements;
    const QByteArray channel = write.channel.toUtf8();
    auto cached = m_epochs.find(write.channel);
    if (cached == m_epochs.end()) {
        QString stored;
        s.selectEpoch.bindText(1, channel);
        const int rc = s.selectEpoch.step();
        if (rc == SQLITE_ROW)
            stored = s.selectEpoch.text(0);
        s.selectEpoch.reset();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return error(rc);
        cached = m_epochs.insert(write.channel, stored);
    }
    if (*cached != write.epoch) {
        // Another epoch: the server lost the old history, so the stored one is not its past.
        if (const int rc = s.deletePublications.bindText(1, channel).run(); rc != SQLITE_DONE)
            return error(rc);
        *cached = write.epoch;
    }
    const StoredPublication &publication = write.publication;
    const QByteArray envelope = publication.envelope();
    const int rc = s.insertPublication.bindText(1, channel)
                       .bind(2, qint64(publication.offset()))
                       .bind(3, publication.publishedAt())
                       .bind(4, envelope.size())
                       .bindBlob(5, envelope)
                       .run();
    if (rc != SQLITE_DONE)
        return error(rc);
    touched.insert(write.channel, Touched{write.epoch, publication.offset(), write.bounds});
    return {};
}

DbError Database::removeChannel(const RemoveChannelWrite &write, QHash<QString, Touched> &touched)
{
    Statements &s = *m_statements;
    const QByteArray channel = write.channel.toUtf8();
    touched.remove(write.channel);
    m_epochs.insert(write.channel, QString());
    if (const int rc = s.deletePublications.bindText(1, channel).run(); rc != SQLITE_DONE)
        return error(rc);
    if (const int rc = s.deleteChannel.bindText(1, channel).run(); rc != SQLITE_DONE)
        return error(rc);
    return {};
}

DbError Database::putEntry(const PutEntryWrite &write)
{
    const KvEntry &entry = write.entry;
    const QByteArray bucket = entry.bucket().toUtf8();
    const QByteArray key = entry.key().toUtf8();
    const Payload value = entry.value();
    const QByteArray bytes = encodeValue(value);
    const int rc = m_statements->putEntry.bindText(1, bucket)
                       .bindText(2, key)
                       .bind(3, qint64(value.kind))
                       .bindBlob(4, bytes)
                       .bind(5, qint64(entry.version()))
                       .bind(6, entry.expiresAt())
                       .run();
    if (rc != SQLITE_DONE)
        return error(rc);
    return bumpRevision(bucket, entry.version());
}

DbError Database::removeEntry(const RemoveEntryWrite &write)
{
    const QByteArray bucket = write.bucket.toUtf8();
    const QByteArray key = write.key.toUtf8();
    if (const int rc = m_statements->deleteEntry.bindText(1, bucket).bindText(2, key).run();
        rc != SQLITE_DONE) {
        return error(rc);
    }
    return bumpRevision(bucket, write.revision);
}

DbError Database::bumpRevision(const QByteArray &bucket, quint64 revision)
{
    const int rc = m_statements->bumpRevision.bindText(1, bucket).bind(2, qint64(revision)).run();
    return rc == SQLITE_DONE ? DbError{} : error(rc);
}

DbError Database::finishChannel(const QByteArray &channel, const Touched &touched, qint64 now)
{
    const HistoryBounds &bounds = touched.bounds;
    const QByteArray epoch = touched.epoch.toUtf8();
    const int rc = m_statements->upsertChannel.bindText(1, channel)
                       .bindText(2, epoch)
                       .bind(3, qint64(touched.offset))
                       .bind(4, bounds.count())
                       .bind(5, bounds.bytes())
                       .bind(6, bounds.ttlMs())
                       .run();
    if (rc != SQLITE_DONE)
        return error(rc);
    return trim(channel, bounds, now);
}

// Once per channel and batch, with the bounds of the channel's last append: what the server's
// history ring keeps (newest `count`, at most `bytes`, younger than the TTL).
DbError Database::trim(const QByteArray &channel, const HistoryBounds &bounds, qint64 now)
{
    Statements &s = *m_statements;
    int rc = s.trimCount.bindText(1, channel).bind(2, qMax(0, bounds.count())).run();
    if (rc == SQLITE_DONE && bounds.ttlMs() > 0)
        rc = s.trimTtl.bindText(1, channel).bind(2, now - bounds.ttlMs()).run();
    if (rc == SQLITE_DONE && bounds.bytes() > 0)
        rc = s.trimBytes.bindText(1, channel).bind(2, bounds.bytes()).run();
    return rc == SQLITE_DONE ? DbError{} : error(rc);
}

Result<StoreSnapshot> Database::readSnapshot(qint64 now)
{
    // Expired entries are of no use to anyone; they go with the read. Best effort: a full disk
    // must not keep the rest from being read (readEntries() skips them anyway).
    Statement expire;
    if (expire.prepare(m_db, "DELETE FROM kv_entries WHERE expires_at > 0 AND expires_at <= ?1")
        == SQLITE_OK)
        expire.bind(1, now).run();
    auto channels = readChannels(now);
    if (!channels)
        return tl::unexpected(channels.error());
    auto entries = readEntries(now);
    if (!entries)
        return tl::unexpected(entries.error());
    auto revisions = readRevisions();
    if (!revisions)
        return tl::unexpected(revisions.error());
    StoreSnapshot snapshot;
    snapshot.setChannels(*channels);
    snapshot.setEntries(*entries);
    snapshot.setRevisions(*revisions);
    return snapshot;
}

Result<QList<StoredChannel>> Database::readChannels(qint64 now)
{
    Statement channels, publications;
    if (channels.prepare(m_db, "SELECT name, epoch, last_offset, history_ttl_ms FROM channels")
            != SQLITE_OK
        || publications.prepare(m_db,
                                "SELECT channel_offset, published_at, envelope FROM publications "
                                "WHERE channel = ?1 AND published_at > ?2 ORDER BY channel_offset")
            != SQLITE_OK) {
        return fail(500, error(sqlite3_errcode(m_db)).message);
    }
    QList<StoredChannel> result;
    int rc;
    while ((rc = channels.step()) == SQLITE_ROW) {
        StoredChannel channel;
        channel.setName(channels.text(0));
        channel.setEpoch(channels.text(1));
        channel.setOffset(quint64(channels.integer(2)));
        const qint64 ttl = channels.integer(3);
        const QByteArray name = channel.name().toUtf8();
        // Without a TTL everything is younger than "before the epoch".
        publications.bindText(1, name).bind(2, ttl > 0 ? now - ttl : -1);
        QList<StoredPublication> kept;
        while ((rc = publications.step()) == SQLITE_ROW) {
            StoredPublication publication;
            publication.setOffset(quint64(publications.integer(0)));
            publication.setPublishedAt(publications.integer(1));
            publication.setEnvelope(publications.bytes(2));
            kept.append(publication);
        }
        publications.reset();
        if (rc != SQLITE_DONE)
            return fail(500, error(rc).message);
        channel.setPublications(kept);
        result.append(channel);
    }
    if (rc != SQLITE_DONE)
        return fail(500, error(rc).message);
    return result;
}

Result<QList<KvEntry>> Database::readEntries(qint64 now)
{
    Statement select;
    if (select.prepare(m_db,
                       "SELECT bucket, key, kind, value, version, expires_at FROM kv_entries "
                       "WHERE expires_at = 0 OR expires_at > ?1")
        != SQLITE_OK) {
        return fail(500, error(sqlite3_errcode(m_db)).message);
    }
    select.bind(1, now);
    QList<KvEntry> result;
    int rc;
    while ((rc = select.step()) == SQLITE_ROW) {
        KvEntry entry;
        entry.setBucket(select.text(0));
        entry.setKey(select.text(1));
        entry.setValue(decodeValue(select.integer(2), select.bytes(3)));
        entry.setVersion(quint64(select.integer(4)));
        entry.setExpiresAt(select.integer(5));
        result.append(entry);
    }
    if (rc != SQLITE_DONE)
        return fail(500, error(rc).message);
    return result;
}

Result<QHash<QString, quint64>> Database::readRevisions()
{
    Statement select;
    if (select.prepare(m_db, "SELECT bucket, revision FROM bucket_revisions") != SQLITE_OK)
        return fail(500, error(sqlite3_errcode(m_db)).message);
    QHash<QString, quint64> result;
    int rc;
    while ((rc = select.step()) == SQLITE_ROW)
        result.insert(select.text(0), quint64(select.integer(1)));
    if (rc != SQLITE_DONE)
        return fail(500, error(rc).message);
    return result;
}

} // namespace Mtw::StoreSqlite
