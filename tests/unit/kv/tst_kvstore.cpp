// SPDX-License-Identifier: MIT
// KvStore on its own: versions, compare-and-set, limits, TTL with an injected clock, batches,
// list pages, restore, and the order of store calls and change events.
#include "channels/channelsettings.h"
#include "kv/kvstore.h"

#include <QJsonArray>
#include <QTest>
#include <QThread>

using namespace Qt::Literals::StringLiterals;
using Mtw::Internal::KvOperation;
using Mtw::Internal::KvStore;

namespace {

// Records every call, in one log shared with the change events so that their order shows.
class FakeStore : public Mtw::IStore
{
public:
    explicit FakeStore(QStringList &log)
        : m_log(log)
    { }
    Mtw::Result<Mtw::StoreSnapshot> open() override { return Mtw::StoreSnapshot(); }
    void appendPublication(const QString &,
                           const QString &,
                           const Mtw::StoredPublication &,
                           const Mtw::HistoryBounds &) override
    { }
    void removeChannel(const QString &) override { }
    void putEntry(const Mtw::KvEntry &entry) override
    {
        m_log.append(u"store.put %1/%2@%3"_s.arg(entry.bucket(), entry.key()).arg(entry.version()));
    }
    void removeEntry(const QString &bucket, const QString &key, quint64 revision) override
    {
        m_log.append(u"store.remove %1/%2@%3"_s.arg(bucket, key).arg(revision));
    }

private:
    QStringList &m_log;
};

struct Event
{
    QString channel;
    Mtw::Message message;
    QString op() const { return message.metadata.value(u"op"_s).toString(); }
    qint64 version() const { return message.metadata.value(u"version"_s).toInteger(); }
};

Mtw::Config configWith(const QList<Mtw::KvBucketConfig> &buckets)
{
    Mtw::Config config;
    config.kv = buckets;
    return config;
}

KvOperation put(const QString &key,
                const Mtw::Payload &value,
                std::optional<quint64> expected = {},
                std::optional<qint64> ttl = {})
{
    return {KvOperation::Kind::Put, key, value, expected, ttl};
}

KvOperation remove(const QString &key, std::optional<quint64> expected = {})
{
    return {KvOperation::Kind::Delete, key, {}, expected, {}};
}

Mtw::Payload json(int n)
{
    return Mtw::Payload::fromJson(QJsonObject{{u"n"_s, n}});
}

// A store with buckets "rooms" (exact) and "room.*" (pattern), a fake IStore, a clock the test
// moves, and every event recorded.
struct Fixture
{
    explicit Fixture(QList<Mtw::KvBucketConfig> buckets = {{.name = u"rooms"_s},
                                                           {.name = u"room.*"_s}},
                     int maxBuckets = 100)
        : store(
            [&] {
                Mtw::Config config = configWith(buckets);
                config.server.maxChannels = maxBuckets;
                return config;
            }(),
            [this](const QString &channel, const Mtw::Message &event) {
                events.append({channel, event});
                log.append(u"event %1 %2/%3@%4"_s
                               .arg(event.metadata.value(u"op"_s).toString(),
                                    event.metadata.value(u"bucket"_s).toString(),
                                    event.metadata.value(u"key"_s).toString())
                               .arg(event.metadata.value(u"version"_s).toInteger()));
            },
            [this] { return now; })
        , fake(log)
    {
        store.setStore(&fake);
    }

    qint64 now = 1'000'000;
    QStringList log;
    QList<Event> events;
    KvStore store;
    FakeStore fake;
};

} // namespace

class tst_KvStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void keyRules_data();
    void keyRules();
    void valueSize();
    void versionsIncreaseAcrossKeysAndDeletes();
    void storeCallsAndEventsInOrder();
    void compareAndSet();
    void unknownBucketAndMissingKey();
    void patternBucketsAndTheirBound();
    void maxValueSize();
    void maxKeys();
    void ttlWithInjectedClock();
    void sweepExpiresEachAsAChange();
    void batchAllOrNone();
    void batchSeesItsOwnEarlierOperations();
    void listPagesWithPrefix();
    void restoreWithRevisions();
    void eventShapes();
    void concurrentWritersSeeOneOrder();
    void watchChannelSettings();
};

void tst_KvStore::keyRules_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("problem");
    QTest::newRow("plain") << u"user:42"_s << QString();
    QTest::newRow("unicode") << u"clé ✓"_s << QString();
    QTest::newRow("longest") << QString(1024, u'k') << QString();
    QTest::newRow("empty") << QString() << u"expected a non-empty string"_s;
    QTest::newRow("too long") << QString(1025, u'k') << u"at most 1024 characters, got 1025"_s;
    QTest::newRow("newline") << u"a\nb"_s << u"control character U+000a at position 1"_s;
    QTest::newRow("delete") << u"\x7f"_s << u"control character U+007f at position 0"_s;
}

void tst_KvStore::keyRules()
{
    QFETCH(QString, key);
    QFETCH(QString, problem);
    QCOMPARE(Mtw::Internal::kvKeyProblem(key), problem);
}

void tst_KvStore::valueSize()
{
    using Mtw::Internal::kvValueSize;
    QCOMPARE(kvValueSize(Mtw::Payload::fromJson(QJsonObject{{u"a"_s, 1}})), 7); // {"a":1}
    QCOMPARE(kvValueSize(Mtw::Payload::fromJson(QJsonValue(u"ab"_s))), 4);      // "ab"
    QCOMPARE(kvValueSize(Mtw::Payload::fromJson(QJsonValue(true))), 4);
    QCOMPARE(kvValueSize(Mtw::Payload::fromText(u"é"_s)), 2); // UTF-8 bytes
    QCOMPARE(kvValueSize(Mtw::Payload::fromBinary(QByteArray(5, '\0'))), 5);
}

void tst_KvStore::versionsIncreaseAcrossKeysAndDeletes()
{
    Fixture f;
    QList<quint64> versions;
    versions << f.store.apply(u"rooms"_s, put(u"a"_s, json(1)), u"c1"_s)->entry.version();
    versions << f.store.apply(u"rooms"_s, put(u"b"_s, json(2)), u"c1"_s)->entry.version();
    versions << f.store.apply(u"rooms"_s, remove(u"a"_s), u"c1"_s)->entry.version();
    versions << f.store.apply(u"rooms"_s, put(u"a"_s, json(3)), u"c1"_s)->entry.version();
    versions << f.store.apply(u"rooms"_s, put(u"b"_s, json(4)), u"c1"_s)->entry.version();
    QCOMPARE(versions, (QList<quint64>{1, 2, 3, 4, 5}));
    // A version is never reused: "a" came back after its delete with a new one.
    QCOMPARE(f.store.get(u"rooms"_s, u"a"_s)->version(), quint64(4));
    QCOMPARE(f.store.get(u"rooms"_s, u"b"_s)->value(), json(4));
    // Each bucket counts on its own.
    QCOMPARE(f.store.apply(u"room.1"_s, put(u"a"_s, json(1)), u"c1"_s)->entry.version(),
             quint64(1));
}

void tst_KvStore::storeCallsAndEventsInOrder()
{
    Fixture f;
    QVERIFY(f.store.apply(u"rooms"_s, put(u"a"_s, json(1)), u"c1"_s));
    QVERIFY(f.store.apply(u"rooms"_s, remove(u"a"_s), u"c2"_s));
    QVERIFY(!f.store.apply(u"rooms"_s, remove(u"a"_s), u"c2"_s)); // refused: no call, no event
    QCOMPARE(f.log,
             (QStringList{u"store.put rooms/a@1"_s,
                          u"event put rooms/a@1"_s,
                          u"store.remove rooms/a@2"_s,
                          u"event delete rooms/a@2"_s}));
    QCOMPARE(f.events.at(0).channel, u"$kv.rooms"_s);
    QCOMPARE(f.events.at(0).message.metadata.value(u"from"_s).toString(), u"c1"_s);
    QCOMPARE(f.events.at(1).message.metadata.value(u"from"_s).toString(), u"c2"_s);
}

void tst_KvStore::compareAndSet()
{
    Fixture f;
    QCOMPARE(f.store.apply(u"rooms"_s, put(u"k"_s, json(1), 0), u"c"_s)->entry.version(),
             quint64(1));
    const auto again = f.store.apply(u"rooms"_s, put(u"k"_s, json(2), 0), u"c"_s);
    QCOMPARE(again.error().code, 409);
    QCOMPARE(again.error().message,
             u"version conflict on key 'k': expected version 0 (absent), current version 1"_s);
    const auto stale = f.store.apply(u"rooms"_s, put(u"k"_s, json(2), 7), u"c"_s);
    QCOMPARE(stale.error().code, 409);
    QCOMPARE(stale.error().message,
             u"version conflict on key 'k': expected version 7, current version 1"_s);
    QCOMPARE(f.store.apply(u"rooms"_s, put(u"k"_s, json(2), 1), u"c"_s)->entry.version(),
             quint64(2));
    const auto absent = f.store.apply(u"rooms"_s, put(u"other"_s, json(1), 2), u"c"_s);
    QCOMPARE(absent.error().message,
             u"version conflict on key 'other': expected version 2, the key is absent"_s);
    QCOMPARE(f.store.apply(u"rooms"_s, remove(u"k"_s, 1), u"c"_s).error().code, 409);
    QCOMPARE(f.store.apply(u"rooms"_s, remove(u"k"_s, 2), u"c"_s)->entry.version(), quint64(3));
    // Refused writes left no trace: only the three changes were made.
    QCOMPARE(f.events.size(), 3);
    QCOMPARE(f.store.get(u"rooms"_s, u"k"_s).error().code, 404);
}

void tst_KvStore::unknownBucketAndMissingKey()
{
    Fixture f;
    for (const QString &bucket : {u"nope"_s, u"room.a.b"_s, u"room"_s}) {
        QCOMPARE(f.store.settings(bucket).error(),
                 (Mtw::Error{404, u"bucket '%1' is not configured"_s.arg(bucket)}));
        QCOMPARE(f.store.get(bucket, u"k"_s).error().code, 404);
        QCOMPARE(f.store.apply(bucket, put(u"k"_s, json(1)), u"c"_s).error().code, 404);
        QCOMPARE(f.store.list(bucket, {}, {}, 10).error().code, 404);
    }
    QCOMPARE(f.store.get(u"rooms"_s, u"k"_s).error(),
             (Mtw::Error{404, u"key 'k' not found in bucket 'rooms'"_s}));
    QCOMPARE(f.store.apply(u"rooms"_s, remove(u"k"_s), u"c"_s).error(),
             (Mtw::Error{404, u"key 'k' not found in bucket 'rooms'"_s}));
    QCOMPARE(f.store.bucketCount(), 0); // reads and refused writes create no bucket
}

void tst_KvStore::patternBucketsAndTheirBound()
{
    Fixture f({{.name = u"room.*"_s, .maxKeys = 3}, {.name = u"room.vip"_s, .auth = true}}, 2);
    QCOMPARE(f.store.settings(u"room.vip"_s)->auth, true); // the exact entry wins
    QCOMPARE(f.store.settings(u"room.a"_s)->maxKeys, 3);
    QVERIFY(f.store.apply(u"room.a"_s, put(u"k"_s, json(1)), u"c"_s));
    QVERIFY(f.store.apply(u"room.b"_s, put(u"k"_s, json(1)), u"c"_s));
    const auto third = f.store.apply(u"room.c"_s, put(u"k"_s, json(1)), u"c"_s);
    QCOMPARE(third.error(),
             (Mtw::Error{507, u"too many buckets: at most 2 may exist (server.max_channels)"_s}));
    QVERIFY(f.store.apply(u"room.a"_s, put(u"k2"_s, json(1)), u"c"_s)); // existing ones serve on
    QCOMPARE(f.store.bucketCount(), 2);
}

void tst_KvStore::maxValueSize()
{
    Fixture f({{.name = u"small"_s, .maxValueSize = 10}});
    const auto big =
        f.store.apply(u"small"_s, put(u"k"_s, Mtw::Payload::fromText(u"12345678901"_s)), u"c"_s);
    QCOMPARE(big.error(),
             (Mtw::Error{413,
                         u"value of 11 bytes is larger than bucket 'small' allows "
                         "(max_value_size: 10 bytes)"_s}));
    QVERIFY(f.store.apply(u"small"_s,
                          put(u"k"_s, Mtw::Payload::fromBinary(QByteArray(10, 'x'))),
                          u"c"_s));
    QVERIFY(f.store.apply(u"small"_s,
                          put(u"j"_s, Mtw::Payload::fromJson(QJsonArray{1, 2, 3, 4})),
                          u"c"_s)); // [1,2,3,4]: 9
    QCOMPARE(f.store
                 .apply(u"small"_s,
                        put(u"j"_s, Mtw::Payload::fromJson(QJsonArray{10, 20, 30, 40})),
                        u"c"_s)
                 .error()
                 .code,
             413);
    QCOMPARE(f.store.apply(u"small"_s, put(u"n"_s, Mtw::Payload::none()), u"c"_s).error().code,
             400);
}

void tst_KvStore::maxKeys()
{
    Fixture f({{.name = u"two"_s, .maxKeys = 2}});
    QVERIFY(f.store.apply(u"two"_s, put(u"a"_s, json(1)), u"c"_s));
    QVERIFY(f.store.apply(u"two"_s, put(u"b"_s, json(1), std::nullopt, 5), u"c"_s));
    QCOMPARE(f.store.apply(u"two"_s, put(u"c"_s, json(1)), u"c"_s).error(),
             (Mtw::Error{507, u"bucket 'two' is full: at most 2 keys (max_keys)"_s}));
    QVERIFY(f.store.apply(u"two"_s, put(u"a"_s, json(2)), u"c"_s)); // a replacement takes no slot
    QVERIFY(f.store.apply(u"two"_s, remove(u"a"_s), u"c"_s));
    QVERIFY(f.store.apply(u"two"_s, put(u"c"_s, json(1)), u"c"_s));
    // An expired entry frees its slot at once, sweep or not.
    f.now += 5000;
    QVERIFY(f.store.apply(u"two"_s, put(u"d"_s, json(1)), u"c"_s));
}

void tst_KvStore::ttlWithInjectedClock()
{
    Fixture f({{.name = u"session"_s, .ttl = 10}});
    const auto byDefault = f.store.apply(u"session"_s, put(u"a"_s, json(1)), u"c"_s);
    QCOMPARE(byDefault->entry.expiresAt(), f.now + 10000);
    const auto shorter = f.store.apply(u"session"_s, put(u"b"_s, json(1), std::nullopt, 2), u"c"_s);
    QCOMPARE(shorter->entry.expiresAt(), f.now + 2000);
    const auto forever = f.store.apply(u"session"_s, put(u"c"_s, json(1), std::nullopt, 0), u"c"_s);
    QCOMPARE(forever->entry.expiresAt(), 0);

    f.now += 1999;
    QVERIFY(f.store.get(u"session"_s, u"b"_s));
    f.now += 1;
    QCOMPARE(f.store.get(u"session"_s, u"b"_s).error().code, 404); // gone at its time, lazily
    QCOMPARE(f.events.constLast().op(), u"expire"_s);
    QCOMPARE(f.events.constLast().version(), 4);
    QCOMPARE(f.events.constLast().message.metadata.value(u"from"_s).toString(), u"server"_s);
    QCOMPARE(f.log.constLast(), u"event expire session/b@4"_s);
    QCOMPARE(f.log.at(f.log.size() - 2), u"store.remove session/b@4"_s);

    // Putting again gives a new deadline; the old one does not remove the new entry.
    QVERIFY(f.store.apply(u"session"_s, put(u"a"_s, json(2), std::nullopt, 100), u"c"_s));
    f.now += 20000;
    QCOMPARE(f.store.get(u"session"_s, u"a"_s)->value(), json(2));
    QVERIFY(f.store.get(u"session"_s, u"c"_s));
    const auto page = f.store.list(u"session"_s, {}, {}, 10);
    QCOMPARE(page->entries.size(), 2);
}

void tst_KvStore::sweepExpiresEachAsAChange()
{
    Fixture f({{.name = u"session"_s, .ttl = 1}, {.name = u"room.*"_s, .ttl = 1}});
    QVERIFY(f.store.apply(u"session"_s, put(u"a"_s, json(1)), u"c"_s));
    QVERIFY(f.store.apply(u"session"_s, put(u"b"_s, json(1)), u"c"_s));
    QVERIFY(f.store.apply(u"room.1"_s, put(u"a"_s, json(1)), u"c"_s));
    QVERIFY(f.store.apply(u"room.1"_s, put(u"keep"_s, json(1), std::nullopt, 0), u"c"_s));
    QCOMPARE(f.store.sweep(), 0);
    f.now += 1000;
    f.log.clear();
    QCOMPARE(f.store.sweep(), 3);
    QCOMPARE(f.log.size(), 6);
    QVERIFY(f.log.contains(u"store.remove session/a@3"_s));
    QVERIFY(f.log.contains(u"event expire session/b@4"_s));
    QVERIFY(f.log.contains(u"event expire room.1/a@3"_s));
    QCOMPARE(f.store.sweep(), 0);
    QCOMPARE(f.store.apply(u"session"_s, put(u"a"_s, json(1)), u"c"_s)->entry.version(),
             quint64(5)); // expiries took revisions too
}

void tst_KvStore::batchAllOrNone()
{
    Fixture f({{.name = u"rooms"_s, .maxValueSize = 20, .maxKeys = 3}});
    QVERIFY(f.store.apply(u"rooms"_s, put(u"x"_s, json(1)), u"c"_s)); // version 1
    f.log.clear();
    const auto refused = [&](const QList<KvOperation> &operations, const Mtw::Error &error) {
        const auto result = f.store.batch(u"rooms"_s, operations, u"c"_s);
        QCOMPARE(result.error(), error);
        QCOMPARE(f.log, QStringList()); // nothing was applied, nothing stored, nothing published
    };
    refused({put(u"y"_s, json(1)), put(u"z"_s, json(1)), remove(u"missing"_s)},
            {404, u"payload[2]: key 'missing' not found in bucket 'rooms'"_s});
    refused(
        {put(u"y"_s, json(1)), put(u"x"_s, json(2), 5)},
        {409, u"payload[1]: version conflict on key 'x': expected version 5, current version 1"_s});
    refused({put(u"y"_s, json(1)), put(u"z"_s, json(1)), put(u"w"_s, json(1))},
            {507, u"payload[2]: bucket 'rooms' is full: at most 3 keys (max_keys)"_s});
    refused({put(u"y"_s, Mtw::Payload::fromText(QString(21, u'a')))},
            {413,
             u"payload[0]: value of 21 bytes is larger than bucket 'rooms' allows "
             "(max_value_size: 20 bytes)"_s});
    QCOMPARE(f.store.get(u"rooms"_s, u"y"_s).error().code, 404);

    const auto applied =
        f.store.batch(u"rooms"_s,
                      {put(u"y"_s, json(1), 0), remove(u"x"_s, 1), put(u"z"_s, json(3))},
                      u"c"_s);
    QVERIFY(applied);
    QCOMPARE(applied->size(), 3);
    QCOMPARE(applied->at(0).entry.version(), quint64(2));
    QCOMPARE(applied->at(1).kind, KvOperation::Kind::Delete);
    QCOMPARE(applied->at(1).entry.version(), quint64(3));
    QCOMPARE(applied->at(2).entry.version(), quint64(4));
    QCOMPARE(f.log,
             (QStringList{u"store.put rooms/y@2"_s,
                          u"event put rooms/y@2"_s,
                          u"store.remove rooms/x@3"_s,
                          u"event delete rooms/x@3"_s,
                          u"store.put rooms/z@4"_s,
                          u"event put rooms/z@4"_s}));
}

void tst_KvStore::batchSeesItsOwnEarlierOperations()
{
    Fixture f({{.name = u"rooms"_s, .maxKeys = 1}});
    // Put then delete the same key: the delete sees the put; the count never passes max_keys.
    const auto changes =
        f.store.batch(u"rooms"_s,
                      {put(u"a"_s, json(1), 0), remove(u"a"_s, 1), put(u"b"_s, json(2), 0)},
                      u"c"_s);
    QVERIFY(changes);
    QCOMPARE(changes->constLast().entry.version(), quint64(3));
    QCOMPARE(f.store.get(u"rooms"_s, u"a"_s).error().code, 404);
    QCOMPARE(f.store.get(u"rooms"_s, u"b"_s)->version(), quint64(3));
    // A second delete of a key the batch deleted is refused.
    QCOMPARE(f.store.batch(u"rooms"_s, {remove(u"b"_s), remove(u"b"_s)}, u"c"_s).error().code, 404);
}

void tst_KvStore::listPagesWithPrefix()
{
    Fixture f;
    for (const QString &key : {u"b1"_s, u"a3"_s, u"a1"_s, u"a5"_s, u"a2"_s, u"a4"_s, u"c"_s})
        QVERIFY(f.store.apply(u"rooms"_s, put(key, json(1)), u"c"_s));
    const auto keys = [](const Mtw::Internal::KvPage &page) {
        QStringList list;
        for (const Mtw::KvEntry &entry : page.entries)
            list.append(entry.key());
        return list;
    };
    auto page = f.store.list(u"rooms"_s, u"a"_s, {}, 2);
    QCOMPARE(keys(*page), (QStringList{u"a1"_s, u"a2"_s}));
    QCOMPARE(page->next, u"a2"_s);
    QCOMPARE(page->revision, quint64(7));
    page = f.store.list(u"rooms"_s, u"a"_s, page->next, 2);
    QCOMPARE(keys(*page), (QStringList{u"a3"_s, u"a4"_s}));
    page = f.store.list(u"rooms"_s, u"a"_s, page->next, 2);
    QCOMPARE(keys(*page), QStringList{u"a5"_s});
    QCOMPARE(page->next, QString()); // the end: nothing more with the prefix
    page = f.store.list(u"rooms"_s, {}, {}, 100);
    QCOMPARE(keys(*page).size(), 7);
    QCOMPARE(keys(*page).constFirst(), u"a1"_s);
    QCOMPARE(keys(*page).constLast(), u"c"_s);
    QCOMPARE(keys(*f.store.list(u"rooms"_s, u"a"_s, u"a"_s, 1)), QStringList{u"a1"_s});
    QCOMPARE(keys(*f.store.list(u"rooms"_s, u"a"_s, u"0"_s, 1)), QStringList{u"a1"_s});
    QCOMPARE(keys(*f.store.list(u"rooms"_s, u"a"_s, u"a5"_s, 10)), QStringList());
    QCOMPARE(keys(*f.store.list(u"rooms"_s, u"b"_s, {}, 10)), QStringList{u"b1"_s});
    QCOMPARE(keys(*f.store.list(u"room.x"_s, {}, {}, 10)), QStringList()); // configured, empty
    QCOMPARE(page->entries.at(0).value(), json(1));
}

void tst_KvStore::restoreWithRevisions()
{
    Fixture f({{.name = u"rooms"_s}, {.name = u"room.*"_s}});
    const auto entry =
        [](const QString &bucket, const QString &key, quint64 version, qint64 expiresAt) {
            Mtw::KvEntry e;
            e.setBucket(bucket);
            e.setKey(key);
            e.setValue(Mtw::Payload::fromText(key + u"!"_s));
            e.setVersion(version);
            e.setExpiresAt(expiresAt);
            return e;
        };
    Mtw::StoreSnapshot snapshot;
    snapshot.setEntries({entry(u"rooms"_s, u"a"_s, 3, 0),
                         entry(u"rooms"_s, u"b"_s, 5, f.now + 1000),
                         entry(u"room.7"_s, u"x"_s, 2, 0),
                         entry(u"gone"_s, u"x"_s, 1, 0),
                         entry(u"gone.too"_s, u"y"_s, 1, 0)});
    snapshot.setRevisions({{u"rooms"_s, 9}, {u"room.7"_s, 2}, {u"room.8"_s, 4}, {u"gone"_s, 6}});
    QTest::ignoreMessage(QtWarningMsg,
                         "dropped 2 stored key-value entries of buckets that are no longer "
                         "configured: gone, gone.too");
    f.store.restore(snapshot);
    QCOMPARE(f.log, QStringList()); // restoring writes nothing back and publishes nothing
    QCOMPARE(f.store.get(u"rooms"_s, u"a"_s)->value(), Mtw::Payload::fromText(u"a!"_s));
    QCOMPARE(f.store.get(u"rooms"_s, u"a"_s)->version(), quint64(3));
    // The revision, not the highest entry version: 6..9 were deletions before the restart.
    QCOMPARE(f.store.apply(u"rooms"_s, put(u"c"_s, json(1)), u"c"_s)->entry.version(), quint64(10));
    QCOMPARE(f.store.apply(u"room.7"_s, put(u"y"_s, json(1)), u"c"_s)->entry.version(), quint64(3));
    // A bucket whose entries were all deleted keeps its revision too.
    QCOMPARE(f.store.apply(u"room.8"_s, put(u"y"_s, json(1)), u"c"_s)->entry.version(), quint64(5));
    // A restored deadline still holds.
    f.now += 1000;
    QCOMPARE(f.store.sweep(), 1);
    QVERIFY(f.log.contains(u"store.remove rooms/b@11"_s));
    QCOMPARE(f.store.get(u"gone"_s, u"x"_s).error().code, 404);
}

void tst_KvStore::eventShapes()
{
    Fixture f;
    QVERIFY(f.store.apply(u"rooms"_s, put(u"j"_s, json(1)), u"c1"_s));
    QVERIFY(f.store.apply(u"rooms"_s,
                          put(u"t"_s, Mtw::Payload::fromText(u"hi"_s), std::nullopt, 60),
                          u"c1"_s));
    QVERIFY(
        f.store.apply(u"rooms"_s, put(u"b"_s, Mtw::Payload::fromBinary("\x00\x01"_ba)), u"c1"_s));
    QVERIFY(f.store.apply(u"rooms"_s, remove(u"j"_s), u"c1"_s));
    QCOMPARE(f.events.size(), 4);
    const Mtw::Message &jsonEvent = f.events.at(0).message;
    QCOMPARE(jsonEvent.type, Mtw::MessageType::Publish);
    QCOMPARE(jsonEvent.metadata,
             (QJsonObject{{u"op"_s, u"put"_s},
                          {u"bucket"_s, u"rooms"_s},
                          {u"key"_s, u"j"_s},
                          {u"version"_s, 1},
                          {u"from"_s, u"c1"_s}}));
    QCOMPARE(jsonEvent.payload.json.toObject(),
             (QJsonObject{{u"bucket"_s, u"rooms"_s},
                          {u"key"_s, u"j"_s},
                          {u"version"_s, 1},
                          {u"kind"_s, u"Json"_s},
                          {u"value"_s, QJsonObject{{u"n"_s, 1}}}}));
    const QJsonObject text = f.events.at(1).message.payload.json.toObject();
    QCOMPARE(text.value(u"kind"_s).toString(), u"Text"_s);
    QCOMPARE(text.value(u"value"_s).toString(), u"hi"_s);
    QCOMPARE(text.value(u"expires_at"_s).toInteger(), f.now + 60000);
    QCOMPARE(f.events.at(1).message.metadata.value(u"expires_at"_s).toInteger(), f.now + 60000);
    QCOMPARE(f.events.at(2).message.payload, Mtw::Payload::fromBinary("\x00\x01"_ba));
    QCOMPARE(f.events.at(2).message.metadata.value(u"key"_s).toString(), u"b"_s);
    QCOMPARE(f.events.at(3).message.payload.json.toObject(),
             (QJsonObject{{u"bucket"_s, u"rooms"_s},
                          {u"key"_s, u"j"_s},
                          {u"version"_s, 4},
                          {u"deleted"_s, true}}));
    QCOMPARE(f.events.at(3).op(), u"delete"_s);
}

void tst_KvStore::concurrentWritersSeeOneOrder()
{
    Fixture f({{.name = u"rooms"_s, .maxKeys = 100000}});
    // The fixture's lists are not thread-safe: the publisher and the fake store only ever run
    // under the bucket's lock, which is what this test is about.
    constexpr int Threads = 4;
    constexpr int PerThread = 250;
    std::atomic<int> conflicts{0};
    std::atomic<int> failures{0};
    QList<QThread *> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.append(QThread::create([&, t] {
            for (int i = 0; i < PerThread; ++i) {
                if (!f.store.apply(u"rooms"_s, put(u"own.%1.%2"_s.arg(t).arg(i), json(i)), u"c"_s))
                    ++failures;
                // Everybody races for one shared counter with compare-and-set.
                for (;;) {
                    const auto current = f.store.get(u"rooms"_s, u"counter"_s);
                    const quint64 expected = current ? current->version() : 0;
                    const int value = current ? current->value().json[u"n"_s].toInt() : 0;
                    if (f.store.apply(u"rooms"_s,
                                      put(u"counter"_s, json(value + 1), expected),
                                      u"c"_s))
                        break;
                    ++conflicts;
                }
            }
        }));
    }
    for (QThread *thread : threads)
        thread->start();
    for (QThread *thread : threads) {
        QVERIFY(thread->wait(60000));
        delete thread;
    }
    QCOMPARE(failures.load(), 0);
    QCOMPARE(f.store.get(u"rooms"_s, u"counter"_s)->value(), json(Threads * PerThread));
    // The publisher ran under the bucket's lock: events are in strictly increasing versions.
    QCOMPARE(f.events.size(), 2 * Threads * PerThread);
    for (qsizetype i = 0; i < f.events.size(); ++i)
        QCOMPARE(f.events.at(i).version(), i + 1);
}

void tst_KvStore::watchChannelSettings()
{
    Mtw::Config config = configWith({{.name = u"secret"_s, .auth = true}, {.name = u"room.*"_s}});
    Mtw::ChannelConfig everything;
    everything.name = u"**"_s; // [[channels]] do not apply to $kv.<bucket>
    everything.history = 3;
    everything.presence = true;
    config.channels.append(everything);
    const Mtw::Internal::ChannelSettingsResolver resolver(config);
    const Mtw::Internal::ChannelSettings secret = resolver.resolve(u"$kv.secret"_s);
    QCOMPARE(secret.auth, true);
    QCOMPARE(secret.history, 50);
    QCOMPARE(secret.historyTtl, 300);
    QCOMPARE(secret.presence, false);
    QCOMPARE(resolver.resolve(u"$kv.room.1"_s).auth, false);
    QCOMPARE(resolver.resolve(u"$kv.room.1"_s).history, 50);
    QCOMPARE(resolver.resolve(u"$kv.unknown"_s).auth, true); // closed unless a bucket opens it
    QCOMPARE(resolver.resolve(u"chat"_s).history, 3);
    QVERIFY(Mtw::Internal::findKvBucket(config.kv, u"room.1"_s) == &std::as_const(config.kv).at(1));
    QVERIFY(!Mtw::Internal::findKvBucket(config.kv, u"room..1"_s));
}

QTEST_GUILESS_MAIN(tst_KvStore)
#include "tst_kvstore.moc"
