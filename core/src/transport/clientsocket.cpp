// SPDX-License-Identifier: MIT
#include "transport/clientsocket.h"

#include <sys/socket.h>

#include <cerrno>

namespace Mtw::Internal {

namespace {

// The Qt socket class with every write routed through ClientSocket. Not a Q_OBJECT: it adds no
// signal or slot, and its meta-object stays the Qt class's.
template<typename Socket>
class BasicClientSocket final : public Socket, public ClientSocket
{
public:
    explicit BasicClientSocket(QObject *parent)
        : Socket(parent)
        , ClientSocket(this, tlsOf(this))
    { }

    qint64 bytesToWrite() const override { return queuedBytes(); }

protected:
    qint64 writeData(const char *data, qint64 size) override
    {
        return ClientSocket::write(data, size);
    }
    qint64 bufferedBytes() const override
    {
        if constexpr (std::is_same_v<Socket, QSslSocket>)
            return Socket::bytesToWrite() + Socket::encryptedBytesToWrite();
        else
            return Socket::bytesToWrite();
    }
    qint64 buffer(const char *data, qint64 size) override { return Socket::writeData(data, size); }

private:
    static QSslSocket *tlsOf(Socket *socket)
    {
        if constexpr (std::is_same_v<Socket, QSslSocket>)
            return socket;
        else
            return nullptr;
    }
};

} // namespace

ClientSocket::ClientSocket(QTcpSocket *io, QSslSocket *tls)
    : m_io(io)
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
    if (Q_UNLIKELY(m_writeReport)) {
        *std::exchange(m_writeReport, nullptr) = this;
    }
    if (!admit(size))
        return -1;
    sendFrames(); // they were written first
    const qint64 sent = sendNow(data, size);
    if (sent == size)
        return size;
    const qint64 buffered = buffer(data + sent, size - sent);
    return buffered < 0 ? (sent > 0 ? sent : -1) : sent + buffered;
}

bool ClientSocket::queueFrame(const QByteArray &frame)
{
    if (!admit(frame.size()))
        return false;
    // One frame waits here, shared with every other recipient of the fan-out: no copy, and
    // Qt's write notifier stays off. A second one before the socket is flushed means a burst:
    // both go to Qt's buffer, which gathers the burst for one write() at the first chance
    // (sendQueued() or the notifier, whichever comes first).
    if (m_frames.isEmpty() && bufferedBytes() == 0) {
        m_frames = frame;
        return true;
    }
    moveFramesToBuffer();
    buffer(frame.constData(), frame.size());
    return true;
}

void ClientSocket::sendQueued()
{
    sendFrames();
    if (bufferedBytes() > 0)
        m_io->flush();
}

// Counted against the limit when queued; into Qt's buffer (and its notifier) as they are.
void ClientSocket::moveFramesToBuffer()
{
    if (m_frames.isEmpty())
        return;
    const QByteArray frames = std::exchange(m_frames, QByteArray());
    buffer(frames.constData(), frames.size());
}

void ClientSocket::sendFrames()
{
    if (m_frames.isEmpty())
        return;
    const QByteArray frames = std::exchange(m_frames, QByteArray());
    const qint64 sent = sendNow(frames.constData(), frames.size());
    if (sent < frames.size())
        buffer(frames.constData() + sent, frames.size() - sent);
}

qint64 ClientSocket::sendNow(const char *data, qint64 size)
{
    if (!mayWriteDirectly() || bufferedBytes() > 0
        || m_io->state() != QAbstractSocket::ConnectedState)
        return 0;
    const qintptr fd = m_io->socketDescriptor();
    if (fd < 0)
        return 0;
    ssize_t sent = 0;
    do {
        sent = ::send(int(fd), data, size_t(size), MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? 0 : qint64(sent);
}

void ClientSocket::reset()
{
    if (const qintptr fd = m_io->socketDescriptor(); fd >= 0) {
        const linger hard{1, 0};
        (void)::setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    m_frames.clear();
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

bool ClientSocket::admit(qint64 size)
{
    if (Q_UNLIKELY(m_overflowed))
        return false;
    if (Q_LIKELY(hasRoomFor(size)))
        return true;
    m_overflowed = true;
    const qint64 queued = queuedBytes();
    // Not from inside the write: the caller may be QWebSocket in the middle of a frame.
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
