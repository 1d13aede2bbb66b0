// SPDX-License-Identifier: MIT
#pragma once

#include "transport/httproutes.h"

#include <mtw/global.h>
#include <mtw/result.h>

namespace Mtw {
class Server;
}

namespace Mtw::Internal {

class Broker;

// Extension points of a Server inside libmtwcore, set before start(): the issues that add HTTP
// endpoints and the cluster broker plug in here, and tests use them. Exported for the tests.
struct ServerExtensions
{
    HttpRoutes routes;        // served by every worker next to the built-in endpoints
    Broker *broker = nullptr; // not owned; must outlive the server's run
};

MTW_CORE_EXPORT ServerExtensions &serverExtensions(Server &server);

// What the broker brings in from another node: an encoded envelope for `channel`, recorded in
// its history and delivered to this node's members, never forwarded again. Thread-safe; 503
// when the server is not running or is shutting down. Returns the recipients on this node.
MTW_CORE_EXPORT Result<int>
deliverFromBroker(Server &server, const QString &channel, const QByteArray &envelope);

} // namespace Mtw::Internal
