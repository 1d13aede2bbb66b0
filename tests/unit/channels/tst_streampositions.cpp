// SPDX-License-Identifier: MIT
// Offsets, epochs, recovery, history queries and the store calls of the ChannelRegistry.
#include "channels/channelregistry.h"

#include <QMutex>
#include <QThread>
#include <QtTest>

#include <vector>

using namespace Mtw;
using namespace Mtw::Internal;
using namespace Qt::StringLiterals;

namespace {

Member member(quint64 key, int worker = 0)
{
    return Member{key, u"conn-%1"_s.arg(key), QString(), worker};
}

ChannelConfig entry(const QString &name, int history)
{
    ChannelConfig c;
    c.name = name;
    c.history = history;
    return c;
}

Config positionsConfig()
{
    Config config;
    config.channels = {entry(u"log"_s, 100), entry(u"small"_s, 3), entry(u"none"_s, 0)};
    return config;
}

// Encodes the offset into the envelope, so that tests can read back which publication is which.
struct OffsetSink final : PublishSink
{
    QList<PublishOutcome> routed;
    QByteArray encode(const StreamPosition &position) override
    {
        return QByteArray::number(position.offset) + ':' + position.epoch.toLatin1();
    }
    void route(const PublishOutcome &outcome) override { routed.append(outcome); }
};

StreamPosition publish(ChannelRegistry &registry, const QString &channel)
{
    OffsetSink sink;
    const auto outcome = registry.publish(channel, 0, true, sink);
    return outcome ? outcome->position : StreamPosition{};
}

QList<quint64> offsetsOf(const QList<QByteArray> &envelopes)
{
    QList<quint64> out;
    for (const QByteArray &envelope : envelopes)
        out.append(envelope.left(envelope.indexOf(':')).toULongLong());
    return out;
}

QList<quint64> range(quint64 first, quint64 last)
{
    QList<quint64> out;
    for (quint64 i = first; i <= last; ++i)
        out.append(i);
    return out;
}

// Records every call, in order, as a line.
class RecordingStore final : public IStore
{
public:
    StoreSnapshot snapshot;
    QStringList calls;

    Result<StoreSnapshot> open() override { return snapshot; }
    void appendPublication(const QString &channel,
                           const QString &epoch,
                           const StoredPublication &publication,
                           const HistoryBounds &bounds) override
    {
        calls.append(u"append %1 %2 %3 count=%4"_s.arg(channel, epoch)
                         .arg(publication.offset())
                         .arg(bounds.count()));
    }
    void removeChannel(const QString &channel) override { calls.append(u"remove "_s + channel); }
    void putEntry(const KvEntry &) override { }
    void removeEntry(const QString &, const QString &, quint64) override { }
};

} // namespace

class tst_StreamPositions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void offsetsGrowByOnePerChannel()
    {
        ChannelRegistry registry(positionsConfig(), 2);
        const StreamPosition first = publish(registry, u"log"_s);
        QCOMPARE(first.offset, quint64(1));
        QCOMPARE(first.epoch.size(), 8);
        QCOMPARE(publish(registry, u"log"_s), (StreamPosition{2, first.epoch}));
        // Another channel has its own stream and its own epoch.
        const StreamPosition other = publish(registry, u"small"_s);
        QCOMPARE(other.offset, quint64(1));
        QVERIFY(other.epoch != first.epoch);
        // A channel that keeps no history still counts.
        QCOMPARE(publish(registry, u"none"_s).offset, quint64(1));
        QCOMPARE(publish(registry, u"none"_s).offset, quint64(2));
    }

    void outcomeCarriesTheEncodedEnvelope()
    {
        ChannelRegistry registry(positionsConfig(), 2);
        QVERIFY(registry.subscribe(u"log"_s, member(1, 1), false, 0));
        OffsetSink sink;
        const auto outcome = registry.publish(u"log"_s, 0, true, sink);
        QVERIFY(outcome);
        QCOMPARE(sink.routed.size(), 1);
        QCOMPARE(sink.routed.constFirst().envelope, outcome->envelope);
        QCOMPARE(sink.routed.constFirst().workerMask, quint64(2));
        QCOMPARE(registry.history(u"log"_s, 0).value(), QList<QByteArray>{outcome->envelope});
    }

    void subscribeReportsThePosition()
    {
        ChannelRegistry registry(positionsConfig(), 1);
        publish(registry, u"log"_s);
        const StreamPosition second = publish(registry, u"log"_s);
        const auto joined = registry.subscribe(u"log"_s, member(1), false, 0);
        QVERIFY(joined);
        QCOMPARE(joined->position, second);
        QVERIFY(!joined->recovery);
    }

    void recovery_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::addColumn<int>("published");
        QTest::addColumn<int>("from"); // the client's offset
        QTest::addColumn<bool>("sameEpoch");
        QTest::addColumn<bool>("recovered");
        QTest::addColumn<QList<quint64>>("publications");

        QTest::newRow("nothing missed") << u"log"_s << 5 << 5 << true << true << QList<quint64>{};
        QTest::newRow("missed some") << u"log"_s << 5 << 2 << true << true << range(3, 5);
        QTest::newRow("from the start") << u"log"_s << 5 << 0 << true << true << range(1, 5);
        // history = 3: offsets 1 and 2 are gone, so 3..5 is not everything after 0.
        QTest::newRow("pushed out") << u"small"_s << 5 << 0 << true << false << range(3, 5);
        QTest::newRow("just kept") << u"small"_s << 5 << 2 << true << true << range(3, 5);
        QTest::newRow("another epoch") << u"log"_s << 5 << 2 << false << false << range(1, 5);
        QTest::newRow("offset from the future")
            << u"log"_s << 5 << 9 << true << false << range(1, 5);
        QTest::newRow("no history kept")
            << u"none"_s << 5 << 2 << true << false << QList<quint64>{};
    }

    void recovery()
    {
        QFETCH(QString, channel);
        QFETCH(int, published);
        QFETCH(int, from);
        QFETCH(bool, sameEpoch);
        QFETCH(bool, recovered);
        QFETCH(QList<quint64>, publications);

        ChannelRegistry registry(positionsConfig(), 1);
        StreamPosition last;
        for (int i = 0; i < published; ++i)
            last = publish(registry, channel);
        const RecoverFrom since{quint64(from), sameEpoch ? last.epoch : u"OLDEPOCH"_s};
        const auto joined = registry.subscribe(channel, member(1), false, 0, since);
        QVERIFY(joined);
        QVERIFY(joined->recovery);
        QCOMPARE(joined->recovery->recovered, recovered);
        QCOMPARE(offsetsOf(joined->recovery->publications), publications);
        QCOMPARE(joined->position, last);
    }

    void historyQueries_data()
    {
        QTest::addColumn<int>("limit");
        QTest::addColumn<bool>("reverse");
        QTest::addColumn<int>("since"); // -1: none
        QTest::addColumn<QList<quint64>>("expected");

        QTest::newRow("all") << 0 << false << -1 << range(1, 10);
        QTest::newRow("newest 3") << 3 << false << -1 << range(8, 10);
        QTest::newRow("newest 3, newest first") << 3 << true << -1 << QList<quint64>{10, 9, 8};
        QTest::newRow("after 3") << 0 << false << 3 << range(4, 10);
        QTest::newRow("4 after 3 (a page forward)") << 4 << false << 3 << range(4, 7);
        QTest::newRow("3 before 6 (a page backward)") << 3 << true << 6 << QList<quint64>{5, 4, 3};
        QTest::newRow("after the last") << 5 << false << 10 << QList<quint64>{};
    }

    void historyQueries()
    {
        QFETCH(int, limit);
        QFETCH(bool, reverse);
        QFETCH(int, since);
        QFETCH(QList<quint64>, expected);

        ChannelRegistry registry(positionsConfig(), 1);
        StreamPosition last;
        for (int i = 0; i < 10; ++i)
            last = publish(registry, u"log"_s);
        HistoryQuery query{limit, reverse, std::nullopt};
        if (since >= 0)
            query.since = RecoverFrom{quint64(since), last.epoch};
        const auto page = registry.history(u"log"_s, query);
        QVERIFY(page);
        QCOMPARE(offsetsOf(page->publications), expected);
        QCOMPARE(page->position, last);
        QVERIFY(page->recovered);
    }

    void historySinceAnotherEpoch()
    {
        ChannelRegistry registry(positionsConfig(), 1);
        for (int i = 0; i < 4; ++i)
            publish(registry, u"log"_s);
        const auto page =
            registry.history(u"log"_s, HistoryQuery{2, false, RecoverFrom{3, u"X"_s}});
        QVERIFY(page);
        QVERIFY(!page->recovered);
        QCOMPARE(offsetsOf(page->publications), range(1, 2)); // from the start of what is kept
    }

    // Many threads publish to one channel: every offset is given out once, the history holds
    // them in order, and each routed batch arrives in offset order per thread.
    void concurrentPublishersGetDistinctOffsets()
    {
        ChannelRegistry registry(positionsConfig(), 4);
        constexpr int Threads = 4;
        constexpr int PerThread = 25; // history of "log" is 100: all are kept
        QMutex mutex;
        QList<quint64> seen;
        std::vector<std::unique_ptr<QThread>> threads;
        for (int t = 0; t < Threads; ++t) {
            threads.emplace_back(QThread::create([&] {
                for (int i = 0; i < PerThread; ++i) {
                    const quint64 offset = publish(registry, u"log"_s).offset;
                    QMutexLocker locker(&mutex);
                    seen.append(offset);
                }
            }));
            threads.back()->start();
        }
        for (auto &thread : threads)
            QVERIFY(thread->wait(30000));
        // Under the mutex: ThreadSanitizer does not see QThread::wait() as a synchronisation.
        QMutexLocker locker(&mutex);
        std::sort(seen.begin(), seen.end());
        QCOMPARE(seen, range(1, Threads * PerThread));
        QCOMPARE(offsetsOf(registry.history(u"log"_s, 0).value()), range(1, Threads * PerThread));
    }

    void restoreKeepsEpochOffsetsAndHistory()
    {
        RecordingStore store;
        StoredChannel stored;
        stored.setName(u"small"_s);
        stored.setEpoch(u"KEPTEPOC"_s);
        stored.setOffset(7);
        QList<StoredPublication> publications;
        for (quint64 offset = 3; offset <= 7; ++offset) {
            StoredPublication publication;
            publication.setOffset(offset);
            publication.setPublishedAt(QDateTime::currentMSecsSinceEpoch());
            publication.setEnvelope(QByteArray::number(offset) + ":KEPTEPOC");
            publications.append(publication);
        }
        stored.setPublications(publications);
        StoredChannel unconfigured = stored;
        unconfigured.setName(u"chat.x"_s);
        StoreSnapshot snapshot;
        snapshot.setChannels({stored, unconfigured});

        ChannelRegistry registry(positionsConfig(), 1);
        registry.restore(snapshot, &store);
        // Today's bound (history = 3) applies to what the store kept.
        QCOMPARE(offsetsOf(registry.history(u"small"_s, 0).value()), range(5, 7));
        QCOMPARE(offsetsOf(registry.history(u"chat.x"_s, 0).value()), range(3, 7));
        const auto joined =
            registry.subscribe(u"small"_s, member(1), false, 0, RecoverFrom{5, u"KEPTEPOC"_s});
        QVERIFY(joined);
        QVERIFY(joined->recovery->recovered);
        QCOMPARE(offsetsOf(joined->recovery->publications), range(6, 7));
        // The stream goes on where it was, and the store hears of it.
        QCOMPARE(publish(registry, u"small"_s), (StreamPosition{8, u"KEPTEPOC"_s}));
        QCOMPARE(store.calls, QStringList{u"append small KEPTEPOC 8 count=3"_s});
    }

    void restoreDropsExpiredPublications()
    {
        Config config = positionsConfig();
        config.channels[0].historyTtl = 60; // "log": one minute
        StoredChannel stored;
        stored.setName(u"log"_s);
        stored.setEpoch(u"KEPTEPOC"_s);
        stored.setOffset(2);
        StoredPublication old;
        old.setOffset(1);
        old.setPublishedAt(QDateTime::currentMSecsSinceEpoch() - 3600 * 1000);
        old.setEnvelope("1:KEPTEPOC");
        StoredPublication fresh = old;
        fresh.setOffset(2);
        fresh.setPublishedAt(QDateTime::currentMSecsSinceEpoch());
        fresh.setEnvelope("2:KEPTEPOC");
        stored.setPublications({old, fresh});
        StoreSnapshot snapshot;
        snapshot.setChannels({stored});

        ChannelRegistry registry(config, 1);
        registry.restore(snapshot, nullptr);
        QCOMPARE(offsetsOf(registry.history(u"log"_s, 0).value()), QList<quint64>{2});
        const auto joined =
            registry.subscribe(u"log"_s, member(1), false, 0, RecoverFrom{0, u"KEPTEPOC"_s});
        QVERIFY(joined);
        QVERIFY(!joined->recovery->recovered); // offset 1 expired
    }

    void storeHearsAppendsAndRemovals()
    {
        RecordingStore store;
        Config config = positionsConfig();
        ChannelConfig quick;
        quick.name = u"quick.*"_s;
        quick.historyTtl = 0;
        quick.history = 0; // nothing kept: reclaimed at the last unsubscribe
        ChannelConfig kept;
        kept.name = u"kept.*"_s;
        config.channels.append({quick, kept});
        ChannelRegistry registry(config, 1);
        registry.restore(StoreSnapshot(), &store);

        QVERIFY(registry.subscribe(u"kept.a"_s, member(1), false, 0));
        const StreamPosition position = publish(registry, u"kept.a"_s);
        QVERIFY(registry.subscribe(u"quick.a"_s, member(1), false, 0));
        publish(registry, u"quick.a"_s); // history = 0: nothing to store
        registry.unsubscribe(u"quick.a"_s, 1);
        QCOMPARE(store.calls,
                 QStringList(
                     {u"append kept.a %1 1 count=50"_s.arg(position.epoch), u"remove quick.a"_s}));
    }
};

QTEST_GUILESS_MAIN(tst_StreamPositions)

#include "tst_streampositions.moc"
