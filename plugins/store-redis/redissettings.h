// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/result.h>

#include <QList>
#include <QString>
#include <QVariantMap>

namespace Mtw::StoreRedis {

// One Redis server: redis://[user:password@]host:port/db.
struct RedisAddress
{
    QString host = QStringLiteral("127.0.0.1");
    int port = 6379;
    QString user;
    QString password; // never logged: display() leaves it out
    int db = 0;

    static Result<RedisAddress> parse(const QString &url);
    QString display() const; // redis://host:port/db, without credentials
};

// The module's [[modules]] config (docs/cluster.md).
struct RedisSettings
{
    QList<RedisAddress> shards; // `url`, or `urls`: channels are spread over them by name
    QString prefix = QStringLiteral("mtw");
    int timeoutMs = 5000;   // a command unanswered this long: the connection is dropped
    int heartbeatMs = 2000; // how often this node says it is alive
    int nodeTtlMs = 10000;  // a node silent this long is gone (its members no longer count)
    int maxQueued = 10000;  // publishes kept for the cluster while Redis is unreachable
    qint64 metaTtlSeconds = 30LL * 24 * 3600; // a channel's epoch and offset after its last use
    int reconnectMaxMs = 5000;                // back-off ceiling

    static Result<RedisSettings> fromConfig(const QVariantMap &config);
};

} // namespace Mtw::StoreRedis
