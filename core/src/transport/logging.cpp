// SPDX-License-Identifier: MIT
#include "transport/logging.h"

namespace Mtw::Internal {

Q_LOGGING_CATEGORY(lcTransport, "mtw.transport", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProtocol, "mtw.protocol", QtInfoMsg)
Q_LOGGING_CATEGORY(lcServer, "mtw.server", QtInfoMsg)

} // namespace Mtw::Internal
