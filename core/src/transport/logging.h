// SPDX-License-Identifier: MIT
#pragma once

#include <QLoggingCategory>

namespace Mtw::Internal {

Q_DECLARE_LOGGING_CATEGORY(lcTransport) // "mtw.transport": accept, upgrade, close
Q_DECLARE_LOGGING_CATEGORY(lcProtocol)  // "mtw.protocol": bad input, ignored messages
Q_DECLARE_LOGGING_CATEGORY(lcServer)    // "mtw.server": start, shutdown

} // namespace Mtw::Internal
