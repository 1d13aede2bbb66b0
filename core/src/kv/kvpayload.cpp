// SPDX-License-Identifier: MIT
// The shapes of entries on the wire, shared by the kv.* answers and the watch channel's events,
// so that a get and an event never disagree (docs/kv.md).
#include "kv/kvstore.h"

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

QJsonObject kvEntryIdentity(const KvEntry &entry)
{
    QJsonObject data{{u"bucket"_s, entry.bucket()},
                     {u"key"_s, entry.key()},
                     {u"version"_s, qint64(entry.version())}};
    if (entry.expiresAt() != 0)
        data.insert(u"expires_at"_s, entry.expiresAt());
    return data;
}

QJsonObject kvEntryMetadata(const KvEntry &entry)
{
    return kvEntryIdentity(entry);
}

Payload kvEntryPayload(const KvEntry &entry)
{
    const Payload value = entry.value();
    if (value.kind == Payload::Kind::Binary)
        return value;
    QJsonObject data = kvEntryIdentity(entry);
    if (value.kind == Payload::Kind::Text) {
        data.insert(u"kind"_s, u"Text"_s);
        data.insert(u"value"_s, value.text);
    } else {
        data.insert(u"kind"_s, u"Json"_s);
        data.insert(u"value"_s, value.json);
    }
    return Payload::fromJson(data);
}

} // namespace Mtw::Internal
