// SPDX-License-Identifier: MIT
// ClientSocket::releaseReadBuffer(): Qt's read chunk goes back to the heap, and no byte is lost,
// reordered or doubled by it, under a connection's WebSocket reads too (WebSocketReader as
// ConnectionTable drives it: frames split byte by byte, pipelined frames, a message larger than
// one read, empty control frames).
// ClientSocket::queueFrame()/sendQueued(): queued frames reach the peer in order, with any other
// write behind them, whether the kernel takes them all, a part, or nothing (a peer that does not
// read), and every queued byte counts against the queue limit.
// The descriptor ClientSocket keeps to write on is never used once Qt has closed it, however the
// socket closed: the number may already be another client's.
#include "transport/clientsocket.h"
#include "transport/websocketreader.h"

#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

#include <fcntl.h>
#include <malloc.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// From the sanitizer runtime (clang's sanitizer/allocator_interface.h; GCC ships no header).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

using Mtw::Internal::ClientSocket;
using Mtw::Internal::WebSocketReader;
using namespace Qt::StringLiterals;

namespace {

// Hands the accepted descriptor to a ClientSocket, as the worker's front door does.
class Listener : public QTcpServer
{
public:
    qintptr descriptor = -1;

protected:
    void incomingConnection(qintptr socketDescriptor) override { descriptor = socketDescriptor; }
};

QByteArray maskedFrame(quint8 opcode, const QByteArray &payload, bool fin = true)
{
    QByteArray frame;
    frame.append(char((fin ? 0x80 : 0x00) | opcode));
    const qsizetype n = payload.size();
    if (n < 126) {
        frame.append(char(0x80 | n));
    } else if (n < 65536) {
        frame.append(char(0x80 | 126));
        frame.append(char(n >> 8)).append(char(n & 0xff));
    } else {
        frame.append(char(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((quint64(n) >> shift) & 0xff));
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    for (qsizetype i = 0; i < n; ++i)
        frame.append(char(payload.at(i) ^ mask[i % 4]));
    return frame;
}

// Bytes allocated and not yet freed. Under a sanitizer its allocator replaces glibc's, whose
// mallinfo2() then says 0: ask the sanitizer instead.
std::size_t heapInUse()
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

// Reads a socket as ConnectionTable::readFrames() does: everything Qt has, then the chunk
// released, then every complete frame. Answers pings with pongs, as the server does.
struct FrameCollector
{
    FrameCollector(ClientSocket *socket, QObject *context)
    {
        QObject::connect(socket->io(), &QIODevice::readyRead, context, [this, socket] {
            reader.append(socket->readAvailable());
            for (;;) {
                WebSocketReader::Event event = reader.next(8 * 1024 * 1024);
                if (event.kind == WebSocketReader::Kind::None)
                    return;
                if (event.kind == WebSocketReader::Kind::Ping)
                    socket->io()->write(Mtw::Internal::pongFrame(event.payload));
                if (event.kind == WebSocketReader::Kind::Message)
                    (event.binary ? binaries : texts).append(event.payload);
                if (event.kind == WebSocketReader::Kind::Pong)
                    ++pongs;
                if (event.kind == WebSocketReader::Kind::Failed)
                    failures.append(event.payload);
            }
        });
    }

    WebSocketReader reader;
    QByteArrayList texts;
    QByteArrayList binaries;
    QByteArrayList failures;
    int pongs = 0;
};

} // namespace

class TestClientSocket : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void releaseFreesTheChunkAndKeepsBytes();
    void webSocketFramesSplitByteByByte();
    void webSocketPipelinedAndLargeMessages();
    void queuedFramesArriveInOrder();
    void queuedFramesToAPeerThatDoesNotRead();
    void queuedFramesCountAgainstTheLimit();
    void handshakeResponseLeavesWithTheGreeting();
    void closedDescriptorIsNotWrittenAgain_data();
    void closedDescriptorIsNotWrittenAgain();

private:
    // A connected pair: m_peer (the client) and m_server (a plain ClientSocket).
    void connectPair();
    // What the peer reads until `size` bytes came (or 10 s went by).
    QByteArray readFromPeer(qsizetype size);
    // Writes `bytes` from the peer and waits until the server socket has read them.
    void sendAndWaitForRead(const QByteArray &bytes);

    std::unique_ptr<QObject> m_owner;
    std::unique_ptr<Listener> m_listener;
    QTcpSocket *m_peer = nullptr;
    ClientSocket *m_server = nullptr;
};

void TestClientSocket::init()
{
    m_owner = std::make_unique<QObject>();
    m_listener = std::make_unique<Listener>();
    QVERIFY(m_listener->listen(QHostAddress::LocalHost, 0));
    connectPair();
}

void TestClientSocket::cleanup()
{
    m_owner.reset();
    m_listener.reset();
    m_peer = nullptr;
    m_server = nullptr;
}

void TestClientSocket::connectPair()
{
    m_peer = new QTcpSocket(m_owner.get());
    m_peer->connectToHost(QHostAddress::LocalHost, m_listener->serverPort());
    QTRY_VERIFY(m_listener->descriptor >= 0);
    QTRY_COMPARE(m_peer->state(), QAbstractSocket::ConnectedState);
    m_server = ClientSocket::create(false, m_owner.get());
    QVERIFY(m_server->io()->setSocketDescriptor(m_listener->descriptor));
}

QByteArray TestClientSocket::readFromPeer(qsizetype size)
{
    QByteArray got;
    (void)QTest::qWaitFor(
        [&] {
            got += m_peer->readAll();
            return got.size() >= size;
        },
        10000);
    return got;
}

void TestClientSocket::sendAndWaitForRead(const QByteArray &bytes)
{
    QSignalSpy read(m_server->io(), &QIODevice::readyRead);
    m_peer->write(bytes);
    QVERIFY(m_peer->waitForBytesWritten(5000));
    QVERIFY(read.wait(5000));
}

void TestClientSocket::releaseFreesTheChunkAndKeepsBytes()
{
    QTcpSocket *io = m_server->io();
    sendAndWaitForRead("abcdef");
    QCOMPARE(io->read(2), QByteArray("ab"));
    m_server->releaseReadBuffer(); // bytes wait: nothing happens
    QCOMPARE(io->bytesAvailable(), 4);
    // Read into a buffer (read(4) as a QByteArray would take the chunk with it).
    char rest[4];
    QCOMPARE(io->read(rest, 4), 4);
    QCOMPARE(QByteArray(rest, 4), QByteArray("cdef"));
    QCOMPARE(io->bytesAvailable(), 0);

    // Qt kept its 16 KiB chunk; releasing gives it back to the heap.
    const std::size_t before = heapInUse();
    m_server->releaseReadBuffer();
    const std::size_t after = heapInUse();
    QVERIFY2(before >= after + 16 * 1024,
             qPrintable(QStringLiteral("heap in use %1 -> %2").arg(before).arg(after)));
    QCOMPARE(io->bytesAvailable(), 0);
    QCOMPARE(io->state(), QAbstractSocket::ConnectedState);

    // A second release with nothing read since costs nothing and changes nothing.
    m_server->releaseReadBuffer();
    QCOMPARE(io->bytesAvailable(), 0);

    // The next read allocates a chunk again and gets every byte, in order.
    sendAndWaitForRead("ghij");
    QCOMPARE(io->readAll(), QByteArray("ghij"));

    // Bytes put back in front (the upgrader gives early frames back that way) stay.
    sendAndWaitForRead("lm");
    io->ungetChar('k');
    m_server->releaseReadBuffer();
    QCOMPARE(io->readAll(), QByteArray("klm"));
}

void TestClientSocket::webSocketFramesSplitByteByByte()
{
    FrameCollector frames(m_server, m_owner.get());

    // One read per byte: the header, the length, the mask and the payload each end a read with
    // Qt's buffer empty (the chunk released) or holding a partial field.
    const QByteArray text = QByteArray("split \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 ")
                                .repeated(12); // > 125 bytes: the 16-bit length form
    const QByteArray frame = maskedFrame(0x1, text);
    for (qsizetype i = 0; i < frame.size(); ++i)
        sendAndWaitForRead(frame.sliced(i, 1));
    QTRY_COMPARE(frames.texts.count(), 1);
    QCOMPARE(frames.texts.at(0), text);

    // An empty pong (nothing read as a payload) and a fragmented message around it, byte by
    // byte again.
    const QByteArray more = maskedFrame(0x1, "first half, ", false) + maskedFrame(0xA, {})
        + maskedFrame(0x0, "second half");
    for (qsizetype i = 0; i < more.size(); ++i)
        sendAndWaitForRead(more.sliced(i, 1));
    QTRY_COMPARE(frames.texts.count(), 2);
    QCOMPARE(frames.texts.at(1), QByteArray("first half, second half"));
    QCOMPARE(frames.pongs, 1);
    QCOMPARE(frames.reader.bufferedBytes(), 0);
    QVERIFY(frames.failures.isEmpty());
    QCOMPARE(m_server->io()->bytesAvailable(), 0);
}

void TestClientSocket::webSocketPipelinedAndLargeMessages()
{
    FrameCollector frames(m_server, m_owner.get());

    // Pipelined: three messages and an empty ping in one write, then one with a payload of
    // 1 MiB, far more than one read (Qt's chunk is 16 KiB, the kernel hands out less at once).
    QByteArray large(1024 * 1024, Qt::Uninitialized);
    for (qsizetype i = 0; i < large.size(); ++i)
        large[i] = char(i * 7 + i / 251);
    m_peer->write(maskedFrame(0x1, "one") + maskedFrame(0x9, {}) + maskedFrame(0x1, "two")
                  + maskedFrame(0x2, "three") + maskedFrame(0x2, large));
    QTRY_COMPARE_WITH_TIMEOUT(frames.binaries.count(), 2, 10000);
    QCOMPARE(frames.texts, QByteArrayList({"one", "two"}));
    QCOMPARE(frames.binaries.at(0), QByteArray("three"));
    QCOMPARE(frames.binaries.at(1), large);
    // The server answered the ping; the message after it arrives too.
    QTRY_VERIFY(m_peer->bytesAvailable() >= 2);
    QCOMPARE(m_peer->read(2), QByteArray("\x8a\x00", 2));
    m_peer->write(maskedFrame(0x1, "after"));
    QTRY_COMPARE(frames.texts.count(), 3);
    QCOMPARE(frames.texts.at(2), QByteArray("after"));
    QCOMPARE(frames.reader.bufferedBytes(), 0);
    QVERIFY(frames.failures.isEmpty());
}

namespace {

// Frame n of a test: its number and `size` bytes that depend on it, so a lost, doubled or
// reordered part shows.
QByteArray numberedFrame(int n, qsizetype size)
{
    QByteArray frame = QByteArray::number(n).rightJustified(6, '0') + ':';
    frame.reserve(size);
    while (frame.size() < size)
        frame.append(char('a' + (n + frame.size()) % 26));
    return frame;
}

} // namespace

void TestClientSocket::queuedFramesArriveInOrder()
{
    // More than one sendmsg() takes (MaxQueuedFrames), then a write of the socket's own (as
    // QWebSocket writes a pong) while frames wait: it goes behind them.
    constexpr int Frames = int(ClientSocket::MaxQueuedFrames) * 3 + 5;
    QByteArray expected;
    qint64 waiting = 0;
    for (int n = 0; n < Frames; ++n) {
        const QByteArray frame = numberedFrame(n, 100 + n);
        QVERIFY(m_server->queueFrame(frame));
        expected += frame;
        waiting += frame.size();
        // The one after MaxQueuedFrames sends those in one write (loopback takes them all) and
        // waits alone.
        if (n > 0 && n % int(ClientSocket::MaxQueuedFrames) == 0)
            waiting = frame.size();
        QCOMPARE(m_server->queuedBytes(), waiting);
    }
    QCOMPARE(m_server->io()->write("tail"), 4);
    expected += "tail";
    QCOMPARE(m_server->queuedBytes(), 0);
    QVERIFY(m_server->queueFrame("last"));
    expected += "last";
    m_server->sendQueued();
    QCOMPARE(m_server->queuedBytes(), 0);
    QCOMPARE(readFromPeer(expected.size()), expected);
}

void TestClientSocket::queuedFramesToAPeerThatDoesNotRead()
{
    // Small kernel buffers, and no event loop (so no read) until the end: a sendmsg() of the
    // queued frames is taken in part, the rest (from the middle of a frame) waits in Qt's
    // buffer, and what is queued later goes behind it.
    const int small = 32 * 1024;
    const int fd = int(m_server->io()->socketDescriptor());
    QCOMPARE(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    QCOMPARE(
        ::setsockopt(int(m_peer->socketDescriptor()), SOL_SOCKET, SO_RCVBUF, &small, sizeof small),
        0);
    QByteArray expected;
    qint64 total = 0;
    for (int n = 0; n < 20; ++n) {
        const QByteArray frame = numberedFrame(n, 64 * 1024 + n);
        QVERIFY(m_server->queueFrame(frame));
        expected += frame;
        total += frame.size();
    }
    m_server->sendQueued();
    const qint64 left = m_server->queuedBytes();
    QVERIFY2(left > 0 && left < total, qPrintable(QStringLiteral("%1 of %2").arg(left).arg(total)));
    for (int n = 20; n < 30; ++n) {
        const QByteArray frame = numberedFrame(n, 1000);
        QVERIFY(m_server->queueFrame(frame));
        expected += frame;
        total += frame.size();
    }
    QCOMPARE(m_server->queuedBytes(), left + 10 * 1000);
    m_server->sendQueued();

    // The peer reads once the event loop runs; Qt's write notifier sends the rest.
    const QByteArray got = readFromPeer(expected.size());
    QCOMPARE(got.size(), expected.size());
    QVERIFY(got == expected);
    QTRY_COMPARE(m_server->queuedBytes(), 0);
}

void TestClientSocket::queuedFramesCountAgainstTheLimit()
{
    // Nothing is sent until sendQueued(): the frames waiting here fill the queue.
    m_server->setQueueLimit(1000);
    qint64 refusedQueued = -1;
    qint64 refusedSize = -1;
    m_server->onQueueOverflow([&](qint64 queued, qint64 refused) {
        refusedQueued = queued;
        refusedSize = refused;
    });
    for (int n = 0; n < 9; ++n)
        QVERIFY(m_server->queueFrame(numberedFrame(n, 100)));
    QCOMPARE(m_server->queuedBytes(), 900);
    QVERIFY(m_server->hasRoomFor(100));
    QVERIFY(!m_server->hasRoomFor(101));
    QVERIFY(!m_server->queueFrame(numberedFrame(9, 101)));
    QVERIFY(m_server->hasOverflowed());
    QTRY_COMPARE(refusedSize, 101);
    QCOMPARE(refusedQueued, 900);
    // Refused from now on, even what would fit.
    QVERIFY(!m_server->queueFrame("x"));
    QCOMPARE(m_server->queuedBytes(), 900);
}

void TestClientSocket::handshakeResponseLeavesWithTheGreeting()
{
    // The Upgrader queues the 101 as a frame; the greeting goes behind it and both leave with
    // the flush, in one write.
    const QByteArray response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\n\r\n";
    QVERIFY(m_server->queueFrame(response));
    QCOMPARE(m_server->queuedBytes(), response.size());
    const QByteArray greeting = numberedFrame(1, 90);
    QVERIFY(m_server->queueFrame(greeting));
    QCOMPARE(m_server->queuedBytes(), response.size() + greeting.size());
    m_server->sendQueued();
    QCOMPARE(m_server->queuedBytes(), 0);
    QCOMPARE(readFromPeer(response.size() + greeting.size()), response + greeting);

    // A write of the socket's own (a close frame) goes behind what is queued.
    QVERIFY(m_server->queueFrame(response));
    QCOMPARE(m_server->io()->write("close"), 5);
    QCOMPARE(readFromPeer(response.size() + 5), response + "close");
}

void TestClientSocket::closedDescriptorIsNotWrittenAgain_data()
{
    QTest::addColumn<QString>("how");
    QTest::newRow("the peer closes") << u"peer-close"_s;
    QTest::newRow("the peer resets") << u"peer-reset"_s;
    QTest::newRow("abort()") << u"abort"_s;
    QTest::newRow("close()") << u"close"_s;
    QTest::newRow("disconnectFromHost()") << u"disconnect"_s;
    QTest::newRow("reset()") << u"reset"_s;
}

void TestClientSocket::closedDescriptorIsNotWrittenAgain()
{
    QFETCH(QString, how);
    // A write first, so that the socket has its descriptor at hand.
    QVERIFY(m_server->queueFrame("first"));
    m_server->sendQueued();
    QCOMPARE(readFromPeer(5), QByteArray("first"));
    const int fd = int(m_server->io()->socketDescriptor());
    QVERIFY(fd >= 0);

    if (how == u"peer-close") {
        m_peer->close();
    } else if (how == u"peer-reset") {
        const linger hard{1, 0};
        QCOMPARE(::setsockopt(int(m_peer->socketDescriptor()),
                              SOL_SOCKET,
                              SO_LINGER,
                              &hard,
                              sizeof hard),
                 0);
        m_peer->abort();
    } else if (how == u"abort") {
        m_server->io()->abort();
    } else if (how == u"close") {
        m_server->io()->close();
    } else if (how == u"disconnect") {
        m_server->io()->disconnectFromHost();
    } else {
        m_server->reset();
    }
    QTRY_COMPARE(m_server->io()->state(), QAbstractSocket::UnconnectedState);

    // The number goes to a new connection at once, as the acceptor would give it to a new
    // client: socketpair() takes the lowest free numbers, else a duplicate is made at it.
    int pair[2];
    QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    int writeEnd = pair[0];
    int readEnd = pair[1];
    if (readEnd == fd)
        std::swap(writeEnd, readEnd);
    int duplicate = -1;
    if (writeEnd != fd) {
        duplicate = ::fcntl(writeEnd, F_DUPFD_CLOEXEC, fd);
        QCOMPARE(duplicate, fd);
    }
    const auto unread = [readEnd] {
        int bytes = -1;
        return ::ioctl(readEnd, FIONREAD, &bytes) == 0 ? bytes : -1;
    };

    // Neither a queued frame nor a write of Qt's reaches it.
    (void)m_server->queueFrame("second");
    m_server->sendQueued();
    QCOMPARE(unread(), 0);
    (void)m_server->io()->write("third");
    QCOMPARE(unread(), 0);
    // (What is written on that number does arrive: the check can fail.)
    QCOMPARE(::send(fd, "x", 1, MSG_NOSIGNAL), 1);
    QCOMPARE(unread(), 1);
    if (duplicate >= 0)
        ::close(duplicate);
    ::close(pair[0]);
    ::close(pair[1]);
}

QTEST_GUILESS_MAIN(TestClientSocket)
#include "tst_clientsocket.moc"
