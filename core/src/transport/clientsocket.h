// SPDX-License-Identifier: MIT
#pragma once

#include <QSslSocket>

namespace Mtw::Internal {

// The TCP socket of one client, before and after its WebSocket upgrade. Lives in the thread of
// the worker (or the admin service) that owns it.
//
// Every write to the client passes writeData(): fan-out frames and replies from the worker, and
// what QWebSocket writes by itself (the 101 response, pongs to the client's pings, close frames).
// That makes it the one place where the outbound queue limit holds for every byte, and the one
// place that sees the handshake response go out, which is how an upgraded QWebSocket is paired
// with the socket it came from (QWebSocket does not expose its socket, and the peer address is
// gone once the peer has reset the connection).
//
// A QSslSocket so that a TLS port ([server.tls]) can start the handshake on it; on a plain port
// it stays in UnencryptedMode and passes bytes through.
class ClientSocket : public QSslSocket
{
    Q_OBJECT

public:
    explicit ClientSocket(QObject *parent = nullptr);

    // Bytes that may wait in the socket's write buffer; 0 = no limit. A write that would go over
    // is dropped and queueOverflowed() is emitted once, from the event loop. One write larger
    // than the whole limit is let into an empty queue (a message up to max_message_size must be
    // deliverable whatever max_queue_size says), so a queue holds at most
    // max(limit, one write).
    void setQueueLimit(qint64 bytes) { m_queueLimit = bytes; }
    qint64 queueLimit() const { return m_queueLimit; }
    bool hasOverflowed() const { return m_overflowed; }
    // Bytes written and not yet sent: with TLS, the plain text not yet encrypted plus the
    // encrypted bytes not yet sent.
    qint64 queuedBytes() const
    {
        // No virtual calls on the hot path.
        return QSslSocket::bytesToWrite() + QSslSocket::encryptedBytesToWrite();
    }
    // True when `bytes` more may be queued.
    bool hasRoomFor(qint64 bytes) const
    {
        const qint64 queued = queuedBytes();
        return m_queueLimit <= 0 || queued == 0 || queued + bytes <= m_queueLimit;
    }

    // The next write (the handshake response) stores this socket in *slot; one write only.
    void reportNextWriteTo(ClientSocket **slot) { m_writeReport = slot; }

Q_SIGNALS:
    void queueOverflowed(qint64 queued, qint64 refused);

protected:
    qint64 writeData(const char *data, qint64 size) override;

private:
    qint64 m_queueLimit = 0;
    ClientSocket **m_writeReport = nullptr;
    bool m_overflowed = false;
};

} // namespace Mtw::Internal
