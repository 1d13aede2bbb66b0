// SPDX-License-Identifier: MIT
#include "kv/kvstore.h"

#include "channels/channelsettings.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QMap>
#include <QMutex>

#include <set>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcKv, "mtw.kv")

struct KvStore::Bucket
{
    QString name;
    QString channel; // $kv.<name>
    KvBucketSettings settings;
    QMutex mutex;
    quint64 revision = 0;                          // the last revision given out; never goes back
    QMap<QString, KvEntry> entries;                // sorted, for kv.list
    std::set<std::pair<qint64, QString>> expiries; // (expiresAt, key) of the entries that expire
};

// A key as a check sees it: in the bucket, or as an earlier operation of a batch left it.
struct KvStore::KeyState
{
    bool exists = false;
    quint64 version = 0;
};

namespace {

KvBucketSettings settingsOf(const KvBucketConfig &entry)
{
    return {entry.auth, entry.maxValueSize, entry.maxKeys, qint64(entry.ttl) * 1000};
}

Error unknownBucket(const QString &bucket)
{
    return Error{404, u"bucket '%1' is not configured"_s.arg(bucket)};
}

Error missingKey(const QString &bucket, const QString &key)
{
    return Error{404, u"key '%1' not found in bucket '%2'"_s.arg(key, bucket)};
}

QString versionText(bool exists, quint64 version)
{
    return exists ? u"current version %1"_s.arg(version) : u"the key is absent"_s;
}

} // namespace

QString kvKeyProblem(const QString &key)
{
    if (key.isEmpty())
        return u"expected a non-empty string"_s;
    if (key.size() > KvMaxKeyLength)
        return u"at most %1 characters, got %2"_s.arg(KvMaxKeyLength).arg(key.size());
    for (qsizetype i = 0; i < key.size(); ++i) {
        if (key.at(i).category() == QChar::Other_Control)
            return u"control character U+%1 at position %2"_s
                .arg(key.at(i).unicode(), 4, 16, QLatin1Char('0'))
                .arg(i);
    }
    return {};
}

qint64 kvValueSize(const Payload &value)
{
    switch (value.kind) {
    case Payload::Kind::Json:
        // A scalar cannot be a document of its own: measure it inside "[...]".
        return QJsonDocument(QJsonArray{value.json}).toJson(QJsonDocument::Compact).size() - 2;
    case Payload::Kind::Text:
        return value.text.toUtf8().size();
    case Payload::Kind::Binary:
        return value.binary.size();
    case Payload::Kind::None:
        break;
    }
    return 0;
}

KvStore::KvStore(const Mtw::Config &config, Publisher publisher, Clock clock)
    : m_config(config.kv)
    , m_maxBuckets(config.server.maxChannels)
    , m_publisher(std::move(publisher))
    , m_clock(clock ? std::move(clock) : Clock(&QDateTime::currentMSecsSinceEpoch))
{ }

KvStore::~KvStore() = default;

Result<KvBucketSettings> KvStore::settings(const QString &bucket) const
{
    const KvBucketConfig *entry = findKvBucket(m_config, bucket);
    if (!entry)
        return tl::unexpected(unknownBucket(bucket));
    return settingsOf(*entry);
}

KvStore::Bucket *KvStore::find(const QString &bucket) const
{
    QMutexLocker lock(&m_bucketsLock);
    return m_buckets.value(bucket).get();
}

Result<KvStore::Bucket *> KvStore::materialise(const QString &bucket)
{
    if (Bucket *existing = find(bucket))
        return existing;
    const KvBucketConfig *entry = findKvBucket(m_config, bucket);
    if (!entry)
        return tl::unexpected(unknownBucket(bucket));
    QMutexLocker lock(&m_bucketsLock);
    if (const auto raced = m_buckets.constFind(bucket); raced != m_buckets.cend())
        return raced->get();
    if (const int most = m_maxBuckets.load(std::memory_order_relaxed); m_buckets.size() >= most)
        return fail(507,
                    u"too many buckets: at most %1 may exist (server.max_channels)"_s.arg(most));
    auto created = std::make_shared<Bucket>();
    created->name = bucket;
    created->channel = KvChannelPrefix + bucket;
    created->settings = settingsOf(*entry);
    m_buckets.insert(bucket, created);
    return created.get();
}

int KvStore::bucketCount() const
{
    QMutexLocker lock(&m_bucketsLock);
    return int(m_buckets.size());
}

Result<KvEntry> KvStore::get(const QString &bucket, const QString &key)
{
    if (!findKvBucket(m_config, bucket))
        return tl::unexpected(unknownBucket(bucket));
    Bucket *found = find(bucket);
    if (!found)
        return tl::unexpected(missingKey(bucket, key));
    QMutexLocker lock(&found->mutex);
    expireDue(*found);
    const auto it = found->entries.constFind(key);
    if (it == found->entries.cend())
        return tl::unexpected(missingKey(bucket, key));
    return *it;
}

std::optional<Error> KvStore::check(const Bucket &bucket,
                                    const KvOperation &operation,
                                    const KeyState &current,
                                    qsizetype count) const
{
    if (const QString problem = kvKeyProblem(operation.key); !problem.isEmpty())
        return Error{400, u"key: "_s + problem};
    const bool put = operation.kind == KvOperation::Kind::Put;
    if (put && operation.value.kind == Payload::Kind::None)
        return Error{400, u"value: expected a Json, Text or Binary value"_s};
    if (put && kvValueSize(operation.value) > bucket.settings.maxValueSize)
        return kvValueTooLarge(bucket.name,
                               kvValueSize(operation.value),
                               bucket.settings.maxValueSize);
    if (!put && !current.exists)
        return missingKey(bucket.name, operation.key);
    if (const auto expected = operation.expectedVersion) {
        const bool matches =
            *expected == 0 ? !current.exists : current.exists && current.version == *expected;
        if (!matches)
            return kvVersionConflict(operation.key, *expected, current.exists, current.version);
    }
    if (put && !current.exists && count >= bucket.settings.maxKeys)
        return kvBucketFull(bucket.name, bucket.settings.maxKeys);
    return std::nullopt;
}

Result<KvChange>
KvStore::apply(const QString &bucket, const KvOperation &operation, const QString &writer)
{
    // A delete finds nothing in a bucket that does not exist yet: it does not create one.
    if (operation.kind == KvOperation::Kind::Delete && findKvBucket(m_config, bucket)
        && !find(bucket))
        return tl::unexpected(missingKey(bucket, operation.key));
    const auto found = materialise(bucket);
    if (!found)
        return tl::unexpected(found.error());
    Bucket &target = **found;
    QMutexLocker lock(&target.mutex);
    expireDue(target);
    const auto it = target.entries.constFind(operation.key);
    const KeyState current{it != target.entries.cend(),
                           it != target.entries.cend() ? it->version() : 0};
    if (const auto refusal = check(target, operation, current, target.entries.size()))
        return tl::unexpected(*refusal);
    return applyLocked(target, operation, writer);
}

Result<QList<KvChange>>
KvStore::batch(const QString &bucket, const QList<KvOperation> &operations, const QString &writer)
{
    const auto found = materialise(bucket);
    if (!found)
        return tl::unexpected(found.error());
    Bucket &target = **found;
    QMutexLocker lock(&target.mutex);
    expireDue(target);
    // Check every operation against what the ones before it would leave, change nothing yet.
    QHash<QString, KeyState> staged;
    qsizetype count = target.entries.size();
    quint64 revision = target.revision;
    for (qsizetype i = 0; i < operations.size(); ++i) {
        const KvOperation &operation = operations.at(i);
        KeyState current = staged.value(operation.key);
        if (!staged.contains(operation.key)) {
            const auto it = target.entries.constFind(operation.key);
            if (it != target.entries.cend())
                current = {true, it->version()};
        }
        if (auto refusal = check(target, operation, current, count)) {
            refusal->message = u"payload[%1]: "_s.arg(i) + refusal->message;
            return tl::unexpected(*refusal);
        }
        const bool put = operation.kind == KvOperation::Kind::Put;
        count += put ? (current.exists ? 0 : 1) : -1;
        staged.insert(operation.key, KeyState{put, ++revision});
    }
    QList<KvChange> changes;
    changes.reserve(operations.size());
    for (const KvOperation &operation : operations)
        changes.append(applyLocked(target, operation, writer));
    return changes;
}

KvChange KvStore::applyLocked(Bucket &bucket, const KvOperation &operation, const QString &writer)
{
    if (operation.kind == KvOperation::Kind::Delete) {
        removeLocked(bucket, operation.key, "delete"_L1, writer);
        KvEntry removed;
        removed.setBucket(bucket.name);
        removed.setKey(operation.key);
        removed.setVersion(bucket.revision);
        return {KvOperation::Kind::Delete, removed};
    }
    const auto previous = bucket.entries.constFind(operation.key);
    if (previous != bucket.entries.cend() && previous->expiresAt() != 0)
        bucket.expiries.erase({previous->expiresAt(), operation.key});
    const qint64 ttlMs =
        operation.ttlSeconds ? *operation.ttlSeconds * 1000 : bucket.settings.ttlMs;
    KvEntry entry;
    entry.setBucket(bucket.name);
    entry.setKey(operation.key);
    entry.setValue(operation.value);
    entry.setVersion(++bucket.revision);
    entry.setExpiresAt(ttlMs > 0 ? m_clock() + ttlMs : 0);
    bucket.entries.insert(operation.key, entry);
    if (entry.expiresAt() != 0)
        bucket.expiries.insert({entry.expiresAt(), operation.key});
    if (IStore *store = m_store.load(std::memory_order_acquire))
        store->putEntry(entry);
    publish(bucket, "put"_L1, entry, writer);
    return {KvOperation::Kind::Put, entry};
}

void KvStore::removeLocked(Bucket &bucket,
                           const QString &key,
                           QLatin1StringView op,
                           const QString &writer)
{
    const auto it = bucket.entries.find(key);
    if (it == bucket.entries.end())
        return;
    if (it->expiresAt() != 0)
        bucket.expiries.erase({it->expiresAt(), key});
    bucket.entries.erase(it);
    const quint64 revision = ++bucket.revision;
    if (IStore *store = m_store.load(std::memory_order_acquire))
        store->removeEntry(bucket.name, key, revision);
    KvEntry removed;
    removed.setBucket(bucket.name);
    removed.setKey(key);
    removed.setVersion(revision);
    publish(bucket, op, removed, writer);
}

// Every operation on a bucket starts here, so that an expired entry is gone for reads and does
// not hold a max_keys slot, whether or not the sweep has come by yet.
void KvStore::expireDue(Bucket &bucket)
{
    if (bucket.expiries.empty() || bucket.expiries.begin()->first > m_clock())
        return;
    const qint64 now = m_clock();
    while (!bucket.expiries.empty() && bucket.expiries.begin()->first <= now) {
        const QString key = bucket.expiries.begin()->second;
        removeLocked(bucket, key, "expire"_L1, u"server"_s);
    }
}

Message kvChangeEvent(QLatin1StringView op, const KvEntry &entry, const QString &writer)
{
    const bool removal = op != "put"_L1;
    Payload payload = kvEntryPayload(entry);
    if (removal) {
        QJsonObject data = kvEntryIdentity(entry);
        data.insert(u"deleted"_s, true);
        payload = Payload::fromJson(data);
    }
    Message event = Message::create(MessageType::Publish, payload);
    event.metadata = kvEntryMetadata(entry);
    event.metadata.insert(u"op"_s, QString(op));
    event.metadata.insert(u"from"_s, writer);
    return event;
}

Error kvMissingKey(const QString &bucket, const QString &key)
{
    return missingKey(bucket, key);
}

Error kvVersionConflict(const QString &key, quint64 expected, bool exists, quint64 version)
{
    return Error{409,
                 u"version conflict on key '%1': expected version %2%3, %4"_s.arg(
                     key,
                     QString::number(expected),
                     expected == 0 ? u" (absent)"_s : QString(),
                     versionText(exists, version))};
}

Error kvValueTooLarge(const QString &bucket, qint64 size, qint64 maxValueSize)
{
    return Error{413,
                 u"value of %1 bytes is larger than bucket '%2' allows (max_value_size: %3 "
                 "bytes)"_s.arg(size)
                     .arg(bucket)
                     .arg(maxValueSize)};
}

Error kvBucketFull(const QString &bucket, int maxKeys)
{
    return Error{507,
                 u"bucket '%1' is full: at most %2 keys (max_keys)"_s.arg(bucket).arg(maxKeys)};
}

void KvStore::publish(const Bucket &bucket,
                      QLatin1StringView op,
                      const KvEntry &entry,
                      const QString &writer)
{
    if (!m_publisher)
        return;
    m_publisher(bucket.channel, kvChangeEvent(op, entry, writer));
}

Result<KvPage>
KvStore::list(const QString &bucket, const QString &prefix, const QString &after, int limit)
{
    if (!findKvBucket(m_config, bucket))
        return tl::unexpected(unknownBucket(bucket));
    KvPage page;
    Bucket *found = find(bucket);
    if (!found)
        return page;
    QMutexLocker lock(&found->mutex);
    expireDue(*found);
    page.revision = found->revision;
    // Continue after `after` when it is at or past the prefix's first key, else from there.
    const bool continued = !after.isEmpty() && after >= prefix;
    auto it = continued ? found->entries.upperBound(after) : found->entries.lowerBound(prefix);
    for (; it != found->entries.end() && it.key().startsWith(prefix); ++it) {
        if (page.entries.size() == limit) {
            page.next = page.entries.constLast().key();
            break;
        }
        page.entries.append(*it);
    }
    return page;
}

int KvStore::sweep()
{
    QList<std::shared_ptr<Bucket>> buckets;
    {
        QMutexLocker lock(&m_bucketsLock);
        buckets = m_buckets.values();
    }
    int expired = 0;
    for (const auto &bucket : std::as_const(buckets)) {
        QMutexLocker lock(&bucket->mutex);
        const qsizetype before = bucket->entries.size();
        expireDue(*bucket);
        expired += int(before - bucket->entries.size());
    }
    return expired;
}

void KvStore::restore(const StoreSnapshot &snapshot)
{
    {
        QMutexLocker lock(&m_bucketsLock);
        m_buckets.clear();
    }
    QHash<QString, int> dropped;
    const QHash<QString, quint64> revisions = snapshot.revisions();
    for (auto it = revisions.cbegin(); it != revisions.cend(); ++it) {
        if (const auto bucket = materialise(it.key())) {
            QMutexLocker lock(&(*bucket)->mutex);
            (*bucket)->revision = std::max((*bucket)->revision, it.value());
        }
    }
    const QList<KvEntry> entries = snapshot.entries();
    for (const KvEntry &entry : entries) {
        const auto bucket = materialise(entry.bucket());
        if (!bucket) {
            ++dropped[entry.bucket()];
            continue;
        }
        Bucket &target = **bucket;
        QMutexLocker lock(&target.mutex);
        target.revision = std::max(target.revision, entry.version());
        target.entries.insert(entry.key(), entry);
        if (entry.expiresAt() != 0)
            target.expiries.insert({entry.expiresAt(), entry.key()});
    }
    if (!snapshot.isComplete())
        skipLostRevisions();
    if (!dropped.isEmpty()) {
        QStringList names = dropped.keys();
        names.sort();
        int count = 0;
        for (const int n : std::as_const(dropped))
            count += n;
        qCWarning(lcKv).noquote() << "dropped" << count << "stored key-value entries of buckets"
                                  << "that are no longer configured:" << names.join(u", "_s);
    }
}

// The store may have lost the last changes (it did not stop gracefully): versions it does not
// know of may have been answered to clients. Every bucket's revision jumps past any such gap
// (a store queues far fewer than this many writes), so that no version is handed out twice.
void KvStore::skipLostRevisions()
{
    QMutexLocker lock(&m_bucketsLock);
    for (const auto &bucket : std::as_const(m_buckets)) {
        QMutexLocker bucketLock(&bucket->mutex);
        bucket->revision += LostRevisionGap;
    }
    if (!m_buckets.isEmpty())
        qCWarning(lcKv) << "the store may miss its last changes: key-value versions continue"
                        << LostRevisionGap << "higher";
}

void KvStore::setStore(IStore *store)
{
    m_store.store(store, std::memory_order_release);
}

} // namespace Mtw::Internal
