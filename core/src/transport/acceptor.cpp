// SPDX-License-Identifier: MIT
#include "transport/acceptor.h"

#include "transport/descriptors.h"
#include "transport/httprequest.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/worker.h"

#include <QSocketNotifier>
#include <QTcpServer>
#include <QTimer>

#include <algorithm>
#include <functional>

#ifdef Q_OS_UNIX
#  include <fcntl.h>
#  include <sys/socket.h>
#  include <unistd.h>

#  include <cerrno>
#  include <climits>
#elif defined(Q_OS_WIN)
#  include <winsock2.h>
#endif

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// QTcpServer with the hand-off hook. On Unix its own accept loop stays paused (see listen()).
class ListeningServer : public QTcpServer
{
public:
    ListeningServer(std::function<void(qintptr)> handOff, QObject *parent)
        : QTcpServer(parent)
        , m_handOff(std::move(handOff))
    { }

protected:
    void incomingConnection(qintptr descriptor) override { m_handOff(descriptor); }

private:
    const std::function<void(qintptr)> m_handOff;
};

#ifdef Q_OS_UNIX

// Bounds the time one wake-up holds the server thread during a connection storm; the notifier is
// level-triggered, so whatever is left is taken on the next iteration of the event loop.
constexpr int MaxAcceptsPerWakeup = 512;
// Back-off after a failed accept: short at first, since descriptors often come back quickly
// (clients leaving), then doubling so that a lasting shortage costs at most one attempt a second.
constexpr int FirstBackoffMs = 50;
constexpr int MaxBackoffMs = 1000;
// Accepts must work this long before a shortage is over (and logged as over).
constexpr int QuietMs = 5000;

int acceptOne(int listener)
{
#  ifdef Q_OS_LINUX
    // Non-blocking from the start: the worker's QTcpSocket then cannot fail to make it so (the one
    // adoption failure after which Qt closes the descriptor itself).
    return ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
#  else
    const int descriptor = ::accept(listener, nullptr, nullptr);
    if (descriptor >= 0) {
        ::fcntl(descriptor, F_SETFD, FD_CLOEXEC);
        ::fcntl(descriptor, F_SETFL, ::fcntl(descriptor, F_GETFL) | O_NONBLOCK);
    }
    return descriptor;
#  endif
}

// Errors about the one connection being accepted (reset or refused before we took it, or, on
// Linux, a network error already pending on it): the next one in the backlog may be fine.
bool isConnectionError(int error)
{
    switch (error) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM: // a firewall rule
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
#  ifdef ENONET
    case ENONET:
#  endif
        return true;
    default:
        return false;
    }
}

bool isOutOfDescriptors(int error)
{
    return error == EMFILE || error == ENFILE;
}

QString errorName(int error)
{
    switch (error) {
    case EMFILE:
        return u"EMFILE"_s;
    case ENFILE:
        return u"ENFILE"_s;
    case ENOBUFS:
        return u"ENOBUFS"_s;
    case ENOMEM:
        return u"ENOMEM"_s;
    default:
        return u"errno %1"_s.arg(error);
    }
}

QString describeAcceptError(int error)
{
    switch (error) {
    case EMFILE:
        return u"out of file descriptors (EMFILE, limit %1)"_s.arg(descriptorLimitText());
    case ENFILE:
        return u"out of file descriptors (ENFILE: the system-wide table is full, see "
               "fs.file-max)"_s;
    default:
        return u"accept() failed: %1 (%2)"_s.arg(qt_error_string(error), errorName(error));
    }
}

int openSpare()
{
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

#endif // Q_OS_UNIX

} // namespace

Acceptor::Acceptor(ServerContext *context, QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_listener(new ListeningServer([this](qintptr descriptor) { handOff(descriptor); }, this))
    , m_backoff(new QTimer(this))
    , m_quiet(new QTimer(this))
{
    // QWebSocketServer::listen() uses a backlog of 50, which drops connects under a storm.
    m_listener->setListenBacklogSize(4096);
    m_backoff->setSingleShot(true);
    connect(m_backoff, &QTimer::timeout, this, &Acceptor::resume);
    m_quiet->setSingleShot(true);
    connect(m_quiet, &QTimer::timeout, this, &Acceptor::endShortage);
}

Acceptor::~Acceptor()
{
    close();
}

bool Acceptor::listen(const QHostAddress &address, quint16 port)
{
    if (!m_listener->listen(address, port))
        return false;
#ifdef Q_OS_UNIX
    // Qt's accept loop retries at once, on every wake-up, while accept() fails with EMFILE (the
    // listening socket stays readable), which spins a core and starves everything else on this
    // thread. Its notifier stays off and ours takes over.
    m_listener->pauseAccepting();
    m_listenerFd = int(m_listener->socketDescriptor());
    m_notifier = new QSocketNotifier(m_listener->socketDescriptor(), QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &Acceptor::acceptPending);
    m_spare = openSpare();
#endif
    return true;
}

void Acceptor::close()
{
    // The notifier goes before the descriptor it watches is closed.
    delete m_notifier;
    m_notifier = nullptr;
    m_backoff->stop();
    m_quiet->stop();
    closeSpare();
    m_listener->close();
    m_listenerFd = -1;
}

QAbstractSocket::SocketError Acceptor::serverError() const
{
    return m_listener->serverError();
}

QString Acceptor::errorString() const
{
    return m_listener->errorString();
}

QHostAddress Acceptor::serverAddress() const
{
    return m_listener->serverAddress();
}

quint16 Acceptor::serverPort() const
{
    return m_listener->serverPort();
}

void Acceptor::handOff(qintptr descriptor)
{
    // Round robin keeps the workers even without reading their (changing) loads.
    Worker *worker = m_context->workers.at(m_next);
    m_next = (m_next + 1) % m_context->workers.size();
    worker->postDescriptor(descriptor);
}

#ifdef Q_OS_UNIX

void Acceptor::acceptPending()
{
    for (int i = 0; i < MaxAcceptsPerWakeup; ++i) {
        const int descriptor = acceptOne(m_listenerFd);
        if (descriptor >= 0) {
            if (m_shortage.active && !m_shortage.recovering)
                beginRecovery();
            handOff(descriptor);
            continue;
        }
        const int error = errno;
        if (isConnectionError(error))
            continue;
        if (error == EAGAIN || error == EWOULDBLOCK) {
#  ifdef Q_OS_LINUX
            // Linux allocates the descriptor before it looks at the backlog: an empty backlog
            // still says EMFILE while there is none, so EAGAIN means there is one again.
            if (m_shortage.active && !m_shortage.recovering)
                beginRecovery();
#  endif
            return;
        }
        backOff(error);
        return;
    }
}

void Acceptor::backOff(int error)
{
    m_notifier->setEnabled(false);
    if (!m_shortage.active) {
        m_shortage = Shortage{};
        m_shortage.active = true;
        m_shortage.firstError = error;
        m_shortage.delayMs = FirstBackoffMs;
        m_shortage.since.start();
        qCWarning(lcTransport).noquote()
            << u"%1: pausing accepts for %2 ms, then longer (up to %3 ms) while it lasts%4"_s.arg(
                   describeAcceptError(error),
                   QString::number(FirstBackoffMs),
                   QString::number(MaxBackoffMs),
                   isOutOfDescriptors(error) ? u"; waiting clients get 503"_s : QString());
    } else {
        m_shortage.recovering = false;
        m_quiet->stop();
        m_shortage.delayMs = std::min(m_shortage.delayMs * 2, MaxBackoffMs);
    }
    ++m_shortage.failedAccepts;
    if (isOutOfDescriptors(error))
        m_shortage.refused += refuseWaiting();
    m_backoff->start(m_shortage.delayMs);
}

void Acceptor::resume()
{
    m_notifier->setEnabled(true);
    // Try at once rather than wait for the notifier: on Linux this tells whether descriptors
    // are back even when nobody is waiting.
    acceptPending();
}

// The spare descriptor makes room to accept each waiting client, answer it and close it: a
// prompt 503 instead of a connection that hangs until the client gives up.
int Acceptor::refuseWaiting()
{
    if (m_spare < 0)
        m_spare = openSpare();
    if (m_spare < 0)
        return 0;
    closeSpare();
    static const QByteArray response =
        httpResponse(503, "server is out of file descriptors\n", "Retry-After: 1\r\n");
    int refused = 0;
    for (int i = 0; i < MaxAcceptsPerWakeup; ++i) {
        const int descriptor = acceptOne(m_listenerFd);
        if (descriptor < 0) {
            if (isConnectionError(errno))
                continue;
            break; // EAGAIN: nobody else waits; EMFILE: another thread took the spare's slot
        }
        refuseDescriptor(descriptor, response);
        ++refused;
    }
    m_spare = openSpare();
    return refused;
}

void Acceptor::beginRecovery()
{
    m_shortage.recovering = true;
    m_shortage.lastedMs = m_shortage.since.elapsed();
    if (m_spare < 0)
        m_spare = openSpare();
    m_quiet->start(QuietMs);
}

void Acceptor::endShortage()
{
    qCInfo(lcTransport).noquote()
        << u"accepting connections again: accept() failed (%1) for %2 s; %3 attempts failed "
           "and %4 waiting clients were refused with 503"_s.arg(errorName(m_shortage.firstError))
               .arg(double(m_shortage.lastedMs) / 1000.0, 0, 'f', 1)
               .arg(m_shortage.failedAccepts)
               .arg(m_shortage.refused);
    m_shortage = Shortage{};
}

void Acceptor::closeSpare()
{
    if (m_spare >= 0)
        ::close(m_spare);
    m_spare = -1;
}

#else // !Q_OS_UNIX: QTcpServer's own loop accepts and calls handOff().

void Acceptor::acceptPending() { }
void Acceptor::backOff(int) { }
void Acceptor::resume() { }
int Acceptor::refuseWaiting()
{
    return 0;
}
void Acceptor::beginRecovery() { }
void Acceptor::endShortage() { }
void Acceptor::closeSpare() { }

#endif

} // namespace Mtw::Internal
