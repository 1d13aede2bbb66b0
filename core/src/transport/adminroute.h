// SPDX-License-Identifier: MIT
#pragma once

namespace Mtw::Internal {

class HttpExchange;
class ServerContext;

// The route of admin.path: the AdminGate decides (token, Origin, throttling), then the socket
// moves with its buffered request to the admin service's thread. Worker thread.
void routeAdmin(ServerContext &context, HttpExchange &exchange);

} // namespace Mtw::Internal
