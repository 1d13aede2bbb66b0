// SPDX-License-Identifier: MIT
#pragma once

#include "redissettings.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QQueue>

#include <functional>

struct redisAsyncContext;
struct redisReply;
class QSocketNotifier;
class QTimer;

namespace Mtw::StoreRedis {

// One connection to Redis through hiredis's asynchronous API, driven by QSocketNotifiers in the
// thread the object lives in (hiredis parses every reply: no RESP parser of ours). Commands are
// pipelined and answered in order; a command unanswered for `timeoutMs` drops the connection,
// and every pending callback then gets a null reply. Not thread-safe: one thread.
class RedisConnection : public QObject
{
    Q_OBJECT

public:
    using Reply = std::function<void(const redisReply *reply)>; // null: no answer (lost)
    using Push = std::function<void(const redisReply *reply)>;  // pub/sub messages

    RedisConnection(const RedisAddress &address, int timeoutMs, QObject *parent = nullptr);
    ~RedisConnection() override;

    // Connects, then authenticates and selects the database; ready() or lost() follows.
    void open();
    void close(); // pending callbacks get null replies now; no lost() signal
    bool isReady() const { return m_ready; }

    void command(const QList<QByteArray> &args, Reply done);
    // For a subscriber connection: SUBSCRIBE/UNSUBSCRIBE; confirmations and messages go to `push`.
    void setPush(Push push) { m_push = std::move(push); }
    void subscription(const QList<QByteArray> &args);

Q_SIGNALS:
    void ready();
    void lost(const QString &why);

private:
    static void onConnect(const redisAsyncContext *context, int status);
    static void onDisconnect(const redisAsyncContext *context, int status);
    static void onReply(redisAsyncContext *context, void *reply, void *privdata);
    static void onPush(redisAsyncContext *context, void *reply, void *privdata);
    void attachNotifiers();
    void drop(const QString &why); // the context is gone (hiredis freed it, or we do)
    void checkTimeout();

    RedisAddress m_address;
    int m_timeoutMs;
    redisAsyncContext *m_context = nullptr;
    QSocketNotifier *m_read = nullptr;
    QSocketNotifier *m_write = nullptr;
    QTimer *m_watchdog = nullptr;
    QQueue<qint64> m_sentAt; // monotonic ms of each pending command, oldest first
    bool m_ready = false;
    bool m_closing = false;
    Push m_push;
};

// Reply helpers.
QByteArray replyString(const redisReply *reply);
qint64 replyInteger(const redisReply *reply);
bool isError(const redisReply *reply);

} // namespace Mtw::StoreRedis
