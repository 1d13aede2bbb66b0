// SPDX-License-Identifier: MIT
#include "transport/clientsocket.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace Mtw::Internal {

namespace {

// The Qt socket class with every write routed through ClientSocket. Not a Q_OBJECT: it adds no
// signal or slot, and its meta-object stays the Qt class's.
// Aligned to a cache line, so that ClientSocket's first members (what a delivery reads) share
// one.
template<typename Socket>
class alignas(64) BasicClientSocket final : public Socket, public ClientSocket
{
public:
    explicit BasicClientSocket(QObject *parent)
        : Socket(parent)
        , ClientSocket(this, tlsOf(this))
    { }

    qint64 bytesToWrite() const override { return queuedBytes(); }
    void disconnectFromHost() override
    {
        forgetDescriptor();
        Socket::disconnectFromHost();
    }

protected:
    qint64 writeData(const char *data, qint64 size) override
    {
        return ClientSocket::write(data, size);
    }
    qint64 bufferedInQt() const override
    {
        if constexpr (std::is_same_v<Socket, QSslSocket>)
            return Socket::bytesToWrite() + Socket::encryptedBytesToWrite();
        else
            return Socket::bytesToWrite();
    }
    qint64 bufferInQt(const char *data, qint64 size) override
    {
        return Socket::writeData(data, size);
    }

private:
    static QSslSocket *tlsOf(Socket *socket)
    {
        if constexpr (std::is_same_v<Socket, QSslSocket>)
            return socket;
        else
            return nullptr;
    }
};

// The lists of frames after the first that sockets of this thread have given back once their
// burst had gone, for the next burst of any of them: a worker flushing hundreds of sockets per
// pass would otherwise allocate and free one per socket and burst (too many, and too large, for
// malloc's per-thread cache). Bounded: beyond that a list is freed.
constexpr std::size_t MaxSpareFrameLists = 1024;
thread_local std::vector<std::vector<QByteArray>> t_spareFrameLists;

} // namespace

ClientSocket::ClientSocket(QTcpSocket *io, QSslSocket *tls)
    : m_mayHaveBuffered(tls != nullptr)
    , m_io(io)
    , m_tls(tls)
{ }

ClientSocket::~ClientSocket() = default;

ClientSocket *ClientSocket::create(bool tls, QObject *parent)
{
    if (tls)
        return new BasicClientSocket<QSslSocket>(parent);
    return new BasicClientSocket<QTcpSocket>(parent);
}

ClientSocket *ClientSocket::from(QObject *socket)
{
    return dynamic_cast<ClientSocket *>(socket);
}

qint64 ClientSocket::write(const char *data, qint64 size)
{
    if (!admit(size))
        return -1;
    sendFrames(); // they were written first
    const qint64 sent = sendNow(data, size);
    if (sent == size)
        return size;
    const qint64 buffered = buffer(data + sent, size - sent);
    return buffered < 0 ? (sent > 0 ? sent : -1) : sent + buffered;
}

bool ClientSocket::queueFrameSlowly(const QByteArray &frame)
{
    if (!admit(frame.size()))
        return false;
    // Behind what waits in Qt's buffer (the kernel did not take it all): there, in order.
    if (bufferedBytes() > 0) {
        moveFramesToBuffer();
        buffer(frame.constData(), frame.size());
        return true;
    }
    if (m_frameBytes == 0) {
        m_firstFrame = frame;
    } else {
        if (m_moreFrames.size() + 1 == MaxQueuedFrames) {
            sendFrames(); // a long burst: this many go in one write
            if (bufferedBytes() > 0) {
                buffer(frame.constData(), frame.size());
                return true;
            }
            m_firstFrame = frame;
            m_frameBytes = frame.size();
            return true;
        }
        if (m_moreFrames.capacity() == 0) {
            if (!t_spareFrameLists.empty()) {
                m_moreFrames.swap(t_spareFrameLists.back());
                t_spareFrameLists.pop_back();
            } else {
                m_moreFrames.reserve(MaxQueuedFrames - 1);
            }
        }
        m_moreFrames.push_back(frame);
    }
    m_frameBytes += frame.size();
    return true;
}

void ClientSocket::sendQueued()
{
    sendFrames();
    if (bufferedBytes() > 0)
        m_io->flush();
}

void ClientSocket::clearFrames()
{
    m_firstFrame = QByteArray();
    m_frameBytes = 0;
    if (m_moreFrames.capacity() == 0)
        return;
    m_moreFrames.clear();
    if (t_spareFrameLists.size() < MaxSpareFrameLists)
        t_spareFrameLists.push_back(std::move(m_moreFrames)); // leaves it empty, no capacity
    std::vector<QByteArray>().swap(m_moreFrames);
}

// Counted against the limit when queued; into Qt's buffer (and its notifier) as they are.
void ClientSocket::moveFramesToBuffer()
{
    if (m_frameBytes == 0)
        return;
    buffer(m_firstFrame.constData(), m_firstFrame.size());
    for (const QByteArray &frame : m_moreFrames)
        buffer(frame.constData(), frame.size());
    clearFrames();
}

// One sendmsg() of every queued frame; what the kernel does not take goes to Qt's buffer.
void ClientSocket::sendFrames()
{
    if (m_frameBytes == 0)
        return;
    iovec parts[MaxQueuedFrames];
    std::size_t count = 0;
    parts[count++] = {const_cast<char *>(m_firstFrame.constData()), size_t(m_firstFrame.size())};
    for (const QByteArray &frame : m_moreFrames)
        parts[count++] = {const_cast<char *>(frame.constData()), size_t(frame.size())};
    qint64 sent = sendNow(parts, count);
    const auto rest = [this, &sent](const QByteArray &frame) {
        if (sent >= frame.size()) {
            sent -= frame.size();
            return;
        }
        buffer(frame.constData() + sent, frame.size() - sent);
        sent = 0;
    };
    rest(m_firstFrame);
    for (const QByteArray &frame : m_moreFrames)
        rest(frame);
    clearFrames();
}

qint64 ClientSocket::sendNow(const char *data, qint64 size)
{
    iovec part{const_cast<char *>(data), size_t(size)};
    return sendNow(&part, 1);
}

int ClientSocket::descriptorFromQt()
{
    if (!mayWriteDirectly() || m_io->state() != QAbstractSocket::ConnectedState)
        return -1;
    const qintptr fd = m_io->socketDescriptor();
    if (fd < 0)
        return -1;
    if (!m_tls && !m_fdGone)
        m_fd = int(fd);
    return int(fd);
}

qint64 ClientSocket::sendNow(const iovec *parts, std::size_t count)
{
    if (bufferedBytes() > 0)
        return 0;
    int fd = m_fd;
    Q_ASSERT(
        fd < 0
        || (m_io->state() == QAbstractSocket::ConnectedState && fd == m_io->socketDescriptor()));
    if (Q_UNLIKELY(fd < 0) && (fd = descriptorFromQt()) < 0)
        return 0;
    constexpr int Flags = MSG_NOSIGNAL | MSG_DONTWAIT;
    ssize_t sent = 0;
    if (count == 1) { // send(): the kernel copies no message header and no iovec array
        do {
            sent = ::send(fd, parts->iov_base, parts->iov_len, Flags);
        } while (sent < 0 && errno == EINTR);
    } else {
        msghdr message = {};
        message.msg_iov = const_cast<iovec *>(parts);
        message.msg_iovlen = count;
        do {
            sent = ::sendmsg(fd, &message, Flags);
        } while (sent < 0 && errno == EINTR);
    }
    return sent < 0 ? 0 : qint64(sent);
}

void ClientSocket::reset()
{
    if (const qintptr fd = m_io->socketDescriptor(); fd >= 0) {
        const linger hard{1, 0};
        (void)::setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    clearFrames();
    m_io->abort();
}

void ClientSocket::releaseReadBuffer()
{
    // bytesAvailable() of a buffered socket is what waits in Qt's buffer, not the kernel's.
    if (m_io->bytesAvailable() != 0 || !m_io->isReadable())
        return;
    m_io->ungetChar('\0');
    (void)m_io->read(1); // read(n) of exactly the first chunk's size takes the chunk
}

QByteArray ClientSocket::readAvailable()
{
    const QByteArray bytes = m_io->read(m_io->bytesAvailable());
    releaseReadBuffer(); // whatever chunk Qt kept (none when it handed its only one over)
    return bytes;
}

bool ClientSocket::admit(qint64 size)
{
    if (Q_UNLIKELY(m_overflowed))
        return false;
    if (Q_LIKELY(hasRoomFor(size)))
        return true;
    m_overflowed = true;
    const qint64 queued = queuedBytes();
    // Not from inside the write: the caller may be in the middle of a delivery loop.
    QMetaObject::invokeMethod(
        m_io,
        [this, queued, size] {
            if (m_overflowHandler)
                m_overflowHandler(queued, size);
        },
        Qt::QueuedConnection);
    return false;
}

} // namespace Mtw::Internal
