// SPDX-License-Identifier: MIT
// The values of <mtw/store.h>; their members live here so that adding one changes nothing for a
// compiled plugin.
#include "modules/sharedvalue_p.h"

#include <mtw/store.h>

namespace Mtw {

namespace Internal {

class StoredPublicationPrivate : public QSharedData
{
public:
    quint64 offset = 0;
    qint64 publishedAt = 0;
    QByteArray envelope;
};

class StoredChannelPrivate : public QSharedData
{
public:
    QString name;
    QString epoch;
    quint64 offset = 0;
    QList<StoredPublication> publications;
};

class HistoryBoundsPrivate : public QSharedData
{
public:
    int count = 0;
    qint64 bytes = 0;
    qint64 ttlMs = 0;
};

class KvEntryPrivate : public QSharedData
{
public:
    QString bucket;
    QString key;
    Payload value;
    quint64 version = 0;
    qint64 expiresAt = 0;
};

class StoreSnapshotPrivate : public QSharedData
{
public:
    QList<StoredChannel> channels;
    QList<KvEntry> entries;
    QHash<QString, quint64> revisions;
    bool complete = true;
};

} // namespace Internal

using StoredPublications = QList<StoredPublication>;
using StoredChannels = QList<StoredChannel>;
using KvEntries = QList<KvEntry>;
using Revisions = QHash<QString, quint64>;

MTW_DEFINE_SHARED_VALUE(StoredPublication)
MTW_SHARED_SCALAR_PROPERTY(StoredPublication, quint64, offset, setOffset, offset)
MTW_SHARED_SCALAR_PROPERTY(StoredPublication, qint64, publishedAt, setPublishedAt, publishedAt)
MTW_SHARED_PROPERTY(StoredPublication, QByteArray, envelope, setEnvelope, envelope)

MTW_DEFINE_SHARED_VALUE(StoredChannel)
MTW_SHARED_PROPERTY(StoredChannel, QString, name, setName, name)
MTW_SHARED_PROPERTY(StoredChannel, QString, epoch, setEpoch, epoch)
MTW_SHARED_SCALAR_PROPERTY(StoredChannel, quint64, offset, setOffset, offset)
MTW_SHARED_PROPERTY(StoredChannel, StoredPublications, publications, setPublications, publications)

MTW_DEFINE_SHARED_VALUE(HistoryBounds)
MTW_SHARED_SCALAR_PROPERTY(HistoryBounds, int, count, setCount, count)
MTW_SHARED_SCALAR_PROPERTY(HistoryBounds, qint64, bytes, setBytes, bytes)
MTW_SHARED_SCALAR_PROPERTY(HistoryBounds, qint64, ttlMs, setTtlMs, ttlMs)

MTW_DEFINE_SHARED_VALUE(KvEntry)
MTW_SHARED_PROPERTY(KvEntry, QString, bucket, setBucket, bucket)
MTW_SHARED_PROPERTY(KvEntry, QString, key, setKey, key)
MTW_SHARED_PROPERTY(KvEntry, Payload, value, setValue, value)
MTW_SHARED_SCALAR_PROPERTY(KvEntry, quint64, version, setVersion, version)
MTW_SHARED_SCALAR_PROPERTY(KvEntry, qint64, expiresAt, setExpiresAt, expiresAt)

MTW_DEFINE_SHARED_VALUE(StoreSnapshot)
MTW_SHARED_PROPERTY(StoreSnapshot, StoredChannels, channels, setChannels, channels)
MTW_SHARED_PROPERTY(StoreSnapshot, KvEntries, entries, setEntries, entries)
MTW_SHARED_PROPERTY(StoreSnapshot, Revisions, revisions, setRevisions, revisions)
MTW_SHARED_SCALAR_PROPERTY(StoreSnapshot, bool, isComplete, setComplete, complete)

} // namespace Mtw
