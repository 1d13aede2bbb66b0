// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

#include <QStringList>

namespace Mtw::Internal {

// Dotted keys whose value differs between two configurations ("server.port",
// "channels[1].history"), in file order. Array-of-table entries are compared by position.
QStringList changedKeys(const Config &before, const Config &after);

// The changed keys that only take effect after a restart: all but logging.*, which a running
// server applies at once.
QStringList restartRequiredKeys(const Config &running, const Config &edited);

} // namespace Mtw::Internal
