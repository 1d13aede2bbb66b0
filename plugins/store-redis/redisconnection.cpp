// SPDX-License-Identifier: MIT
#include "redisconnection.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QSocketNotifier>
#include <QTimer>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace Mtw::StoreRedis {

using namespace Qt::StringLiterals;

namespace {

qint64 monotonicMs()
{
    static QElapsedTimer clock = [] {
        QElapsedTimer started;
        started.start();
        return started;
    }();
    return clock.elapsed();
}

RedisConnection *owner(const redisAsyncContext *context)
{
    return static_cast<RedisConnection *>(context->data);
}

// hiredis's event hooks, for our two notifiers.
void addRead(void *data)
{
    if (auto *notifier = static_cast<QSocketNotifier **>(data)[0])
        notifier->setEnabled(true);
}
void delRead(void *data)
{
    if (auto *notifier = static_cast<QSocketNotifier **>(data)[0])
        notifier->setEnabled(false);
}
void addWrite(void *data)
{
    if (auto *notifier = static_cast<QSocketNotifier **>(data)[1])
        notifier->setEnabled(true);
}
void delWrite(void *data)
{
    if (auto *notifier = static_cast<QSocketNotifier **>(data)[1])
        notifier->setEnabled(false);
}
void cleanup(void *data)
{
    auto **notifiers = static_cast<QSocketNotifier **>(data);
    for (int i = 0; i < 2; ++i) {
        if (notifiers[i]) {
            notifiers[i]->setEnabled(false);
            notifiers[i]->deleteLater(); // we may be inside its activated() signal
            notifiers[i] = nullptr;
        }
    }
}

} // namespace

RedisConnection::RedisConnection(const RedisAddress &address, int timeoutMs, QObject *parent)
    : QObject(parent)
    , m_address(address)
    , m_timeoutMs(timeoutMs)
    , m_watchdog(new QTimer(this))
{
    m_watchdog->setInterval(std::max(50, std::min(1000, timeoutMs / 4)));
    connect(m_watchdog, &QTimer::timeout, this, &RedisConnection::checkTimeout);
}

RedisConnection::~RedisConnection()
{
    close();
}

void RedisConnection::open()
{
    if (m_context)
        return;
    m_ready = false;
    m_closing = false;
    const QByteArray host = m_address.host.toUtf8();
    redisAsyncContext *context = redisAsyncConnect(host.constData(), m_address.port);
    if (!context || context->err) {
        const QString why = context ? QString::fromLocal8Bit(context->errstr) : u"out of memory"_s;
        if (context)
            redisAsyncFree(context);
        QMetaObject::invokeMethod(
            this,
            [this, why] { Q_EMIT lost(why); },
            Qt::QueuedConnection);
        return;
    }
    m_context = context;
    context->data = this;
    attachNotifiers();
    redisAsyncSetConnectCallback(context, &RedisConnection::onConnect);
    redisAsyncSetDisconnectCallback(context, &RedisConnection::onDisconnect);
    // Connecting counts as a pending command: a Redis that never answers the handshake is lost.
    m_sentAt.enqueue(monotonicMs());
    m_watchdog->start();
}

void RedisConnection::attachNotifiers()
{
    // The hooks get an array of our two notifiers (read, write), kept in a small heap block.
    auto **notifiers = new QSocketNotifier *[2];
    notifiers[0] = new QSocketNotifier(m_context->c.fd, QSocketNotifier::Read, this);
    notifiers[1] = new QSocketNotifier(m_context->c.fd, QSocketNotifier::Write, this);
    m_read = notifiers[0];
    m_write = notifiers[1];
    m_read->setEnabled(false);
    m_write->setEnabled(false);
    redisAsyncContext *context = m_context;
    connect(m_read, &QSocketNotifier::activated, this, [context] {
        redisAsyncHandleRead(context);
    });
    connect(m_write, &QSocketNotifier::activated, this, [context] {
        redisAsyncHandleWrite(context);
    });
    m_context->ev.data = notifiers;
    m_context->ev.addRead = addRead;
    m_context->ev.delRead = delRead;
    m_context->ev.addWrite = addWrite;
    m_context->ev.delWrite = delWrite;
    m_context->ev.cleanup = [](void *data) {
        cleanup(data);
        delete[] static_cast<QSocketNotifier **>(data);
    };
    // hiredis asks for the write event to learn that the connect finished.
    addWrite(notifiers);
}

void RedisConnection::onConnect(const redisAsyncContext *context, int status)
{
    RedisConnection *self = owner(context);
    if (status != REDIS_OK) {
        // hiredis frees the context after this returns.
        self->drop(u"cannot connect to %1: %2"_s.arg(self->m_address.display(),
                                                     QString::fromLocal8Bit(context->errstr)));
        return;
    }
    if (!self->m_sentAt.isEmpty())
        self->m_sentAt.dequeue(); // the handshake
    // AUTH and SELECT go first; everything queued behind them is answered after.
    auto handshakeFailed = std::make_shared<bool>(false);
    const auto check = [self, handshakeFailed](const char *what) {
        return [self, what, handshakeFailed](const redisReply *reply) {
            if (*handshakeFailed || !reply)
                return;
            if (isError(reply)) {
                *handshakeFailed = true;
                const QString why =
                    u"Redis at %1 refused %2: %3"_s.arg(self->m_address.display(),
                                                        QString::fromLatin1(what),
                                                        QString::fromUtf8(replyString(reply)));
                QMetaObject::invokeMethod(
                    self,
                    [self, why] {
                        self->close();
                        Q_EMIT self->lost(why);
                    },
                    Qt::QueuedConnection);
            }
        };
    };
    if (!self->m_address.password.isEmpty()) {
        QList<QByteArray> auth{QByteArrayLiteral("AUTH")};
        if (!self->m_address.user.isEmpty())
            auth.append(self->m_address.user.toUtf8());
        auth.append(self->m_address.password.toUtf8());
        self->command(auth, check("AUTH"));
    }
    if (self->m_address.db != 0)
        self->command({QByteArrayLiteral("SELECT"), QByteArray::number(self->m_address.db)},
                      check("SELECT"));
    self->command({QByteArrayLiteral("PING")}, [self, handshakeFailed](const redisReply *reply) {
        if (!reply || *handshakeFailed || isError(reply))
            return;
        self->m_ready = true;
        Q_EMIT self->ready();
    });
}

void RedisConnection::onDisconnect(const redisAsyncContext *context, int status)
{
    RedisConnection *self = owner(context);
    const QString why = status == REDIS_OK
        ? u"connection to %1 closed"_s.arg(self->m_address.display())
        : u"connection to %1 lost: %2"_s.arg(self->m_address.display(),
                                             QString::fromLocal8Bit(context->errstr));
    self->drop(why);
}

void RedisConnection::drop(const QString &why)
{
    m_context = nullptr; // hiredis frees it
    m_read = nullptr;
    m_write = nullptr;
    m_ready = false;
    m_sentAt.clear();
    m_watchdog->stop();
    if (m_closing)
        return;
    // Not from inside hiredis's callback: the receiver may open() again at once.
    QMetaObject::invokeMethod(
        this,
        [this, why] { Q_EMIT lost(why); },
        Qt::QueuedConnection);
}

void RedisConnection::close()
{
    if (!m_context)
        return;
    m_closing = true;
    redisAsyncContext *context = m_context;
    redisAsyncFree(context); // pending callbacks run now, with null replies
    m_context = nullptr;
    m_read = nullptr;
    m_write = nullptr;
    m_ready = false;
    m_sentAt.clear();
    m_watchdog->stop();
}

void RedisConnection::checkTimeout()
{
    if (!m_context || m_sentAt.isEmpty())
        return;
    if (monotonicMs() - m_sentAt.head() < m_timeoutMs)
        return;
    const QString why =
        u"Redis at %1 did not answer within %2 ms"_s.arg(m_address.display()).arg(m_timeoutMs);
    close();
    Q_EMIT lost(why);
}

void RedisConnection::command(const QList<QByteArray> &args, Reply done)
{
    if (!m_context) {
        done(nullptr);
        return;
    }
    QVarLengthArray<const char *, 16> argv;
    QVarLengthArray<size_t, 16> lengths;
    for (const QByteArray &arg : args) {
        argv.append(arg.constData());
        lengths.append(size_t(arg.size()));
    }
    auto *callback = new Reply(std::move(done));
    if (redisAsyncCommandArgv(m_context,
                              &RedisConnection::onReply,
                              callback,
                              int(argv.size()),
                              argv.data(),
                              lengths.data())
        != REDIS_OK) {
        Reply failed = std::move(*callback);
        delete callback;
        failed(nullptr);
        return;
    }
    m_sentAt.enqueue(monotonicMs());
    if (!m_watchdog->isActive())
        m_watchdog->start();
}

void RedisConnection::onReply(redisAsyncContext *context, void *reply, void *privdata)
{
    auto *callback = static_cast<Reply *>(privdata);
    RedisConnection *self = owner(context);
    if (self && !self->m_sentAt.isEmpty() && reply)
        self->m_sentAt.dequeue();
    const Reply done = std::move(*callback);
    delete callback;
    done(static_cast<const redisReply *>(reply));
}

void RedisConnection::subscription(const QList<QByteArray> &args)
{
    if (!m_context)
        return;
    QVarLengthArray<const char *, 8> argv;
    QVarLengthArray<size_t, 8> lengths;
    for (const QByteArray &arg : args) {
        argv.append(arg.constData());
        lengths.append(size_t(arg.size()));
    }
    redisAsyncCommandArgv(m_context,
                          &RedisConnection::onPush,
                          this,
                          int(argv.size()),
                          argv.data(),
                          lengths.data());
}

void RedisConnection::onPush(redisAsyncContext *, void *reply, void *privdata)
{
    auto *self = static_cast<RedisConnection *>(privdata);
    if (reply && self->m_push)
        self->m_push(static_cast<const redisReply *>(reply));
}

QByteArray replyString(const redisReply *reply)
{
    if (!reply)
        return {};
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS
        || reply->type == REDIS_REPLY_ERROR)
        return QByteArray(reply->str, qsizetype(reply->len));
    if (reply->type == REDIS_REPLY_INTEGER)
        return QByteArray::number(reply->integer);
    return {};
}

qint64 replyInteger(const redisReply *reply)
{
    if (!reply)
        return 0;
    if (reply->type == REDIS_REPLY_INTEGER)
        return reply->integer;
    return replyString(reply).toLongLong();
}

bool isError(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR;
}

} // namespace Mtw::StoreRedis
