// SPDX-License-Identifier: MIT
#include "storelog.h"

namespace Mtw::StoreSqlite {

Q_LOGGING_CATEGORY(lcStore, "mtw.store.sqlite", QtInfoMsg)

} // namespace Mtw::StoreSqlite
