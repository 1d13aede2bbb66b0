// SPDX-License-Identifier: MIT
#pragma once

#include "kv/kvstore.h"
#include "transport/protocol.h"

#include <mtw/broker.h>

namespace Mtw::Internal {

// kvcluster.cpp: the key-value actions when the buckets are the cluster's (the broker's).
enum class KvReply { Put, Delete, Batch };
void kvWriteInCluster(ProtocolContext &parts,
                      Connection &connection,
                      const Message &message,
                      const QString &bucket,
                      const QList<KvOperation> &operations,
                      KvReply reply);
void kvGetInCluster(ProtocolContext &parts,
                    Connection &connection,
                    const Message &message,
                    const QString &bucket,
                    const QString &key);
void kvListInCluster(ProtocolContext &parts,
                     Connection &connection,
                     const Message &message,
                     const QString &bucket,
                     const QString &prefix,
                     const QString &after,
                     int limit);
KvEntry kvEntryFromBroker(const QString &bucket, const BrokerKvEntry &shared);

} // namespace Mtw::Internal
