// SPDX-License-Identifier: MIT
// The key-value store (docs/kv.md): buckets configured as [[kv]] entries, entries with versions
// that are the bucket's revision, compare-and-set, TTL, and a change event per change for the
// bucket's watch channel `$kv.<bucket>`.
#pragma once

#include <mtw/config.h>
#include <mtw/message.h>
#include <mtw/result.h>
#include <mtw/store.h>

#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QMutex>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace Mtw::Internal {

inline constexpr int KvMaxKeyLength = 1024;
inline constexpr int KvBatchMax = 100; // operations in one kv.batch
inline constexpr int KvListDefault = 100;
inline constexpr int KvListMax = 1000;

// Why `key` cannot be a key ("expected a non-empty string", ...); empty when it can.
QString kvKeyProblem(const QString &key);
// The bytes a value counts against max_value_size: Json compact UTF-8, Text UTF-8, Binary bytes.
qint64 kvValueSize(const Payload &value);

// The effective settings of one concrete bucket.
struct KvBucketSettings
{
    bool auth = false;
    qint64 maxValueSize = 64 * 1000;
    int maxKeys = 10000;
    qint64 ttlMs = 0; // 0 = entries do not expire unless a put says so
};

// One change a writer asks for.
struct KvOperation
{
    enum class Kind { Put, Delete };
    Kind kind = Kind::Put;
    QString key;
    Payload value;                          // Put: Json, Text or Binary
    std::optional<quint64> expectedVersion; // compare-and-set; 0 = only if absent
    std::optional<qint64> ttlSeconds;       // Put; nullopt = the bucket's ttl, 0 = no expiry
};

// A change made: the key's new version is the revision the change took in its bucket.
struct KvChange
{
    KvOperation::Kind kind = KvOperation::Kind::Put;
    KvEntry entry; // a deletion: bucket, key and version only
};

// One page of kv.list.
struct KvPage
{
    QList<KvEntry> entries; // sorted by key (UTF-16 code units)
    QString next;           // the key to pass as `after` for the next page; empty at the end
    quint64 revision = 0;   // the bucket's revision when the page was read
};

// Shared by every I/O worker; any method may be called from any thread. Each bucket has its
// own mutex, held for the change, the store call and the publish of its event, so watchers and
// the store see a bucket's changes in revision order. Lock order: a bucket, then (inside the
// publisher) the channel registry; the store never holds two bucket locks.
// Buckets of a pattern entry come into being at their first change and stay (their revision
// must never go back); at most `server.max_channels` buckets exist, since each may have a watch
// channel. Reads of a bucket that has not come into being see it empty.
class KvStore
{
public:
    using Clock = std::function<qint64()>; // ms since the Unix epoch
    // Publishes `event` on `channel` (`$kv.<bucket>`); called under the bucket's lock.
    using Publisher = std::function<void(const QString &channel, const Message &event)>;

    KvStore(const Mtw::Config &config, Publisher publisher, Clock clock = {});
    ~KvStore();
    Q_DISABLE_COPY_MOVE(KvStore)

    // A reload's server.max_channels: refuses new buckets beyond it, removes none.
    void setMaxBuckets(int most) { m_maxBuckets.store(most, std::memory_order_relaxed); }
    // 404 when no [[kv]] entry names or matches `bucket`.
    Result<KvBucketSettings> settings(const QString &bucket) const;

    // 404 unknown bucket or missing key.
    Result<KvEntry> get(const QString &bucket, const QString &key);
    // One put or delete. Errors: 400 bad key or value, 404 unknown bucket or (delete) missing key,
    // 409 compare-and-set conflict, 413 value over max_value_size, 507 max_keys or too many
    // buckets. `writer` is the conn_id for the event's metadata.from ("server" for the server).
    Result<KvChange>
    apply(const QString &bucket, const KvOperation &operation, const QString &writer);
    // All or none: every operation is checked against the state the ones before it leave, then
    // all are applied, each taking the next revision. Errors as apply(), their message starting
    // with "payload[<index>]".
    Result<QList<KvChange>>
    batch(const QString &bucket, const QList<KvOperation> &operations, const QString &writer);
    // Up to `limit` entries whose key starts with `prefix`, after `after` (empty: from the start).
    Result<KvPage>
    list(const QString &bucket, const QString &prefix, const QString &after, int limit);

    // Removes the entries whose time is up, each as a change (op "expire"). Returns how many.
    int sweep();

    // Written through on every change, under the bucket's lock. Set before serving.
    void setStore(IStore *store);
    // What a store kept, before serving: replaces the entries and revisions held. Entries of
    // buckets no longer configured are dropped (one log line).
    void restore(const StoreSnapshot &snapshot);
    // How far revisions jump after a restore from an incomplete snapshot.
    static constexpr quint64 LostRevisionGap = 1000000000;

    int bucketCount() const;

private:
    void skipLostRevisions();
    struct Bucket;
    struct KeyState;

    Bucket *find(const QString &bucket) const;
    Result<Bucket *> materialise(const QString &bucket);
    std::optional<Error> check(const Bucket &bucket,
                               const KvOperation &operation,
                               const KeyState &current,
                               qsizetype count) const;
    KvChange applyLocked(Bucket &bucket, const KvOperation &operation, const QString &writer);
    void expireDue(Bucket &bucket);
    void
    removeLocked(Bucket &bucket, const QString &key, QLatin1StringView op, const QString &writer);
    void publish(const Bucket &bucket,
                 QLatin1StringView op,
                 const KvEntry &entry,
                 const QString &writer);

    const QList<KvBucketConfig> m_config;
    std::atomic<int> m_maxBuckets; // server.max_channels, live (setMaxBuckets)
    const Publisher m_publisher;
    const Clock m_clock;
    std::atomic<IStore *> m_store{nullptr};
    // The hash only; entries are under each bucket's mutex. A QMutex, not a QReadWriteLock:
    // ThreadSanitizer sees its lock and unlock (see SharedState), and the sections are a lookup.
    mutable QMutex m_bucketsLock;
    QHash<QString, std::shared_ptr<Bucket>> m_buckets; // never removed while the store lives
};

// The payload of a get answer and of a put event: a Binary value as it is; a Json or Text value
// as Json {"bucket","key","version","kind","value"} (and "expires_at" when it expires).
Payload kvEntryPayload(const KvEntry &entry);
// metadata of answers and events: bucket, key, version (and expires_at when it expires).
QJsonObject kvEntryMetadata(const KvEntry &entry);
// {"bucket","key","version"} (and "expires_at"): the answer to a put.
QJsonObject kvEntryIdentity(const KvEntry &entry);
// The event a change publishes on its bucket's watch channel; `op` is put, delete or expire.
Message kvChangeEvent(QLatin1StringView op, const KvEntry &entry, const QString &writer);
// The same message as the bucket's error for a refused change (shared with the cluster's store).
Error kvMissingKey(const QString &bucket, const QString &key);
Error kvVersionConflict(const QString &key, quint64 expected, bool exists, quint64 version);
Error kvBucketFull(const QString &bucket, int maxKeys);
Error kvValueTooLarge(const QString &bucket, qint64 size, qint64 maxValueSize);

} // namespace Mtw::Internal
