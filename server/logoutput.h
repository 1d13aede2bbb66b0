// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

namespace Mtw {

// Installs the process-wide Qt message handler: one line per message on stderr, as text
// (`2026-11-21T12:00:00.123Z info mtw.server: listening ...`) or as a JSON object per line,
// and sets the category filter rules from [logging] level and rules.
void installLogOutput(const LoggingConfig &logging);

} // namespace Mtw
