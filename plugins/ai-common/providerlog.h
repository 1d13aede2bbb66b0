// SPDX-License-Identifier: MIT
#pragma once

#include <QLoggingCategory>

namespace Mtw::Ai {
// "mtw.ai": calls, retries and failures of the provider modules. Never keys or prompts.
Q_DECLARE_LOGGING_CATEGORY(lcProvider)
} // namespace Mtw::Ai
