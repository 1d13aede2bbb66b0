// SPDX-License-Identifier: MIT
// Durable channels with the real mtwserver process and the mtw-store-sqlite module: history and
// epochs survive a restart; a deleted, corrupt or unusable database gives new epochs and a log
// line, and the server serves on (docs/store.md).
#include "protocolclient.h"
#include "serverprocess.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace Qt::StringLiterals;
using namespace ProtocolTest;

namespace {

struct Position
{
    qint64 offset = -1;
    QString epoch;
};

Position positionOf(const std::optional<MtwClient::Received> &reply)
{
    if (!reply)
        return {};
    const QJsonObject data = dataOf(reply->json).toObject();
    return {data.value(u"offset"_s).toInteger(-1), data.value(u"epoch"_s).toString()};
}

QList<qint64> offsetsIn(const QJsonArray &publications)
{
    QList<qint64> out;
    for (const QJsonValue &publication : publications)
        out.append(publication[u"metadata"_s][u"offset"_s].toInteger(-1));
    return out;
}

} // namespace

class tst_Durable : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<ServerProcess> m_server;

    QString databasePath() const { return m_dir.filePath(u"store.db"_s); }

    QString writeConfig(const QString &storePath, bool required = false)
    {
        const QString path = m_dir.filePath(u"mtw.toml"_s);
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return {};
        file.write(QStringLiteral("[logging]\nlevel = \"info\"\n\n[[kv]]\nname = \"rooms\"\n\n"
                                  "[[modules]]\nname = \"mtw-store-sqlite\"\n"
                                  "required = %2\n"
                                  "config = { path = \"%1\", flush_interval_ms = 5 }\n")
                       .arg(storePath, required ? u"true"_s : u"false"_s)
                       .toUtf8());
        return path;
    }

    bool start(const QString &storePath)
    {
        m_server = std::make_unique<ServerProcess>();
        return m_server->start({u"--host"_s,
                                u"127.0.0.1"_s,
                                u"--port"_s,
                                u"0"_s,
                                u"--config"_s,
                                writeConfig(storePath)});
    }

    // SIGTERM: the graceful path, where the store writes what it still has queued.
    bool stop()
    {
        m_server->process.terminate();
        return m_server->process.waitForFinished(15000)
            && m_server->process.exitStatus() == QProcess::NormalExit
            && m_server->process.exitCode() == 0;
    }

    QUrl url() const { return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(m_server->port)); }

    // Subscribes `channel` (creating it) and publishes `count` messages; returns the last position.
    Position publishSome(const QString &channel, int count)
    {
        MtwClient client;
        if (!client.open(url()) || !client.call(u"subscribe"_s, u"s"_s, {{u"channel"_s, channel}}))
            return {};
        Position last;
        for (int i = 1; i <= count; ++i) {
            last =
                positionOf(client.call(u"publish"_s,
                                       u"p%1"_s.arg(i),
                                       {{u"channel"_s, channel}, {u"payload"_s, jsonPayload(i)}}));
        }
        return last;
    }

    QJsonObject recover(const QString &channel, const Position &from)
    {
        MtwClient client;
        if (!client.open(url()))
            return {};
        const auto reply = client.call(
            u"subscribe"_s,
            u"r"_s,
            {{u"channel"_s, channel},
             {u"metadata"_s,
              QJsonObject{{u"recover"_s,
                           QJsonObject{{u"offset"_s, from.offset}, {u"epoch"_s, from.epoch}}}}}});
        return reply ? dataOf(reply->json).toObject() : QJsonObject();
    }

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        QFile::remove(databasePath());
        QFile::remove(databasePath() + u"-wal"_s);
        QFile::remove(databasePath() + u"-shm"_s);
    }

    void cleanup() { m_server.reset(); }

    void historySurvivesARestart()
    {
        QVERIFY(start(databasePath()));
        const Position last = publishSome(u"room.a"_s, 5);
        QCOMPARE(last.offset, 5);
        QVERIFY(stop());

        QVERIFY(start(databasePath()));
        const QJsonObject data = recover(u"room.a"_s, {2, last.epoch});
        QCOMPARE(data.value(u"epoch"_s).toString(), last.epoch);
        QCOMPARE(data.value(u"recovered"_s).toBool(), true);
        QCOMPARE(offsetsIn(data.value(u"publications"_s).toArray()), QList<qint64>({3, 4, 5}));
        QCOMPARE(data[u"publications"_s][2][u"payload"_s][u"data"_s].toInt(), 5);
        // The stream goes on where it was.
        const Position next = publishSome(u"room.a"_s, 1);
        QCOMPARE(next.offset, 6);
        QCOMPARE(next.epoch, last.epoch);
        QVERIFY(stop());
    }

    void deletedDatabaseGivesNewEpochs()
    {
        QVERIFY(start(databasePath()));
        const Position last = publishSome(u"room.b"_s, 3);
        QVERIFY(stop());
        QVERIFY(QFile::remove(databasePath()));
        QFile::remove(databasePath() + u"-wal"_s);
        QFile::remove(databasePath() + u"-shm"_s);

        QVERIFY(start(databasePath()));
        QVERIFY2(m_server->allLog().contains(u"starting empty"_s), qPrintable(m_server->allLog()));
        const QJsonObject data = recover(u"room.b"_s, last);
        QCOMPARE(data.value(u"recovered"_s).toBool(true), false);
        QVERIFY(data.value(u"epoch"_s).toString() != last.epoch);
        QCOMPARE(data.value(u"offset"_s).toInteger(), 0);
        QVERIFY(stop());
    }

    void corruptDatabase_data()
    {
        QTest::addColumn<bool>("truncate"); // else: overwritten with garbage
        QTest::newRow("truncated to half") << true;
        QTest::newRow("garbage") << false;
    }

    void corruptDatabase()
    {
        QFETCH(bool, truncate);
        QVERIFY(start(databasePath()));
        const Position last = publishSome(u"room.c"_s, 20);
        QVERIFY(stop());
        QFile::remove(databasePath() + u"-wal"_s);
        QFile::remove(databasePath() + u"-shm"_s);
        QFile file(databasePath());
        QVERIFY(file.open(QIODevice::ReadWrite));
        if (truncate) {
            QVERIFY(file.resize(file.size() / 2));
        } else {
            QVERIFY(file.seek(0));
            file.write(QByteArray(4096, '\x5a'));
        }
        file.close();

        QVERIFY(start(databasePath()));
        const QString log = m_server->allLog();
        QVERIFY2(log.contains(u"corrupt"_s), qPrintable(log));
        const QStringList moved =
            QDir(m_dir.path()).entryList({u"store.db.corrupt-*"_s}, QDir::Files);
        QCOMPARE(moved.size(), 1); // kept aside for the operator
        const QJsonObject data = recover(u"room.c"_s, last);
        QCOMPARE(data.value(u"recovered"_s).toBool(true), false);
        QVERIFY(data.value(u"epoch"_s).toString() != last.epoch);
        // And it keeps new history again.
        QCOMPARE(publishSome(u"room.c"_s, 2).offset, 2);
        QVERIFY(stop());
        for (const QString &name : moved)
            QFile::remove(m_dir.filePath(name));
    }

    // One key-value request; returns the answer's data (or the error's).
    QJsonObject kv(const QString &action, const QString &key, const QJsonValue &value = {})
    {
        MtwClient client;
        if (!client.open(url()))
            return {};
        QJsonObject fields{
            {u"metadata"_s,
             QJsonObject{{u"action"_s, action}, {u"bucket"_s, u"rooms"_s}, {u"key"_s, key}}}};
        if (!value.isUndefined())
            fields.insert(u"payload"_s, jsonPayload(value));
        const auto reply = client.call(u"request"_s, u"kv"_s, fields);
        return reply ? dataOf(reply->json).toObject() : QJsonObject();
    }

    void keyValueEntriesSurviveARestart()
    {
        QVERIFY(start(databasePath()));
        QCOMPARE(kv(u"kv.put"_s, u"lobby"_s, QJsonObject{{u"topic"_s, u"hi"_s}})[u"version"_s]
                     .toInteger(),
                 1);
        QCOMPARE(kv(u"kv.put"_s, u"gone"_s, 1)[u"version"_s].toInteger(), 2);
        QCOMPARE(kv(u"kv.delete"_s, u"gone"_s)[u"version"_s].toInteger(), 3);
        QVERIFY(stop());

        QVERIFY(start(databasePath()));
        const QJsonObject lobby = kv(u"kv.get"_s, u"lobby"_s);
        QCOMPARE(lobby[u"version"_s].toInteger(), 1);
        QCOMPARE(lobby[u"value"_s].toObject(), (QJsonObject{{u"topic"_s, u"hi"_s}}));
        QCOMPARE(kv(u"kv.get"_s, u"gone"_s)[u"code"_s].toInt(), 404);
        // The bucket's revision went on past the delete: no version is handed out twice.
        QCOMPARE(kv(u"kv.put"_s, u"next"_s, 2)[u"version"_s].toInteger(), 4);
        m_server->process.kill();
        QVERIFY(m_server->process.waitForFinished(10000));

        // After a kill the store may lack the last changes: versions jump past any gap.
        QVERIFY(start(databasePath()));
        QVERIFY(kv(u"kv.put"_s, u"after-kill"_s, 3)[u"version"_s].toInteger() > 1000000000);
        QVERIFY(stop());
    }

    // Killed (no graceful stop): what was written is kept, but the epochs change, since offsets
    // the clients saw may be missing and would be handed out again.
    void killedServerStartsNewEpochs()
    {
        QVERIFY(start(databasePath()));
        const Position last = publishSome(u"room.e"_s, 3);
        m_server->process.kill();
        QVERIFY(m_server->process.waitForFinished(10000));

        QVERIFY(start(databasePath()));
        const QString log = m_server->allLog();
        QVERIFY2(log.contains(u"new epochs"_s), qPrintable(log));
        const QJsonObject data = recover(u"room.e"_s, last);
        QCOMPARE(data.value(u"recovered"_s).toBool(true), false);
        QVERIFY(!data.value(u"epoch"_s).toString().isEmpty());
        QVERIFY(data.value(u"epoch"_s).toString() != last.epoch);
        QVERIFY(stop());
    }

    // A required store that cannot open stops the start, naming the path.
    void requiredStoreThatCannotOpenStopsTheStart()
    {
        const QString blocker = m_dir.filePath(u"also-not-a-directory"_s);
        QFile file(blocker);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.close();
        const ProcessResult result = runServer({u"--host"_s,
                                                u"127.0.0.1"_s,
                                                u"--port"_s,
                                                u"0"_s,
                                                u"--config"_s,
                                                writeConfig(blocker + u"/store.db"_s, true)});
        QVERIFY2(result.exitCode != 0 && result.exitCode != -1, qPrintable(result.err));
        QVERIFY2(result.err.contains(u"required module mtw-store-sqlite could not be opened"_s),
                 qPrintable(result.err));
        QVERIFY2(result.err.contains(blocker), qPrintable(result.err));
    }

    // A path that cannot be a database, for root too: its parent is a regular file.
    void unusablePathServesFromMemory()
    {
        const QString blocker = m_dir.filePath(u"not-a-directory"_s);
        QFile file(blocker);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.close();
        QVERIFY(start(blocker + u"/store.db"_s));
        const QString log = m_server->allLog();
        QVERIFY2(log.contains(u"could not be opened"_s), qPrintable(log));
        QVERIFY2(log.contains(blocker), qPrintable(log));
        const Position last = publishSome(u"room.d"_s, 3);
        QCOMPARE(last.offset, 3);
        const QJsonObject data = recover(u"room.d"_s, {1, last.epoch});
        QCOMPARE(data.value(u"recovered"_s).toBool(), true);
        QCOMPARE(offsetsIn(data.value(u"publications"_s).toArray()), QList<qint64>({2, 3}));
        QVERIFY(stop());
    }
};

QTEST_GUILESS_MAIN(tst_Durable)

#include "tst_durable.moc"
