// SPDX-License-Identifier: MIT
#pragma once

namespace Mtw::Internal {

class HttpExchange;
class ServerContext;
class TrustedProxies;

// The route of admin.path: the AdminGate decides (token, Origin, throttling), then the socket
// moves with its buffered request to the admin service's thread. Worker thread; `proxies`
// are the worker's live server.trusted_proxies.
void routeAdmin(ServerContext &context, const TrustedProxies &proxies, HttpExchange &exchange);

} // namespace Mtw::Internal
