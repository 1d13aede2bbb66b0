// SPDX-License-Identifier: MIT
#include "transport/descriptors.h"

#include "transport/logging.h"

#ifdef Q_OS_UNIX
#  include <sys/resource.h>
#  include <sys/socket.h>
#  include <unistd.h>

#  include <algorithm>
#  include <cerrno>
#  include <climits>
#elif defined(Q_OS_WIN)
#  include <winsock2.h>
#endif

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

#ifdef Q_OS_UNIX
namespace {

QString limitText(rlim_t value)
{
    return value == RLIM_INFINITY ? u"unlimited"_s : QString::number(quint64(value));
}

// The soft limit raised to the hard one; `note` says what happened when that was not a no-op.
rlimit raiseSoftLimit(rlimit limit, QString &note)
{
    if (limit.rlim_cur == limit.rlim_max)
        return limit;
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
#  if defined(Q_OS_DARWIN) && defined(OPEN_MAX)
    // macOS refuses a soft limit above OPEN_MAX even when the hard one is unlimited.
    raised.rlim_cur = std::min<rlim_t>(raised.rlim_cur, OPEN_MAX);
#  endif
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        note = u" (could not raise it to %1: %2)"_s.arg(limitText(raised.rlim_cur),
                                                        qt_error_string(errno));
        return limit;
    }
    note = u" (raised from %1)"_s.arg(limitText(limit.rlim_cur));
    return raised;
}

} // namespace

QString descriptorLimitText()
{
    rlimit limit{};
    return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limitText(limit.rlim_cur) : u"unknown"_s;
}

#else
QString descriptorLimitText()
{
    return u"unknown"_s;
}
#endif // Q_OS_UNIX

void raiseDescriptorLimit(int maxConnections, int workers)
{
#ifdef Q_OS_UNIX
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        qCWarning(lcServer).noquote()
            << "cannot read the file descriptor limit:" << qt_error_string(errno);
        return;
    }
    QString note;
    limit = raiseSoftLimit(limit, note);
    qCInfo(lcServer).noquote() << u"file descriptor limit: %1%2"_s.arg(limitText(limit.rlim_cur),
                                                                       note);
    const qint64 overhead = DescriptorHeadroom + 2 * qint64(workers);
    const qint64 needed = qint64(maxConnections) + overhead;
    if (limit.rlim_cur == RLIM_INFINITY || quint64(needed) <= quint64(limit.rlim_cur))
        return;
    qCWarning(lcServer).noquote()
        << u"server.max_connections = %1 needs about %2 file descriptors (one per connection "
           "plus %3 for the server itself) but the limit is %4: accepts will pause and clients "
           "get 503 before that many connect. Raise the hard limit (ulimit -n %2 in the shell "
           "that starts mtwserver, LimitNOFILE=%2 in its systemd unit) or lower "
           "server.max_connections"_s.arg(maxConnections)
               .arg(needed)
               .arg(overhead)
               .arg(limitText(limit.rlim_cur));
#else
    Q_UNUSED(maxConnections);
    Q_UNUSED(workers);
#endif
}

void refuseDescriptor(qintptr descriptor, QByteArrayView response)
{
#ifdef Q_OS_UNIX
    const int fd = int(descriptor);
    // Closing a socket with unread input resets the connection, and the client may then lose
    // the answer: read what it already sent first.
    char discard[4096];
    (void)::recv(fd, discard, sizeof discard, MSG_DONTWAIT);
#  ifdef MSG_NOSIGNAL
    constexpr int flags = MSG_DONTWAIT | MSG_NOSIGNAL;
#  else
    constexpr int flags = MSG_DONTWAIT;
#  endif
    (void)::send(fd, response.data(), size_t(response.size()), flags);
    ::close(fd);
#elif defined(Q_OS_WIN)
    const SOCKET socket = SOCKET(descriptor);
    u_long nonBlocking = 1;
    ::ioctlsocket(socket, FIONBIO, &nonBlocking);
    ::send(socket, response.data(), int(response.size()), 0);
    ::closesocket(socket);
#else
    Q_UNUSED(descriptor);
    Q_UNUSED(response);
#endif
}

} // namespace Mtw::Internal
