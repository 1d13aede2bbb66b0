// SPDX-License-Identifier: MIT
#pragma once

#include "transport/httproutes.h"

#include <mtw/global.h>
#include <mtw/result.h>

namespace Mtw {
class Server;
}

namespace Mtw {
class IBroker;
}

namespace Mtw::Internal {

// Extension points of a Server inside libmtwcore, set before start(): the issues that add HTTP
// endpoints and the cluster broker plug in here, and tests use them. Exported for the tests.
struct ServerExtensions
{
    HttpRoutes routes;         // served by every worker next to the built-in endpoints
    IBroker *broker = nullptr; // not owned; must outlive the server's run; before a module's
};

MTW_CORE_EXPORT ServerExtensions &serverExtensions(Server &server);

} // namespace Mtw::Internal
