// SPDX-License-Identifier: MIT
// The module's logging category. Lines never carry envelopes or key-value values (they may hold
// secrets): only names, sizes and counts.
#pragma once

#include <QLoggingCategory>

namespace Mtw::StoreSqlite {

Q_DECLARE_LOGGING_CATEGORY(lcStore)

} // namespace Mtw::StoreSqlite
