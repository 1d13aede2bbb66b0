// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/message.h>
#include <mtw/result.h>
#include <mtw/services.h>

#include <memory>

namespace Mtw::Internal {

struct Connection;
class Outbound;
class ServerContext;
struct Services;

// Where a worker calls into modules: authenticators, message filters, request handlers, raw
// frame handlers. Every call is guarded (an exception is a reject) and timed (a call over the
// decision budget counts as a reject), so a misbehaving module cannot take a worker down.
// Worker thread only.
class ModuleCalls
{
public:
    ModuleCalls(ServerContext &context, Outbound &outbound);

    ClientInfo clientInfo(const Connection &connection) const;
    bool hasAuthenticators();
    // A token in the upgrade request: ?token= or Authorization: Bearer.
    QString upgradeToken(const Connection &connection) const;
    // On success the connection carries the identity.
    Result<void> authenticate(Connection &connection, const QString &token);
    // Error 401 to the client, then close 4001.
    void refuseAuthentication(Connection &connection, const Error &error, const QString &refId);
    // False when a filter rejected or handled the message (the client has its answer).
    bool runFilters(Connection &connection, Message &message);
    void runAfterFilters(const Connection &connection, const Message &message);
    // False when no module serves `action`.
    bool handleRequest(Connection &connection, const QString &action, const Message &message);
    void handleRawFrame(Connection &connection, const QByteArray &payload);

private:
    // The services as of the last registration: one atomic load per call while nothing
    // changes. The returned pointer keeps the snapshot alive during the calls.
    std::shared_ptr<const Services> services();

    ServerContext &m_context;
    Outbound &m_outbound;
    std::shared_ptr<const Services> m_services;
    quint64 m_servicesGeneration = 0;
};

} // namespace Mtw::Internal
