// SPDX-License-Identifier: MIT
#include "transport/clientsocket.h"

namespace Mtw::Internal {

ClientSocket::ClientSocket(QObject *parent)
    : QSslSocket(parent)
{ }

qint64 ClientSocket::writeData(const char *data, qint64 size)
{
    if (Q_UNLIKELY(m_writeReport)) {
        *std::exchange(m_writeReport, nullptr) = this;
    }
    if (Q_UNLIKELY(m_overflowed))
        return -1;
    if (Q_UNLIKELY(!hasRoomFor(size))) {
        m_overflowed = true;
        const qint64 queued = queuedBytes();
        // Not from inside the write: the caller may be QWebSocket in the middle of a frame.
        QMetaObject::invokeMethod(
            this,
            [this, queued, size] { Q_EMIT queueOverflowed(queued, size); },
            Qt::QueuedConnection);
        return -1;
    }
    return QSslSocket::writeData(data, size);
}

} // namespace Mtw::Internal
