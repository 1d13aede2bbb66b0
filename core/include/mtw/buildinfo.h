// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QString>

namespace Mtw {

// "0.1.0", the git commit the build came from, the build date (UTC, ISO 8601) and the Qt
// version the core runs against, for --version and the admin API.
MTW_CORE_EXPORT QString versionString();
MTW_CORE_EXPORT QString gitCommit();
MTW_CORE_EXPORT QString buildDate();
MTW_CORE_EXPORT QString buildInfo(); // one line with all of the above

} // namespace Mtw
