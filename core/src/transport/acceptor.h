// SPDX-License-Identifier: MIT
#pragma once

#include <QTcpServer>

namespace Mtw::Internal {

class ServerContext;

// The listening socket. Lives in the server's thread; it only accepts: each new descriptor goes
// straight to an I/O worker, which creates the QTcpSocket in its own thread.
class Acceptor : public QTcpServer
{
    Q_OBJECT

public:
    explicit Acceptor(ServerContext *context, QObject *parent = nullptr);

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    ServerContext *const m_context;
    int m_next = 0;
};

} // namespace Mtw::Internal
