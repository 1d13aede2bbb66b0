// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/disconnectreason.h>
#include <mtw/global.h>
#include <mtw/result.h>

#include <QHostAddress>
#include <QObject>

#include <memory>

namespace Mtw {

namespace Internal {
class ServerPrivate;
}

// The whole server: acceptor, I/O workers, channels. Lives in the thread that creates it (the
// main thread of mtwserver, a dedicated thread in mtwadmin); its signals are emitted there.
class MTW_CORE_EXPORT Server : public QObject
{
    Q_OBJECT

public:
    explicit Server(const Config &config, QObject *parent = nullptr);
    ~Server() override; // a running server is stopped at once (no graceful wait)

    // Binds server.host:server.port and starts the workers. Errors: 400 bad host or address not
    // on this machine, 403 permission denied, 409 address in use, 500 anything else.
    Result<void> start();

    // Graceful shutdown: stop accepting, close every connection with 1001 once its queued output
    // is written (bounded by server.shutdown_timeout), stop the workers, then emit finished().
    // Safe to call more than once; a call while stopping does nothing.
    void shutdown();

    bool isRunning() const;
    const Config &config() const;
    QHostAddress address() const;
    quint16 port() const; // the bound port (useful with port 0)
    int workerCount() const;
    int connectionCount() const;

Q_SIGNALS:
    void connectionOpened(const QString &connId);
    void connectionClosed(const QString &connId, const Mtw::DisconnectReason &reason);
    void shutdownStarted();
    void finished();

private:
    std::unique_ptr<Internal::ServerPrivate> d;
};

} // namespace Mtw
