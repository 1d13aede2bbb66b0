// SPDX-License-Identifier: MIT
// Publications persisted per second through SqliteStore: two threads append 200-byte envelopes
// to their own channels, then stop() flushes; the time runs until everything is on disk.
// Prints one line of JSON. Usage: mtw-store-sqlite-bench [publications-per-thread] [dir]
#include "sqlitestore.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <cstdio>
#include <thread>
#include <vector>

using namespace Qt::StringLiterals;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    const quint64 perThread = args.size() > 1 ? args.at(1).toULongLong() : 200000;
    QTemporaryDir dir(args.size() > 2 ? args.at(2) + u"/store-bench-XXXXXX"_s : QString());
    if (!dir.isValid())
        return 1;
    Mtw::StoreSqlite::StoreSettings settings;
    settings.path = dir.filePath(u"bench.db"_s);
    // The appenders outrun any disk: room for all of them, so that the figure is what the writer
    // persists, not what the queue bound lets through.
    settings.maxPending = qint64(perThread) * 2;
    Mtw::StoreSqlite::SqliteStore store(settings);
    if (!store.open())
        return 1;
    Mtw::HistoryBounds bounds;
    bounds.setCount(1000);
    constexpr int Threads = 2;
    QElapsedTimer timer;
    timer.start();
    std::vector<std::thread> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([&, t] {
            const QString channel = u"bench.%1"_s.arg(t);
            const QString epoch = u"E"_s;
            const QByteArray envelope(200, 'e');
            for (quint64 offset = 1; offset <= perThread; ++offset) {
                Mtw::StoredPublication publication;
                publication.setOffset(offset);
                publication.setPublishedAt(QDateTime::currentMSecsSinceEpoch());
                publication.setEnvelope(envelope);
                store.appendPublication(channel, epoch, publication, bounds);
            }
        });
    }
    for (std::thread &thread : threads)
        thread.join();
    const double queuedSeconds = timer.nsecsElapsed() / 1e9;
    store.stop();
    const double seconds = timer.nsecsElapsed() / 1e9;
    std::printf("{\"bench\":\"store-sqlite\",\"threads\":%d,\"envelope_bytes\":200,"
                "\"history\":%d,\"appended\":%llu,\"persisted\":%llu,\"dropped\":%llu,"
                "\"seconds\":%.3f,\"append_seconds\":%.3f,\"persisted_per_s\":%.0f}\n",
                Threads,
                bounds.count(),
                static_cast<unsigned long long>(Threads * perThread),
                static_cast<unsigned long long>(store.writtenCount()),
                static_cast<unsigned long long>(store.droppedCount()),
                seconds,
                queuedSeconds,
                store.writtenCount() / seconds);
    return 0;
}
