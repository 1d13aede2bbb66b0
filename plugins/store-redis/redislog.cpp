// SPDX-License-Identifier: MIT
#include "redislog.h"

namespace Mtw::StoreRedis {

Q_LOGGING_CATEGORY(lcRedis, "mtw.redis", QtInfoMsg)

} // namespace Mtw::StoreRedis
