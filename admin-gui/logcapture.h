// SPDX-License-Identifier: MIT
#pragma once

namespace Mtw {

// Feeds the process's log lines to Mtw::LogBus, as mtwserver's message handler does, so the
// admin API of a server run in-process streams them to the log view. The previous handler
// (stderr, or Qt Test's) still gets every line. Lines from the GUI thread and mtwadmin's own
// categories (mtwadmin.*) stay out of the server's log. Call once, from the GUI thread, before
// the server starts.
void installLogCapture();

} // namespace Mtw
