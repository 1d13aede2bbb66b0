// SPDX-License-Identifier: MIT
#pragma once

#include <QAbstractSocket>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>

class QSocketNotifier;
class QTcpServer;
class QTimer;

namespace Mtw::Internal {

class ServerContext;

// The listening socket. Lives in the server's thread; it only accepts: each new descriptor goes
// straight to an I/O worker, which creates the QTcpSocket in its own thread. On Unix it runs the
// accept loop itself: when accept() fails (out of descriptors above all) it pauses with a growing
// back-off instead of retrying at once, logs one warning per shortage, and uses a spare
// descriptor to answer waiting clients with 503 rather than leave them hanging in the backlog.
class Acceptor : public QObject
{
    Q_OBJECT

public:
    explicit Acceptor(ServerContext *context, QObject *parent = nullptr);
    ~Acceptor() override;

    bool listen(const QHostAddress &address, quint16 port);
    void close();
    QAbstractSocket::SocketError serverError() const;
    QString errorString() const;
    QHostAddress serverAddress() const;
    quint16 serverPort() const;

private:
    // A run of failed accepts: from the first failure until accepting has worked for a quiet
    // period, so that a server sitting at its limit logs one warning, not one per client.
    struct Shortage
    {
        bool active = false;
        bool recovering = false; // accepts work again; ends unless one fails within the period
        int firstError = 0;
        int delayMs = 0;
        int failedAccepts = 0;
        int refused = 0;
        qint64 lastedMs = 0;
        QElapsedTimer since;
    };

    void handOff(qintptr descriptor);
    void acceptPending();
    void backOff(int error);
    void resume();
    int refuseWaiting();
    void beginRecovery();
    void endShortage();
    void closeSpare();

    ServerContext *const m_context;
    QTcpServer *const m_listener;
    QSocketNotifier *m_notifier = nullptr;
    QTimer *const m_backoff;
    QTimer *const m_quiet;
    int m_next = 0;
    int m_listenerFd = -1;
    int m_spare = -1; // an open /dev/null, given up to accept a client only to refuse it
    Shortage m_shortage;
};

} // namespace Mtw::Internal
