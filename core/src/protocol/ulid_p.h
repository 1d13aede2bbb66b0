// SPDX-License-Identifier: MIT
#pragma once

#include <QString>

namespace Mtw::Internal {

// generateUlid() for a given clock reading, so that Message::create() can stamp the id and the
// timestamp from one reading.
QString generateUlid(qint64 msecsSinceEpoch);

} // namespace Mtw::Internal
