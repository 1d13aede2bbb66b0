// SPDX-License-Identifier: MIT
#include "transport/acceptor.h"

#include "transport/servercontext.h"
#include "transport/worker.h"

namespace Mtw::Internal {

Acceptor::Acceptor(ServerContext *context, QObject *parent)
    : QTcpServer(parent)
    , m_context(context)
{
    // QWebSocketServer::listen() uses a backlog of 50, which drops connects under a storm.
    setListenBacklogSize(4096);
}

void Acceptor::incomingConnection(qintptr socketDescriptor)
{
    // Round robin keeps the workers even without reading their (changing) loads.
    Worker *worker = m_context->workers.at(m_next);
    m_next = (m_next + 1) % m_context->workers.size();
    worker->postDescriptor(socketDescriptor);
}

} // namespace Mtw::Internal
