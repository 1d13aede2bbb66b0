// SPDX-License-Identifier: MIT
#pragma once

#include <QLoggingCategory>

namespace Mtw::StoreRedis {

Q_DECLARE_LOGGING_CATEGORY(lcRedis) // "mtw.redis"

} // namespace Mtw::StoreRedis
