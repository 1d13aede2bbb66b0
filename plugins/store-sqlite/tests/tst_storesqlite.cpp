// SPDX-License-Identifier: MIT
// mtw-store-sqlite against real files in a temporary directory: what survives a stop and a
// reopen, the history bounds, key-value entries and revisions, missing, corrupt and unusable
// files, a full disk (through the store's test seam), a full queue, concurrent writers, and the
// module's config validation (through a real Server loading the built plugin).
#include "sqlitestore.h"

#include <mtw/config.h>
#include <mtw/server.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <thread>
#include <vector>

using namespace Qt::StringLiterals;
using Mtw::StoreSqlite::SqliteStore;
using Mtw::StoreSqlite::StoreSettings;

namespace {

std::unique_ptr<SqliteStore> makeStore(const QString &path, qint64 maxPending = 100000)
{
    StoreSettings settings;
    settings.path = path;
    settings.flushIntervalMs = 5;
    settings.maxPending = maxPending;
    return std::make_unique<SqliteStore>(settings);
}

Mtw::StoredPublication publication(quint64 offset, const QByteArray &envelope, qint64 at = 0)
{
    Mtw::StoredPublication result;
    result.setOffset(offset);
    result.setPublishedAt(at ? at : QDateTime::currentMSecsSinceEpoch());
    result.setEnvelope(envelope);
    return result;
}

QByteArray envelopeFor(const QString &channel, quint64 offset, int size = 64)
{
    QByteArray bytes =
        "{\"channel\":\"" + channel.toUtf8() + "\",\"offset\":" + QByteArray::number(offset) + "}";
    if (bytes.size() < size)
        bytes.append(QByteArray(size - bytes.size(), ' '));
    return bytes;
}

Mtw::HistoryBounds bounds(int count, qint64 bytes = 0, qint64 ttlMs = 0)
{
    Mtw::HistoryBounds result;
    result.setCount(count);
    result.setBytes(bytes);
    result.setTtlMs(ttlMs);
    return result;
}

Mtw::KvEntry entry(const QString &bucket,
                   const QString &key,
                   const Mtw::Payload &value,
                   quint64 version,
                   qint64 expiresAt = 0)
{
    Mtw::KvEntry result;
    result.setBucket(bucket);
    result.setKey(key);
    result.setValue(value);
    result.setVersion(version);
    result.setExpiresAt(expiresAt);
    return result;
}

Mtw::StoredChannel channelIn(const Mtw::StoreSnapshot &snapshot, const QString &name)
{
    for (const Mtw::StoredChannel &channel : snapshot.channels()) {
        if (channel.name() == name)
            return channel;
    }
    return {};
}

QList<quint64> offsetsOf(const Mtw::StoredChannel &channel)
{
    QList<quint64> offsets;
    for (const Mtw::StoredPublication &stored : channel.publications())
        offsets.append(stored.offset());
    return offsets;
}

QList<quint64> range(quint64 first, quint64 last)
{
    QList<quint64> result;
    for (quint64 i = first; i <= last; ++i)
        result.append(i);
    return result;
}

// Opens a store on `path`, takes its snapshot and closes it again.
Mtw::StoreSnapshot reopen(const QString &path)
{
    auto store = makeStore(path);
    auto snapshot = store->open();
    if (!snapshot) {
        qWarning() << "reopen failed:" << snapshot.error().message;
        return {};
    }
    store->stop();
    return *snapshot;
}

QStringList corruptCopies(const QString &path)
{
    const QFileInfo info(path);
    return info.dir().entryList({info.fileName() + u".corrupt-*"_s}, QDir::Files);
}

} // namespace

class tst_StoreSqlite : public QObject
{
    Q_OBJECT

private:
    QString dbPath() const { return m_dir->filePath(u"store.db"_s); }
    std::unique_ptr<QTemporaryDir> m_dir;

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }

    void historySurvivesRestart()
    {
        {
            auto store = makeStore(dbPath());
            const auto snapshot = store->open();
            QVERIFY2(snapshot, qPrintable(snapshot ? QString() : snapshot.error().message));
            QVERIFY(snapshot->channels().isEmpty());
            for (quint64 offset = 1; offset <= 20; ++offset) {
                store->appendPublication(u"news"_s,
                                         u"E1"_s,
                                         publication(offset, envelopeFor(u"news"_s, offset)),
                                         bounds(100));
                if (offset <= 5)
                    store->appendPublication(u"chat.é"_s,
                                             u"E2"_s,
                                             publication(offset, envelopeFor(u"chat"_s, offset)),
                                             bounds(100));
            }
            store->stop();
            QCOMPARE(store->writtenCount(), 25u);
            QCOMPARE(store->health().status(), Mtw::HealthStatus::Healthy);
            // A store is opened once; after stop() it writes nothing more.
            QVERIFY(!store->open());
            store->appendPublication(u"news"_s, u"E1"_s, publication(21, "late"), bounds(100));
            store->stop();
            QCOMPARE(store->writtenCount(), 25u);
        }
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QCOMPARE(snapshot.channels().size(), 2);
        const Mtw::StoredChannel news = channelIn(snapshot, u"news"_s);
        QCOMPARE(news.epoch(), u"E1"_s);
        QCOMPARE(news.offset(), 20u);
        QCOMPARE(offsetsOf(news), range(1, 20));
        for (const Mtw::StoredPublication &stored : news.publications())
            QCOMPARE(stored.envelope(), envelopeFor(u"news"_s, stored.offset()));
        const Mtw::StoredChannel chat = channelIn(snapshot, u"chat.é"_s);
        QCOMPARE(chat.epoch(), u"E2"_s);
        QCOMPARE(chat.offset(), 5u);
        QCOMPARE(offsetsOf(chat), range(1, 5));
        QCOMPARE(chat.publications().constLast().envelope(), envelopeFor(u"chat"_s, 5));
    }

    // What a crash leaves on disk: the file and its write-ahead log as they are while the writer
    // runs. Everything committed is there, and the next open() says the run did not end well.
    void committedWritesSurviveACrash()
    {
        const QString crashed = m_dir->filePath(u"crashed.db"_s);
        auto store = makeStore(dbPath());
        QVERIFY(store->open());
        for (quint64 offset = 1; offset <= 50; ++offset)
            store->appendPublication(u"a"_s, u"E"_s, publication(offset, "x"), bounds(100));
        store->putEntry(entry(u"b"_s, u"k"_s, Mtw::Payload::fromText(u"v"_s), 1));
        QTRY_COMPARE_WITH_TIMEOUT(store->writtenCount(), 51u, 10000);
        QVERIFY(QFile::copy(dbPath(), crashed));
        QVERIFY(QFile::copy(dbPath() + u"-wal"_s, crashed + u"-wal"_s));
        store->stop();

        QTest::ignoreMessage(QtWarningMsg,
                             qPrintable(u"store %1 was not closed by a graceful stop (or dropped "
                                        u"writes): the publications and key-value changes of its "
                                        u"last moments may be missing, so the server starts its "
                                        u"channels in new epochs"_s.arg(crashed)));
        const Mtw::StoreSnapshot snapshot = reopen(crashed);
        QCOMPARE(offsetsOf(channelIn(snapshot, u"a"_s)), range(1, 50));
        QCOMPARE(snapshot.entries().size(), 1);
        QVERIFY(!snapshot.isComplete()); // the server must not go on in the same epochs
        // That open() and its graceful stop make the next one quiet and complete again.
        QTest::failOnWarning(QRegularExpression(u"not closed by a graceful stop"_s));
        const Mtw::StoreSnapshot again = reopen(crashed);
        QCOMPARE(again.channels().size(), 1);
        QVERIFY(again.isComplete());
    }

    void boundsCount()
    {
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            for (quint64 offset = 1; offset <= 30; ++offset)
                store->appendPublication(u"a"_s, u"E"_s, publication(offset, "x"), bounds(7));
            // history = 0: nothing kept, but the epoch and offset are.
            store->appendPublication(u"none"_s, u"E"_s, publication(4, "x"), bounds(0));
            store->stop();
        }
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QCOMPARE(offsetsOf(channelIn(snapshot, u"a"_s)), range(24, 30));
        const Mtw::StoredChannel none = channelIn(snapshot, u"none"_s);
        QCOMPARE(none.epoch(), u"E"_s);
        QCOMPARE(none.offset(), 4u);
        QVERIFY(none.publications().isEmpty());
    }

    void boundsBytes()
    {
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            // 100-byte envelopes within 350 bytes: the newest three.
            for (quint64 offset = 1; offset <= 10; ++offset)
                store->appendPublication(u"a"_s,
                                         u"E"_s,
                                         publication(offset, envelopeFor(u"a"_s, offset, 100)),
                                         bounds(1000, 350));
            // An envelope larger than the bound on its own is not kept (as the server's ring).
            store->appendPublication(u"big"_s,
                                     u"E"_s,
                                     publication(1, QByteArray(500, 'b')),
                                     bounds(1000, 350));
            store->stop();
        }
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QCOMPARE(offsetsOf(channelIn(snapshot, u"a"_s)), range(8, 10));
        QVERIFY(channelIn(snapshot, u"big"_s).publications().isEmpty());
        QCOMPARE(channelIn(snapshot, u"big"_s).offset(), 1u);
    }

    void boundsTtl()
    {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            // An hour's TTL: offsets 1..5 are two hours old, 6..8 a minute old.
            for (quint64 offset = 1; offset <= 8; ++offset) {
                const qint64 at = offset <= 5 ? now - 2 * 3600 * 1000 : now - 60 * 1000;
                store->appendPublication(u"a"_s,
                                         u"E"_s,
                                         publication(offset, "x", at),
                                         bounds(100, 0, 3600 * 1000));
            }
            store->stop();
        }
        QCOMPARE(offsetsOf(channelIn(reopen(dbPath()), u"a"_s)), range(6, 8));
    }

    void epochChangeStartsOver()
    {
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            for (quint64 offset = 1; offset <= 5; ++offset)
                store->appendPublication(u"a"_s, u"old"_s, publication(offset, "old"), bounds(10));
            store->stop();
        }
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            for (quint64 offset = 1; offset <= 2; ++offset)
                store->appendPublication(u"a"_s, u"new"_s, publication(offset, "new"), bounds(10));
            store->stop();
        }
        const Mtw::StoredChannel channel = channelIn(reopen(dbPath()), u"a"_s);
        QCOMPARE(channel.epoch(), u"new"_s);
        QCOMPARE(channel.offset(), 2u);
        QCOMPARE(offsetsOf(channel), range(1, 2));
        QCOMPARE(channel.publications().constFirst().envelope(), "new"_ba);
    }

    void removeChannelForgets()
    {
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            store->appendPublication(u"gone"_s, u"E"_s, publication(1, "x"), bounds(10));
            store->appendPublication(u"kept"_s, u"E"_s, publication(1, "x"), bounds(10));
            store->removeChannel(u"gone"_s);
            store->stop();
        }
        {
            // Removed in a later batch, and again re-created afterwards in a new epoch.
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            store->removeChannel(u"kept"_s);
            store->appendPublication(u"kept"_s, u"E2"_s, publication(1, "y"), bounds(10));
            store->stop();
        }
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QCOMPARE(snapshot.channels().size(), 1);
        QCOMPARE(snapshot.channels().constFirst().name(), u"kept"_s);
        QCOMPARE(snapshot.channels().constFirst().epoch(), u"E2"_s);
        QCOMPARE(snapshot.channels().constFirst().publications().constFirst().envelope(), "y"_ba);
    }

    void keyValueSurvivesRestart()
    {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        const auto json = Mtw::Payload::fromJson(QJsonObject{{u"n"_s, 1}, {u"s"_s, u"é"_s}});
        const auto scalar = Mtw::Payload::fromJson(42);
        const auto binary = Mtw::Payload::fromBinary(QByteArray("\0\1\2\xff", 4));
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            store->putEntry(entry(u"b"_s, u"k1"_s, Mtw::Payload::fromText(u"one"_s), 1));
            store->putEntry(entry(u"b"_s, u"k2"_s, json, 2));
            store->putEntry(entry(u"b"_s, u"k1"_s, Mtw::Payload::fromText(u"uno"_s), 3));
            store->putEntry(entry(u"b"_s, u"k3"_s, binary, 4, now + 3600 * 1000));
            store->putEntry(entry(u"b"_s, u"k4"_s, scalar, 5));
            store->putEntry(entry(u"b"_s, u"gone"_s, scalar, 6));
            store->removeEntry(u"b"_s, u"gone"_s, 7);
            store->putEntry(entry(u"c"_s, u"old"_s, scalar, 1, now - 1000)); // already expired
            store->removeEntry(u"d"_s, u"never-stored"_s, 9);
            store->stop();
        }
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QHash<QString, Mtw::KvEntry> entries;
        for (const Mtw::KvEntry &stored : snapshot.entries())
            entries.insert(stored.bucket() + u'/' + stored.key(), stored);
        QCOMPARE(entries.keys().size(), 4);
        QCOMPARE(entries[u"b/k1"_s].value(), Mtw::Payload::fromText(u"uno"_s));
        QCOMPARE(entries[u"b/k1"_s].version(), 3u);
        QCOMPARE(entries[u"b/k2"_s].value(), json);
        QCOMPARE(entries[u"b/k3"_s].value(), binary);
        QCOMPARE(entries[u"b/k3"_s].expiresAt(), now + 3600 * 1000);
        QCOMPARE(entries[u"b/k4"_s].value(), scalar);
        QVERIFY(!entries.contains(u"b/gone"_s));
        QVERIFY(!entries.contains(u"c/old"_s));
        // Deletions count: b's last change was the delete at 7.
        const QHash<QString, quint64> revisions = snapshot.revisions();
        QCOMPARE(revisions.value(u"b"_s), 7u);
        QCOMPARE(revisions.value(u"c"_s), 1u);
        QCOMPARE(revisions.value(u"d"_s), 9u);
    }

    void deletedFileStartsEmpty()
    {
        {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            store->appendPublication(u"a"_s, u"E"_s, publication(1, "x"), bounds(10));
            store->stop();
        }
        for (const QString &suffix : {u""_s, u"-wal"_s, u"-shm"_s})
            QFile::remove(dbPath() + suffix);
        QTest::ignoreMessage(QtInfoMsg,
                             qPrintable(u"no store at %1: starting empty"_s.arg(dbPath())));
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QVERIFY(snapshot.channels().isEmpty());
        QVERIFY(snapshot.entries().isEmpty());
        QVERIFY(QFileInfo::exists(dbPath()));
        QVERIFY(corruptCopies(dbPath()).isEmpty());
    }

    void corruptFileMovedAside_data()
    {
        QTest::addColumn<bool>("truncate");
        QTest::newRow("truncated to half") << true;
        QTest::newRow("garbage bytes") << false;
    }

    void corruptFileMovedAside()
    {
        QFETCH(bool, truncate);
        if (truncate) {
            auto store = makeStore(dbPath());
            QVERIFY(store->open());
            for (quint64 offset = 1; offset <= 300; ++offset)
                store->appendPublication(u"a"_s,
                                         u"E"_s,
                                         publication(offset, QByteArray(1000, 'x')),
                                         bounds(1000));
            store->stop(); // the last connection checkpoints the log into the file
            QFile file(dbPath());
            QVERIFY(file.size() > 100000);
            QVERIFY(file.resize(file.size() / 2));
        } else {
            QFile file(dbPath());
            QVERIFY(file.open(QIODevice::WriteOnly));
            QByteArray garbage(64 * 1024, Qt::Uninitialized);
            QRandomGenerator rng(42);
            rng.fillRange(reinterpret_cast<quint32 *>(garbage.data()), garbage.size() / 4);
            file.write(garbage);
        }
        auto store = makeStore(dbPath());
        const auto snapshot = store->open();
        QVERIFY2(snapshot, qPrintable(snapshot ? QString() : snapshot.error().message));
        QVERIFY(snapshot->channels().isEmpty());
        QCOMPARE(corruptCopies(dbPath()).size(), 1);
        QVERIFY(corruptCopies(dbPath()).constFirst().startsWith(u"store.db.corrupt-2"_s));
        QCOMPARE(store->health().status(), Mtw::HealthStatus::Healthy);
        // The fresh file works.
        store->appendPublication(u"a"_s, u"E"_s, publication(1, "fresh"), bounds(10));
        store->stop();
        QCOMPARE(channelIn(reopen(dbPath()), u"a"_s).publications().size(), 1);
    }

    // A path whose parent is a regular file cannot be created, even by root.
    void unusablePathUnderAFile()
    {
        QFile blocker(m_dir->filePath(u"not-a-dir"_s));
        QVERIFY(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        checkUnusable(blocker.fileName() + u"/store.db"_s, u"is not a directory"_s);
    }

    // As a user other than root, a read-only directory; root writes there anyway.
    void unusablePathInReadOnlyDirectory()
    {
        if (geteuid() == 0) {
            // Root ignores directory permissions: run this very function again as nobody.
            QProcess child;
            child.start(u"setpriv"_s,
                        {u"--reuid=65534"_s,
                         u"--regid=65534"_s,
                         u"--clear-groups"_s,
                         QCoreApplication::applicationFilePath(),
                         u"unusablePathInReadOnlyDirectory"_s});
            QVERIFY2(child.waitForFinished(30000), "setpriv did not finish");
            const QByteArray output = child.readAllStandardOutput() + child.readAllStandardError();
            QVERIFY2(child.exitStatus() == QProcess::NormalExit && child.exitCode() == 0,
                     output.constData());
            QVERIFY2(output.contains("PASS   : tst_StoreSqlite::unusablePathInReadOnlyDirectory()"),
                     output.constData());
            return;
        }
        const QString dir = m_dir->filePath(u"readonly"_s);
        QVERIFY(QDir().mkdir(dir));
        QCOMPARE(chmod(QFile::encodeName(dir).constData(), 0555), 0);
        checkUnusable(dir + u"/store.db"_s, u"is not writable (Permission denied)"_s);
        chmod(QFile::encodeName(dir).constData(), 0755);
    }

    // A file from a newer module is neither read nor "repaired": the operator downgraded.
    void newerSchemaIsRefused()
    {
        QVERIFY(makeStore(dbPath())->open());
        sqlite3 *db = nullptr;
        QCOMPARE(sqlite3_open(QFile::encodeName(dbPath()).constData(), &db), SQLITE_OK);
        QCOMPARE(
            sqlite3_exec(db, "UPDATE schema_version SET version = 2", nullptr, nullptr, nullptr),
            SQLITE_OK);
        sqlite3_close(db);
        auto store = makeStore(dbPath());
        const auto snapshot = store->open();
        QVERIFY(!snapshot);
        QVERIFY2(snapshot.error().message.contains(u"schema version 2"_s),
                 qPrintable(snapshot.error().message));
        QCOMPARE(store->health().status(), Mtw::HealthStatus::Unhealthy);
        QVERIFY(corruptCopies(dbPath()).isEmpty());
    }

    void diskFullDegradesAndRecovers()
    {
        auto store = makeStore(dbPath());
        QVERIFY(store->open());
        store->appendPublication(u"a"_s, u"E"_s, publication(1, "before"), bounds(1000));
        QTRY_COMPARE_WITH_TIMEOUT(store->writtenCount(), 1u, 10000);

        store->setMaxPageCountForTesting(1); // the file cannot grow any more
        for (quint64 offset = 2; offset <= 21; ++offset)
            store->appendPublication(u"a"_s,
                                     u"E"_s,
                                     publication(offset, QByteArray(8000, 'f')),
                                     bounds(1000));
        QTRY_COMPARE_WITH_TIMEOUT(store->health().status(), Mtw::HealthStatus::Degraded, 10000);
        QVERIFY2(store->health().reason().contains(u"SQLITE_FULL"_s),
                 qPrintable(store->health().reason()));
        QVERIFY(store->droppedCount() >= 20);

        store->setMaxPageCountForTesting(1 << 30);
        store->appendPublication(u"a"_s, u"E"_s, publication(22, "after"), bounds(1000));
        QTRY_COMPARE_WITH_TIMEOUT(store->health().status(), Mtw::HealthStatus::Healthy, 10000);
        store->stop();
        // What failed is lost; what came before and after is there.
        const Mtw::StoredChannel channel = channelIn(reopen(dbPath()), u"a"_s);
        QCOMPARE(offsetsOf(channel), QList<quint64>({1, 22}));
        QCOMPARE(channel.offset(), 22u);
    }

    void fullQueueDropsOldestPublications()
    {
        auto store = makeStore(dbPath(), 10);
        QVERIFY(store->open());
        store->holdWriterForTesting(true);
        store->putEntry(entry(u"b"_s, u"k"_s, Mtw::Payload::fromText(u"v"_s), 1));
        for (quint64 offset = 1; offset <= 100; ++offset)
            store->appendPublication(u"a"_s, u"E"_s, publication(offset, "x"), bounds(1000));
        // The key-value write is never dropped; the 91 oldest publications are. The queue holds
        // at most max_pending dropped ones besides the live ones.
        QCOMPARE(store->droppedCount(), 91u);
        QVERIFY(store->queueSizeForTesting() <= 2 * 10);
        QCOMPARE(store->health().status(), Mtw::HealthStatus::Degraded);
        QVERIFY(store->health().reason().contains(u"max_pending = 10"_s));
        store->holdWriterForTesting(false);
        QTRY_COMPARE_WITH_TIMEOUT(store->health().status(), Mtw::HealthStatus::Healthy, 10000);
        store->stop();
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QCOMPARE(offsetsOf(channelIn(snapshot, u"a"_s)), range(92, 100));
        QCOMPARE(snapshot.entries().size(), 1);
    }

    // Publications only: each drop takes the oldest off the queue.
    void fullQueueStaysBounded()
    {
        auto store = makeStore(dbPath(), 5);
        QVERIFY(store->open());
        store->holdWriterForTesting(true);
        for (quint64 offset = 1; offset <= 1000; ++offset)
            store->appendPublication(u"a"_s, u"E"_s, publication(offset, "x"), bounds(1000));
        QCOMPARE(store->queueSizeForTesting(), 5);
        QCOMPARE(store->droppedCount(), 995u);
        store->holdWriterForTesting(false);
        store->stop();
        QCOMPARE(offsetsOf(channelIn(reopen(dbPath()), u"a"_s)), range(996, 1000));
    }

    // stop() writes what is queued within its budget; with none left, the rest is counted lost.
    void stopIsBounded()
    {
        auto store = makeStore(dbPath());
        QVERIFY(store->open());
        store->holdWriterForTesting(true);
        for (quint64 offset = 1; offset <= 100; ++offset)
            store->appendPublication(u"a"_s, u"E"_s, publication(offset, "x"), bounds(1000));
        store->setStopBudgetForTesting(0);
        QTest::ignoreMessage(QtWarningMsg,
                             qPrintable(u"stopping: 100 queued writes to %1 were not written "
                                        u"within 0 ms and are lost"_s.arg(dbPath())));
        store->stop();
        QCOMPARE(store->writtenCount(), 0u);
        QCOMPARE(store->droppedCount(), 100u);
        QVERIFY(reopen(dbPath()).channels().isEmpty());
    }

    void concurrentAppends()
    {
        constexpr int Threads = 4;
        constexpr quint64 PerThread = 2000;
        auto store = makeStore(dbPath());
        QVERIFY(store->open());
        std::vector<std::thread> threads;
        for (int t = 0; t < Threads; ++t) {
            threads.emplace_back([&store, t] {
                const QString channel = u"ch%1"_s.arg(t);
                for (quint64 offset = 1; offset <= PerThread; ++offset)
                    store->appendPublication(channel,
                                             u"E"_s,
                                             publication(offset, envelopeFor(channel, offset)),
                                             bounds(int(PerThread)));
            });
        }
        for (std::thread &thread : threads)
            thread.join();
        store->stop();
        QCOMPARE(store->writtenCount(), Threads * PerThread);
        QCOMPARE(store->droppedCount(), 0u);
        const Mtw::StoreSnapshot snapshot = reopen(dbPath());
        QCOMPARE(snapshot.channels().size(), Threads);
        for (int t = 0; t < Threads; ++t) {
            const Mtw::StoredChannel channel = channelIn(snapshot, u"ch%1"_s.arg(t));
            QCOMPARE(channel.offset(), PerThread);
            QCOMPARE(offsetsOf(channel), range(1, PerThread));
            QCOMPARE(channel.publications().constLast().envelope(),
                     envelopeFor(channel.name(), PerThread));
        }
    }

    void configErrors_data()
    {
        QTest::addColumn<QVariantMap>("config");
        QTest::addColumn<QString>("expected");
        const QVariant path = u"/tmp/x.db"_s;
        QTest::newRow("missing path") << QVariantMap{} << u"'path' is required"_s;
        QTest::newRow("path not a string")
            << QVariantMap{{u"path"_s, qint64(3)}} << u"'path' must be a string"_s;
        QTest::newRow("unknown key") << QVariantMap{{u"path"_s, path}, {u"flush_ms"_s, qint64(5)}}
                                     << u"unknown config key 'flush_ms'"_s;
        QTest::newRow("interval not an integer")
            << QVariantMap{{u"path"_s, path}, {u"flush_interval_ms"_s, u"20"_s}}
            << u"'flush_interval_ms' must be an integer"_s;
        QTest::newRow("interval out of range")
            << QVariantMap{{u"path"_s, path}, {u"flush_interval_ms"_s, qint64(0)}}
            << u"'flush_interval_ms' must be between 1 and 10000"_s;
        QTest::newRow("max_pending a float")
            << QVariantMap{{u"path"_s, path}, {u"max_pending"_s, 2.5}}
            << u"'max_pending' must be an integer"_s;
    }

    void configErrors()
    {
        QFETCH(QVariantMap, config);
        QFETCH(QString, expected);
        const auto settings = StoreSettings::fromConfig(config);
        QVERIFY(!settings);
        QVERIFY2(settings.error().message.contains(expected), qPrintable(settings.error().message));
    }

    void configDefaults()
    {
        const auto settings = StoreSettings::fromConfig({{u"path"_s, u"/tmp/x.db"_s}});
        QVERIFY(settings);
        QCOMPARE(settings->flushIntervalMs, 20);
        QCOMPARE(settings->maxPending, 100000);
    }

    // The built plugin, loaded by a real Server: load() fails naming the key, or succeeds.
    void pluginLoad_data()
    {
        QTest::addColumn<QVariantMap>("config");
        QTest::addColumn<QString>("error");
        QTest::newRow("unknown key")
            << QVariantMap{{u"path"_s, u"x.db"_s}, {u"pth"_s, u"y"_s}} << u"'pth'"_s;
        QTest::newRow("missing path") << QVariantMap{} << u"'path'"_s;
        QTest::newRow("good") << QVariantMap{{u"path"_s, u"x.db"_s}} << QString();
    }

    void pluginLoad()
    {
        QFETCH(QVariantMap, config);
        QFETCH(QString, error);
        Mtw::Config serverConfig;
        serverConfig.server.host = u"127.0.0.1"_s;
        serverConfig.server.port = 0;
        serverConfig.server.workers = 1;
        serverConfig.server.pluginsDir = QString::fromUtf8(MTW_PLUGIN_DIR);
        Mtw::ModuleConfig module;
        module.name = u"mtw-store-sqlite"_s;
        if (config.contains(u"path"_s))
            config[u"path"_s] = m_dir->filePath(config[u"path"_s].toString());
        module.config = config;
        serverConfig.modules = {module};
        Mtw::Server server(serverConfig);
        QVERIFY(server.start());
        Mtw::ModuleStatus status;
        for (const Mtw::ModuleStatus &each : server.modules()) {
            if (each.metadata().id() == u"mtw-store-sqlite"_s)
                status = each;
        }
        QCOMPARE(status.metadata().id(), u"mtw-store-sqlite"_s);
        if (error.isEmpty()) {
            QCOMPARE(Mtw::moduleStateName(status.state()), u"started"_s);
        } else {
            QCOMPARE(Mtw::moduleStateName(status.state()), u"failed"_s);
            QVERIFY2(status.error().contains(error), qPrintable(status.error()));
        }
        QSignalSpy finished(&server, &Mtw::Server::finished);
        server.shutdown();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 10000);
    }

private:
    void checkUnusable(const QString &path, const QString &why)
    {
        auto store = makeStore(path);
        const auto snapshot = store->open();
        QVERIFY(!snapshot);
        QCOMPARE(snapshot.error().code, 500);
        QVERIFY2(snapshot.error().message.contains(path), qPrintable(snapshot.error().message));
        QVERIFY2(snapshot.error().message.contains(why), qPrintable(snapshot.error().message));
        QCOMPARE(store->health().status(), Mtw::HealthStatus::Unhealthy);
        QVERIFY(store->health().reason().contains(path));
        // Later writes are no-ops, and stopping is fine.
        store->appendPublication(u"a"_s, u"E"_s, publication(1, "x"), bounds(10));
        store->putEntry(entry(u"b"_s, u"k"_s, Mtw::Payload::fromText(u"v"_s), 1));
        store->removeChannel(u"a"_s);
        store->removeEntry(u"b"_s, u"k"_s, 2);
        store->stop();
        QCOMPARE(store->writtenCount(), 0u);
        QVERIFY(!QFileInfo::exists(path));
    }
};

QTEST_GUILESS_MAIN(tst_StoreSqlite)
#include "tst_storesqlite.moc"
