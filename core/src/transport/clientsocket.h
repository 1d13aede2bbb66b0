// SPDX-License-Identifier: MIT
#pragma once

#include <QSslSocket>
#include <QTcpSocket>

#include <functional>
#include <type_traits>
#include <vector>

struct iovec;

namespace Mtw::Internal {

// The TCP socket of one client, before and after its WebSocket upgrade. Lives in the thread of
// the worker (or the admin service) that owns it.
//
// Every write to the client passes write() or queueFrame(): fan-out frames, replies, the 101
// response, pongs and close frames. That makes it the one place where the outbound queue limit
// holds for every byte.
//
// The frames the worker queues (queueFrame) wait here, shared with every other recipient of
// the fan-out and not copied, until sendQueued(), which the worker calls for a bounded number of
// sockets before each wait (Outbound::flushWritten): one sendmsg() hands all of them to the
// kernel. They do not enter Qt's write buffer, which would copy each one and switch the socket's
// write notifier on (and off after the next wait). A burst longer than MaxQueuedFrames is sent
// whenever that many wait. Anything else written (a close frame, an HTTP answer) goes
// behind them, so the order on the wire is the order of the writes.
//
// What is written while nothing waits in Qt's buffer goes to the kernel at once (send(), no
// copy, no notifier); only what the kernel does not take enters Qt's buffer, whose write
// notifier then finishes the job. Qt's buffer also keeps a 32 KiB chunk for good once it has
// been used, which most idle connections now never allocate.
//
// Two kinds, chosen per port when the connection is accepted (create()): a QSslSocket on a TLS
// port ([server.tls]), which starts the handshake once the first byte says TLS, and a plain
// QTcpSocket everywhere else. A QSslSocket costs about 5 KB more per connection even when it
// never encrypts (it wraps a second QTcpSocket, whose buffers each byte passes through), which a
// plain port has no use for. Both are the same ClientSocket here; io() is the socket itself, for
// everything Qt does with it (signals, reads, the admin API's QWebSocketServer).
class ClientSocket
{
    Q_DISABLE_COPY_MOVE(ClientSocket)

public:
    virtual ~ClientSocket();

    // Plain or TLS, as the port is; parented to `parent`, deleted with io().
    static ClientSocket *create(bool tls, QObject *parent);
    // The ClientSocket that `socket` is, or nullptr.
    static ClientSocket *from(QObject *socket);

    QTcpSocket *io() const { return m_io; }
    // The TLS side on a TLS port; nullptr on a plain port.
    QSslSocket *tls() const { return m_tls; }

    // Bytes that may wait in the socket's write buffer; 0 = no limit. A write that would go over
    // is dropped and the overflow handler is called once, from the event loop. One write larger
    // than the whole limit is let into an empty queue (a message up to max_message_size must be
    // deliverable whatever max_queue_size says), so a queue holds at most
    // max(limit, one write).
    void setQueueLimit(qint64 bytes) { m_queueLimit = bytes; }
    qint64 queueLimit() const { return m_queueLimit; }
    bool hasOverflowed() const { return m_overflowed; }
    // Called (once, from the event loop, never from inside a write) with the bytes queued and
    // the size of the write refused. One handler: a later call replaces it.
    void onQueueOverflow(std::function<void(qint64 queued, qint64 refused)> handler)
    {
        m_overflowHandler = std::move(handler);
    }
    // True when `bytes` more may be queued.
    bool hasRoomFor(qint64 bytes) const
    {
        const qint64 queued = queuedBytes();
        return m_queueLimit <= 0 || queued == 0 || queued + bytes <= m_queueLimit;
    }
    // Bytes written and not yet sent: the frames not yet handed to Qt plus Qt's write buffer;
    // with TLS, the plain text not yet encrypted plus the encrypted bytes not yet sent.
    qint64 queuedBytes() const { return bufferedBytes() + m_frameBytes; }

    // Queues one complete frame (shared, not copied) under the queue limit: false, as for a
    // refused write, when it would go over. Inline for the cases of every delivery: nothing in
    // Qt's buffer, room under the limit (an empty queue always has), a place in the list.
    bool queueFrame(const QByteArray &frame)
    {
        return tryQueueFrame(frame) || queueFrameSlowly(frame);
    }
    // Those cases alone: false (and nothing done) for any other.
    bool tryQueueFrame(const QByteArray &frame)
    {
        if (Q_LIKELY(!m_mayHaveBuffered && !m_overflowed)) {
            const qint64 size = frame.size();
            if (m_frameBytes == 0) {
                m_firstFrame = frame;
                m_frameBytes = size;
                return true;
            }
            if ((m_queueLimit <= 0 || m_frameBytes + size <= m_queueLimit)
                && m_moreFrames.size() < m_moreFrames.capacity()
                && m_moreFrames.size() + 1 < MaxQueuedFrames) {
                m_moreFrames.push_back(frame);
                m_frameBytes += size;
                return true;
            }
        }
        return false;
    }
    // Writes the queued frames: what the kernel does not take now waits in Qt's buffer.
    void sendQueued();
    // The most frames that wait here (one sendmsg() of them). Server CPU per delivery, 10,000
    // subscribers pipelined: 33 frames 0.42-0.44 us, 64 0.32-0.36, 128 and 256 no better.
    static constexpr std::size_t MaxQueuedFrames = 64;

    // Drops the connection at once, with what is still queued: the kernel sends a reset instead
    // of keeping the unsent bytes of a peer that does not read (a slow consumer) for minutes in
    // an orphaned socket, and the peer learns at once. Then QAbstractSocket::abort().
    void reset();

    // Gives Qt's read buffer back to the heap when nothing waits in it. Qt keeps the 16 KiB
    // chunk of a socket's read buffer for good once it has held bytes (the upgrade request puts
    // one on every connection), which an idle connection has no use for: most of its memory.
    // Putting one byte back and reading it again hands that chunk out with the byte (QIODevice
    // moves a chunk read whole instead of copying it) and it is freed; the next read allocates
    // one again. No byte changes place: with bytes waiting, nothing is done. A QSslSocket's inner
    // socket keeps its own chunk (Qt reads it, not us).
    void releaseReadBuffer();
    // Everything Qt has read, and then releaseReadBuffer(): read(n) of all of it hands Qt's
    // chunk itself over when the bytes are in one (no copy); readAll() would allocate a 16 KiB
    // array and copy, every read.
    QByteArray readAvailable();

protected:
    ClientSocket(QTcpSocket *io, QSslSocket *tls);

    // Called by the socket's disconnectFromHost() before Qt's: the descriptor is about to close.
    void forgetDescriptor()
    {
        m_fd = -1;
        m_fdGone = true;
    }

    // QIODevice::writeData() of the socket: every byte written to the client comes here.
    qint64 write(const char *data, qint64 size);

    // The socket class's own write buffer: bytes in it, and a write into it.
    virtual qint64 bufferedInQt() const = 0;
    virtual qint64 bufferInQt(const char *data, qint64 size) = 0;

private:
    // Every byte enters Qt's buffer through buffer(), so until one does the buffer is known to
    // be empty without asking Qt (two virtual calls deep, three times per delivery). A TLS
    // socket always asks: its handshake writes to the encrypted buffer by itself.
    qint64 bufferedBytes() const
    {
        if (!m_mayHaveBuffered)
            return 0;
        const qint64 bytes = bufferedInQt();
        if (bytes == 0 && !m_tls)
            m_mayHaveBuffered = false;
        return bytes;
    }
    qint64 buffer(const char *data, qint64 size)
    {
        m_mayHaveBuffered = true;
        return bufferInQt(data, size);
    }
    bool admit(qint64 size);
    bool queueFrameSlowly(const QByteArray &frame);
    void moveFramesToBuffer();
    void sendFrames();
    // How much of [data, data + size) the kernel took at once (0 when Qt's buffer is not empty:
    // the order must hold). A failure is left to Qt's write path, which meets it again.
    qint64 sendNow(const char *data, qint64 size);
    qint64 sendNow(const iovec *parts, std::size_t count);
    // The descriptor to write on directly, asking Qt (and caching it, see m_fd); -1 when the
    // bytes must go through Qt (not connected, or TLS).
    int descriptorFromQt();
    void clearFrames();
    // Only a plain socket, or a TLS port's socket before its handshake, carries the bytes as
    // they are; with TLS they go through QSslSocket to be encrypted.
    bool mayWriteDirectly() const { return !m_tls || m_tls->mode() == QSslSocket::UnencryptedMode; }

    // What every delivery reads comes first, in one cache line (the object is aligned to one,
    // see create()): with 10,000 subscribers each of them is a cache miss per delivery.
    //
    // Queued by queueFrame(), not yet in Qt's buffer, in order: the first, then the others (a
    // burst; the list goes back to a per-thread pool when they have gone, so an idle socket
    // keeps no heap for it).
    QByteArray m_firstFrame;
    qint64 m_frameBytes = 0;
    // The descriptor to send on while the connection is open, so that a delivery does not ask
    // Qt (the socket's state and descriptor are three objects away, three more cache misses).
    // Plain sockets only, and -1 from the moment the socket starts to close: Qt closes the
    // descriptor only through disconnectFromHost() (abort() and close() call it, and so does Qt
    // itself on a read or write error), which forgetDescriptor() runs before, so a closed
    // descriptor (whose number the acceptor may give to a new client at once) is never written.
    int m_fd = -1;
    bool m_fdGone = false; // disconnectFromHost() has run: never cache it again
    bool m_overflowed = false;
    mutable bool m_mayHaveBuffered; // see bufferedBytes()
    std::vector<QByteArray> m_moreFrames;
    qint64 m_queueLimit = 0;
    QTcpSocket *const m_io;
    QSslSocket *const m_tls;
    std::function<void(qint64, qint64)> m_overflowHandler;
};

} // namespace Mtw::Internal
