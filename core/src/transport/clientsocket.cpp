// SPDX-License-Identifier: MIT
#include "transport/clientsocket.h"

#include <sys/socket.h>

#include <cerrno>

namespace Mtw::Internal {

ClientSocket::ClientSocket(QObject *parent)
    : Base(parent)
{ }

qint64 ClientSocket::writeData(const char *data, qint64 size)
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
    const qint64 buffered = Base::writeData(data + sent, size - sent);
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
    if (m_frames.isEmpty() && Base::bytesToWrite() == 0) {
        m_frames = frame;
        return true;
    }
    moveFramesToBuffer();
    Base::writeData(frame.constData(), frame.size());
    return true;
}

void ClientSocket::sendQueued()
{
    sendFrames();
    if (Base::bytesToWrite() > 0)
        flush();
}

// Counted against the limit when queued; into Qt's buffer (and its notifier) as they are.
void ClientSocket::moveFramesToBuffer()
{
    if (m_frames.isEmpty())
        return;
    const QByteArray frames = std::exchange(m_frames, QByteArray());
    Base::writeData(frames.constData(), frames.size());
}

void ClientSocket::sendFrames()
{
    if (m_frames.isEmpty())
        return;
    const QByteArray frames = std::exchange(m_frames, QByteArray());
    const qint64 sent = sendNow(frames.constData(), frames.size());
    if (sent < frames.size())
        Base::writeData(frames.constData() + sent, frames.size() - sent);
}

qint64 ClientSocket::sendNow(const char *data, qint64 size)
{
    if (!mayWriteDirectly() || Base::bytesToWrite() > 0 || state() != ConnectedState)
        return 0;
    const qintptr fd = socketDescriptor();
    if (fd < 0)
        return 0;
    ssize_t sent = 0;
    do {
        sent = ::send(int(fd), data, size_t(size), MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? 0 : qint64(sent);
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
        this,
        [this, queued, size] { Q_EMIT queueOverflowed(queued, size); },
        Qt::QueuedConnection);
    return false;
}

} // namespace Mtw::Internal
