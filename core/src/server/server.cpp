// SPDX-License-Identifier: MIT
#include "transport/acceptor.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/worker.h"

#include <mtw/server.h>

#include <QHostInfo>
#include <QThread>
#include <QTimer>

namespace Mtw {

using namespace Qt::StringLiterals;
using Internal::lcServer;

QString DisconnectReason::toString() const
{
    switch (kind) {
    case Kind::Normal:
        return u"Normal"_s;
    case Kind::Timeout:
        return u"Timeout"_s;
    case Kind::Error:
        return u"Error(%1)"_s.arg(detail);
    case Kind::Kicked:
        return u"Kicked(%1)"_s.arg(detail);
    case Kind::ServerShutdown:
        return u"ServerShutdown"_s;
    }
    return u"Unknown"_s;
}

namespace Internal {

class ServerPrivate
{
public:
    enum class State { Stopped, Running, ShuttingDown };

    explicit ServerPrivate(const Config &cfg)
        : config(cfg)
    { }

    Result<QHostAddress> resolveHost() const;
    void startWorkers(Server *q, int count);
    void stopWorkers();

    Config config;
    State state = State::Stopped;
    std::unique_ptr<ServerContext> context;
    Acceptor *acceptor = nullptr;
    QList<QThread *> threads;
    QTimer *forceTimer = nullptr;
    int drainedWorkers = 0;
};

Result<QHostAddress> ServerPrivate::resolveHost() const
{
    const QString &host = config.server.host;
    if (host == "localhost"_L1)
        return QHostAddress(QHostAddress::LocalHost);
    QHostAddress address;
    if (address.setAddress(host))
        return address;
    const QHostInfo info = QHostInfo::fromName(host);
    if (info.error() != QHostInfo::NoError || info.addresses().isEmpty()) {
        return fail(400, u"server.host: cannot resolve \"%1\": %2"_s.arg(host, info.errorString()));
    }
    return info.addresses().constFirst();
}

void ServerPrivate::startWorkers(Server *q, int count)
{
    for (int i = 0; i < count; ++i) {
        auto *worker = new Worker(context.get(), i);
        auto *thread = new QThread;
        thread->setObjectName(u"mtw-io-%1"_s.arg(i));
        worker->moveToThread(thread);
        // Deferred deletes still run after the loop stops, in the worker's own thread.
        QObject::connect(thread, &QThread::finished, worker, &QObject::deleteLater);
        QObject::connect(worker, &Worker::connectionOpened, q, &Server::connectionOpened);
        QObject::connect(worker, &Worker::connectionClosed, q, &Server::connectionClosed);
        QObject::connect(worker, &Worker::drained, q, [this, q] {
            if (state == State::ShuttingDown && ++drainedWorkers == int(threads.size())) {
                stopWorkers();
                qCInfo(lcServer) << "shutdown complete";
                Q_EMIT q->finished();
            }
        });
        context->workers.append(worker);
        threads.append(thread);
        thread->start();
        worker->postInitialize();
    }
}

void ServerPrivate::stopWorkers()
{
    if (forceTimer)
        forceTimer->stop();
    for (QThread *thread : std::as_const(threads)) {
        thread->quit();
        thread->wait();
    }
    context->workers.clear(); // each deleted itself in its thread as the thread finished
    qDeleteAll(threads);
    threads.clear();
    context.reset();
    state = State::Stopped;
}

} // namespace Internal

Server::Server(const Config &config, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Internal::ServerPrivate>(config))
{
    qRegisterMetaType<Mtw::DisconnectReason>();
}

Server::~Server()
{
    if (d->state != Internal::ServerPrivate::State::Stopped) {
        delete d->acceptor;
        d->acceptor = nullptr;
        d->stopWorkers();
    }
}

Result<void> Server::start()
{
    if (d->state != Internal::ServerPrivate::State::Stopped)
        return fail(409, u"the server is already running"_s);

    const auto address = d->resolveHost();
    if (!address)
        return tl::unexpected(address.error());

    int workers = d->config.server.workers;
    if (workers <= 0)
        workers = std::max(1, QThread::idealThreadCount());
    workers = std::min(workers, 64);

    d->context = std::make_unique<Internal::ServerContext>(d->config, workers);
    d->acceptor = new Internal::Acceptor(d->context.get(), this);
    const quint16 port = quint16(d->config.server.port);
    if (!d->acceptor->listen(*address, port)) {
        const auto error = d->acceptor->serverError();
        const QString reason = d->acceptor->errorString();
        const QString where = u"%1:%2"_s.arg(d->config.server.host).arg(port);
        delete d->acceptor;
        d->acceptor = nullptr;
        d->context.reset();
        switch (error) {
        case QAbstractSocket::AddressInUseError:
            return fail(409, u"cannot listen on %1: the address is already in use"_s.arg(where));
        case QAbstractSocket::SocketAccessError:
            return fail(403, u"cannot listen on %1: permission denied"_s.arg(where));
        case QAbstractSocket::SocketAddressNotAvailableError:
            return fail(
                400,
                u"cannot listen on %1: the address is not available on this machine"_s.arg(where));
        default:
            return fail(500, u"cannot listen on %1: %2"_s.arg(where, reason));
        }
    }
    d->startWorkers(this, workers);
    d->state = Internal::ServerPrivate::State::Running;
    qCInfo(lcServer).noquote() << "listening on"
                               << d->acceptor->serverAddress().toString() + u':'
            + QString::number(d->acceptor->serverPort())
                               << "path" << d->config.transport.websocket.path << "with" << workers
                               << "I/O workers";
    return {};
}

void Server::shutdown()
{
    if (d->state != Internal::ServerPrivate::State::Running)
        return;
    d->state = Internal::ServerPrivate::State::ShuttingDown;
    qCInfo(lcServer) << "graceful shutdown: closing" << connectionCount() << "connections";
    Q_EMIT shutdownStarted();
    d->acceptor->close();
    d->drainedWorkers = 0;
    for (Internal::Worker *worker : std::as_const(d->context->workers))
        worker->postShutdown();

    d->forceTimer = new QTimer(this);
    d->forceTimer->setSingleShot(true);
    connect(d->forceTimer, &QTimer::timeout, this, [this] {
        qCWarning(lcServer) << "shutdown_timeout of" << d->config.server.shutdownTimeout
                            << "s reached: dropping the remaining connections";
        for (Internal::Worker *worker : std::as_const(d->context->workers))
            worker->postForceClose();
    });
    d->forceTimer->start(d->config.server.shutdownTimeout * 1000);
}

bool Server::isRunning() const
{
    return d->state == Internal::ServerPrivate::State::Running;
}

const Config &Server::config() const
{
    return d->config;
}

QHostAddress Server::address() const
{
    return d->acceptor ? d->acceptor->serverAddress() : QHostAddress();
}

quint16 Server::port() const
{
    return d->acceptor ? d->acceptor->serverPort() : 0;
}

int Server::workerCount() const
{
    return d->context ? int(d->context->workers.size()) : 0;
}

int Server::connectionCount() const
{
    if (!d->context)
        return 0;
    int count = 0;
    for (const Internal::Worker *worker : std::as_const(d->context->workers))
        count += worker->connectionCount();
    return count;
}

} // namespace Mtw
