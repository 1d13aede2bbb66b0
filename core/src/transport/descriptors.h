// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArrayView>
#include <QString>

namespace Mtw::Internal {

// File descriptors the server needs besides one per client connection and two per I/O worker
// (its epoll instance and wake-up eventfd): standard streams, the listener and its spare, the
// signal pipe, admin API sockets, /status requests in flight and whatever modules open. Only used
// to warn at start when server.max_connections cannot fit in the open-file limit.
inline constexpr int DescriptorHeadroom = 64;

// Raises the soft open-file limit (RLIMIT_NOFILE) to the hard one, logs the effective limit, and
// warns when `maxConnections` clients plus the headroom cannot fit in it. Unix only; a no-op
// elsewhere. Call from the server's thread before anything opens many files.
void raiseDescriptorLimit(int maxConnections, int workers);

// Sends `response` on a connected socket descriptor that nobody will adopt and closes it: best
// effort and never blocking, for refusals when a connection cannot be served. Any thread.
void refuseDescriptor(qintptr descriptor, QByteArrayView response);

// The soft open-file limit now, as text ("1024", "unlimited"), for log lines.
QString descriptorLimitText();

} // namespace Mtw::Internal
