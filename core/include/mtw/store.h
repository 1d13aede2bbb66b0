// SPDX-License-Identifier: MIT
// The store service: where channel history and key-value entries outlive the process. Without a
// store module, both live in memory only (and a restart gives every channel a new epoch).
// See docs/store.md.
#pragma once

#include <mtw/global.h>
#include <mtw/message.h>
#include <mtw/result.h>

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QSharedDataPointer>
#include <QString>

namespace Mtw {

namespace Internal {
class StoredPublicationPrivate;
class StoredChannelPrivate;
class HistoryBoundsPrivate;
class KvEntryPrivate;
class StoreSnapshotPrivate;
} // namespace Internal

// One publication of a channel, as the server hands it to a store and a store gives it back.
class MTW_CORE_EXPORT StoredPublication
{
public:
    MTW_DECLARE_SHARED_VALUE(StoredPublication)

    quint64 offset() const; // strictly increasing per channel and epoch, from 1
    void setOffset(quint64 offset);
    qint64 publishedAt() const; // ms since the Unix epoch: what history_ttl counts from
    void setPublishedAt(qint64 milliseconds);
    // The encoded JSON envelope as subscribers received it (metadata.offset and .epoch included).
    QByteArray envelope() const;
    void setEnvelope(const QByteArray &envelope);

private:
    QSharedDataPointer<Internal::StoredPublicationPrivate> d;
};

// A channel's retained history, as IStore::open() returns it.
class MTW_CORE_EXPORT StoredChannel
{
public:
    MTW_DECLARE_SHARED_VALUE(StoredChannel)

    QString name() const;
    void setName(const QString &name);
    QString epoch() const;
    void setEpoch(const QString &epoch);
    quint64 offset() const; // the last offset given out in this epoch (0: none yet)
    void setOffset(quint64 offset);
    QList<StoredPublication> publications() const; // oldest first
    void setPublications(const QList<StoredPublication> &publications);

private:
    QSharedDataPointer<Internal::StoredChannelPrivate> d;
};

// The bounds a channel's history is kept within: its [[channels]] history, history_bytes and
// history_ttl. A store trims to them as it appends; the server trims its memory to the same.
class MTW_CORE_EXPORT HistoryBounds
{
public:
    MTW_DECLARE_SHARED_VALUE(HistoryBounds)

    int count() const; // publications kept; 0 = none
    void setCount(int count);
    qint64 bytes() const; // envelope bytes kept; 0 = no byte bound
    void setBytes(qint64 bytes);
    qint64 ttlMs() const; // 0 = until pushed out
    void setTtlMs(qint64 milliseconds);

private:
    QSharedDataPointer<Internal::HistoryBoundsPrivate> d;
};

// One entry of a key-value bucket (docs/kv.md).
class MTW_CORE_EXPORT KvEntry
{
public:
    MTW_DECLARE_SHARED_VALUE(KvEntry)

    QString bucket() const;
    void setBucket(const QString &bucket);
    QString key() const;
    void setKey(const QString &key);
    Payload value() const; // Json, Text or Binary
    void setValue(const Payload &value);
    // The bucket's revision when the entry last changed: every change in a bucket (put or delete,
    // any key) takes the next revision, so a version is never reused in its bucket.
    quint64 version() const;
    void setVersion(quint64 version);
    qint64 expiresAt() const; // ms since the Unix epoch; 0 = never
    void setExpiresAt(qint64 milliseconds);

private:
    QSharedDataPointer<Internal::KvEntryPrivate> d;
};

// Everything a store retained, as IStore::open() returns it.
class MTW_CORE_EXPORT StoreSnapshot
{
public:
    MTW_DECLARE_SHARED_VALUE(StoreSnapshot)

    QList<StoredChannel> channels() const;
    void setChannels(const QList<StoredChannel> &channels);
    QList<KvEntry> entries() const;
    void setEntries(const QList<KvEntry> &entries);
    // The last revision of each bucket, deletions included (a bucket whose last changes were
    // deletions has a revision above all its entries' versions).
    QHash<QString, quint64> revisions() const;
    void setRevisions(const QHash<QString, quint64> &revisions);
    // False when changes the server made may be missing from the snapshot (the last run ended
    // without a graceful stop, or writes were dropped): the server then gives every restored
    // channel a new epoch (its publications are kept), since offsets it handed out may not be
    // there and would be handed out again. True by default.
    bool isComplete() const;
    void setComplete(bool complete);

private:
    QSharedDataPointer<Internal::StoreSnapshotPrivate> d;
};

// Keeps channel history and key-value entries across restarts. The server keeps the live
// window in memory and serves every read from there; a store is written through, so that a
// restarted server starts from what it had. Register one with ModuleContext::registerStore();
// the server uses the one with the highest priority.
//
// open() is called once, from the server's thread, after the modules started and before the
// first client is accepted; it may take its time (it reads the database). Everything else is
// called from I/O worker threads, concurrently, while the server holds the lock of the channel
// or bucket concerned, so the calls for one channel or bucket arrive in the order the changes
// happened: they must not block. Queue the write and return; write on a thread of your own.
// A store that cannot write logs it and reports itself unhealthy; the server serves on from
// memory. Write calls may still come after the module's stop() returned (a late key-value
// expiry while the workers wind down): ignore them.
class IStore
{
public:
    virtual ~IStore() = default;

    // What the store retained. An Error is logged and the server starts with nothing retained.
    virtual Result<StoreSnapshot> open() = 0;

    // `publication` was published on `channel` in `epoch`. An epoch other than the one stored
    // for the channel means the server lost the old history: start the channel over. Keep at
    // most what `bounds` allows.
    virtual void appendPublication(const QString &channel,
                                   const QString &epoch,
                                   const StoredPublication &publication,
                                   const HistoryBounds &bounds) = 0;
    // The channel is gone (no members, its history expired): forget it and its epoch.
    virtual void removeChannel(const QString &channel) = 0;

    // The entry was created or changed (same bucket and key: replace it).
    virtual void putEntry(const KvEntry &entry) = 0;
    // The entry was deleted or expired, as the bucket's change `revision`.
    virtual void removeEntry(const QString &bucket, const QString &key, quint64 revision) = 0;
};

} // namespace Mtw
