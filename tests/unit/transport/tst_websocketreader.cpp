// SPDX-License-Identifier: MIT
// WebSocketReader, the frames a client sends (RFC 6455 section 5), without a socket: the same
// events whether the bytes come at once or one at a time, every rule of a client's frames
// failing with the code it calls for, the message limit applied from the header on (nothing
// of an oversize payload held), and UTF-8 checked across fragments the way Qt's decoder
// judges whole strings. The server-side behaviour over real sockets is the conformance suite's
// (tests/conformance/test_rfc6455.py).
#include "transport/websocketreader.h"

#include <QRandomGenerator>
#include <QStringDecoder>
#include <QTest>

using Mtw::Internal::CloseCode;
using Mtw::Internal::Utf8Validator;
using Mtw::Internal::WebSocketReader;
using Kind = WebSocketReader::Kind;

namespace {

QByteArray frame(int opcode,
                 const QByteArray &payload,
                 bool fin = true,
                 bool masked = true,
                 int lengthForm = 0) // 0: the shortest, else 16 or 64
{
    QByteArray out;
    out.append(char((fin ? 0x80 : 0) | opcode));
    const qsizetype n = payload.size();
    const char maskBit = masked ? char(0x80) : char(0);
    if (lengthForm == 0 && n < 126) {
        out.append(char(maskBit | n));
    } else if (lengthForm == 16 || (lengthForm == 0 && n < 65536)) {
        out.append(char(maskBit | 126)).append(char(n >> 8)).append(char(n & 0xff));
    } else {
        out.append(char(maskBit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.append(char((quint64(n) >> shift) & 0xff));
    }
    const char key[4] = {char(0x9a), 0x13, char(0xe7), 0x42};
    if (masked)
        out.append(key, 4);
    for (qsizetype i = 0; i < n; ++i)
        out.append(masked ? char(payload.at(i) ^ key[i % 4]) : payload.at(i));
    return out;
}

QByteArray closeBody(quint16 code, const QByteArray &reason = {})
{
    return QByteArray(1, char(code >> 8)) + char(code & 0xff) + reason;
}

struct Seen
{
    Kind kind;
    bool binary;
    quint16 code;
    QByteArray payload;
    bool operator==(const Seen &) const = default;
};

// Every event of `bytes`, appended in pieces of `step` bytes (0: all at once).
QList<Seen> read(const QByteArray &bytes, qsizetype step = 0, qint64 limit = 1 << 20)
{
    WebSocketReader reader;
    QList<Seen> seen;
    const qsizetype piece = step > 0 ? step : std::max<qsizetype>(bytes.size(), 1);
    for (qsizetype at = 0; at < bytes.size(); at += piece) {
        reader.append(bytes.mid(at, piece));
        for (auto event = reader.next(limit); event.kind != Kind::None;
             event = reader.next(limit)) {
            seen.append({event.kind, event.binary, event.code, event.payload});
        }
    }
    return seen;
}

// Qt's verdict on a whole string: the reference the validator must agree with.
bool qtSaysValid(const QByteArray &bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString decoded = decoder(bytes); // decode() alone converts nothing until used
    return !decoded.isNull() && !decoder.hasError();
}

} // namespace

class TestWebSocketReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void messagesAndControlFrames();
    void sameEventsByteByByte();
    void rulesFailWithTheirCode_data();
    void rulesFailWithTheirCode();
    void closeBodies_data();
    void closeBodies();
    void limitHoldsBeforeThePayload();
    void limitCountsTheWholeMessage();
    void failedReaderTakesNothingMore();
    void idleReaderHoldsNothing();
    void utf8AgreesWithQt();
    void utf8AcrossFragments();
    void closeFrameFitsAControlFrame();
};

void TestWebSocketReader::messagesAndControlFrames()
{
    const QByteArray bytes = frame(0x1, "hello") + frame(0x9, "p")
        + frame(0x2, QByteArray("\xff\x00", 2)) + frame(0x1, "frag", false) + frame(0xa, {})
        + frame(0x0, "men", false) + frame(0x0, "ted") + frame(0x8, closeBody(1000, "bye"));
    const QList<Seen> expected{
        {Kind::Message, false, 0, "hello"},
        {Kind::Ping, false, 0, "p"},
        {Kind::Message, true, 0, QByteArray("\xff\x00", 2)},
        {Kind::Pong, false, 0, {}},
        {Kind::Message, false, 0, "fragmented"},
        {Kind::Close, false, 1000, "bye"},
    };
    QCOMPARE(read(bytes), expected);
}

void TestWebSocketReader::sameEventsByteByByte()
{
    QByteArray large(70000, Qt::Uninitialized); // the 64-bit length form
    for (qsizetype i = 0; i < large.size(); ++i)
        large[i] = char('a' + i % 26);
    const QByteArray bytes = frame(0x1, QByteArray(200, 'x')) + frame(0x2, large)
        + frame(0x1, "\xce\xba\xe1", false) + frame(0x9, {}) + frame(0x0, "\xbd\xb9")
        + frame(0x1, {});
    const QList<Seen> whole = read(bytes);
    QCOMPARE(whole.size(), 5);
    QCOMPARE(whole.at(1).payload, large);
    QCOMPARE(whole.at(3).payload, QByteArray("\xce\xba\xe1\xbd\xb9"));
    for (qsizetype step : {1, 2, 3, 7, 125, 4096})
        QCOMPARE(read(bytes, step), whole);
}

void TestWebSocketReader::rulesFailWithTheirCode_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("code");
    const int protocol = int(CloseCode::ProtocolError);
    QTest::newRow("unmasked") << frame(0x1, "x", true, false) << protocol;
    QTest::newRow("unmasked ping") << frame(0x9, {}, true, false) << protocol;
    for (int rsv : {0x10, 0x20, 0x40, 0x70}) {
        QByteArray f = frame(0x1, "x");
        f[0] = char(f[0] | rsv);
        QTest::addRow("rsv %x", rsv) << f << protocol;
    }
    for (int opcode : {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf})
        QTest::addRow("opcode %x", opcode) << frame(opcode, "x") << protocol;
    QTest::newRow("fragmented ping") << frame(0x9, "x", false) << protocol;
    QTest::newRow("ping of 126") << frame(0x9, QByteArray(126, 'x')) << protocol;
    QTest::newRow("continuation first") << frame(0x0, "x") << protocol;
    QTest::newRow("new message inside one") << frame(0x1, "a", false) + frame(0x1, "b") << protocol;
    QTest::newRow("length not shortest (16)") << frame(0x1, "short", true, true, 16) << protocol;
    QTest::newRow("length not shortest (64)")
        << frame(0x1, QByteArray(300, 'x'), true, true, 64) << protocol;
    QByteArray topBit = frame(0x2, {}, true, true, 64);
    topBit[2] = char(0x80);
    QTest::newRow("length top bit") << topBit << protocol;
    QTest::newRow("invalid UTF-8") << frame(0x1, "\xc0\xaf") << int(CloseCode::InvalidPayload);
    QTest::newRow("invalid UTF-8 in a first fragment")
        << frame(0x1, "ok \xed\xa0\x80", false) << int(CloseCode::InvalidPayload);
    QTest::newRow("text ends inside a character")
        << frame(0x1, "\xe2\x82", false) + frame(0x0, {}) << int(CloseCode::InvalidPayload);
    QTest::newRow("over the limit") << frame(0x1, QByteArray(1025, 'x')) << int(CloseCode::TooBig);
}

void TestWebSocketReader::rulesFailWithTheirCode()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, code);
    for (qsizetype step : {0, 1}) {
        const QList<Seen> seen = read(bytes, step, 1024);
        QCOMPARE(seen.size(), 1);
        QCOMPARE(seen.at(0).kind, Kind::Failed);
        QCOMPARE(int(seen.at(0).code), code);
        QVERIFY(!seen.at(0).payload.isEmpty()); // a reason to log and send
    }
}

void TestWebSocketReader::closeBodies_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("code");
    QTest::newRow("empty") << QByteArray() << int(Kind::Close) << int(CloseCode::NoStatus);
    QTest::newRow("1 byte") << QByteArray("\x03") << int(Kind::Failed) << 1002;
    for (int valid : {1000, 1001, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999})
        QTest::addRow("%d", valid) << closeBody(quint16(valid)) << int(Kind::Close) << valid;
    for (int invalid : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
        QTest::addRow("%d", invalid) << closeBody(quint16(invalid)) << int(Kind::Failed) << 1002;
    QTest::newRow("reason not UTF-8")
        << closeBody(1000, "\xce\xba\xed\xa0\x80") << int(Kind::Failed) << 1007;
}

void TestWebSocketReader::closeBodies()
{
    QFETCH(QByteArray, body);
    QFETCH(int, kind);
    QFETCH(int, code);
    const QList<Seen> seen = read(frame(0x8, body));
    QCOMPARE(seen.size(), 1);
    QCOMPARE(int(seen.at(0).kind), kind);
    QCOMPARE(int(seen.at(0).code), code);
}

void TestWebSocketReader::limitHoldsBeforeThePayload()
{
    // A header that announces 2^40 bytes fails at once: nothing waits for the payload.
    QByteArray header("\x82\xff", 2);
    for (int shift = 56; shift >= 0; shift -= 8)
        header.append(char((quint64(1) << 40 >> shift) & 0xff));
    header.append("\x01\x02\x03\x04");
    WebSocketReader reader;
    reader.append(header);
    const auto event = reader.next(64 * 1024);
    QCOMPARE(event.kind, Kind::Failed);
    QCOMPARE(event.code, quint16(CloseCode::TooBig));
    QVERIFY(event.payload.contains("65536"));
    QCOMPARE(reader.bufferedBytes(), 0);
}

void TestWebSocketReader::limitCountsTheWholeMessage()
{
    // Exactly at the limit passes; fragments that together go over fail at the fragment that
    // does, and a lower limit holds from the next frame on.
    QCOMPARE(read(frame(0x2, QByteArray(1024, 'x')), 0, 1024).at(0).kind, Kind::Message);
    const QByteArray three = frame(0x2, QByteArray(400, 'x'), false)
        + frame(0x0, QByteArray(400, 'y'), false) + frame(0x0, QByteArray(400, 'z'));
    const QList<Seen> seen = read(three, 0, 1024);
    QCOMPARE(seen.size(), 1);
    QCOMPARE(seen.at(0).code, quint16(CloseCode::TooBig));

    WebSocketReader reader;
    reader.append(frame(0x2, QByteArray(600, 'a')) + frame(0x2, QByteArray(600, 'b')));
    QCOMPARE(reader.next(1024).kind, Kind::Message);
    QCOMPARE(reader.next(512).kind, Kind::Failed);
}

void TestWebSocketReader::failedReaderTakesNothingMore()
{
    WebSocketReader reader;
    reader.append(frame(0x1, "x", true, false) + frame(0x1, "after"));
    QCOMPARE(reader.next(1024).kind, Kind::Failed);
    QVERIFY(reader.hasFailed());
    QCOMPARE(reader.next(1024).kind, Kind::None);
    reader.append(frame(0x1, "more"));
    QCOMPARE(reader.next(1024).kind, Kind::None);
    QCOMPARE(reader.bufferedBytes(), 0);
}

void TestWebSocketReader::idleReaderHoldsNothing()
{
    // Between messages a connection's reader keeps no heap: its buffer goes with the last
    // complete frame, and a partial frame keeps only itself.
    WebSocketReader reader;
    const QByteArray bytes = frame(0x1, "one") + frame(0x1, "two");
    reader.append(bytes.first(bytes.size() - 2));
    QCOMPARE(reader.next(1024).payload, QByteArray("one"));
    QCOMPARE(reader.next(1024).kind, Kind::None);
    QCOMPARE(reader.bufferedBytes(), frame(0x1, "two").size() - 2);
    reader.append(bytes.last(2));
    QCOMPARE(reader.next(1024).payload, QByteArray("two"));
    QCOMPARE(reader.bufferedBytes(), 0);
    QCOMPARE(sizeof(WebSocketReader) <= 80, true);
}

void TestWebSocketReader::utf8AgreesWithQt()
{
    // Random strings of whole characters and of the edge values of every UTF-8 byte range: the
    // validator's verdict, fed whole or in random pieces, is Qt's decoder's.
    static const uchar interesting[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                        0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
                                        0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff};
    QRandomGenerator random(20261203);
    int valid = 0;
    for (int round = 0; round < 20000; ++round) {
        QByteArray bytes;
        const int parts = random.bounded(1, 7);
        for (int i = 0; i < parts; ++i) {
            if (random.bounded(3) == 0) { // a byte of the edges
                bytes.append(char(interesting[random.bounded(int(sizeof interesting))]));
                continue;
            }
            // or a whole character of 1 to 4 bytes (U+FFFF and other noncharacters included)
            static const char32_t limits[] = {0x80, 0x800, 0x10000, 0x110000};
            char32_t c = char32_t(random.bounded(quint32(limits[random.bounded(4)])));
            if (c >= 0xd800 && c <= 0xdfff)
                c = 0xfffe;
            bytes.append(QString::fromUcs4(&c, 1).toUtf8());
        }
        const bool expected = qtSaysValid(bytes);
        valid += expected;
        Utf8Validator whole;
        QVERIFY2((whole.feed(bytes) && whole.isComplete()) == expected, bytes.toHex().constData());
        Utf8Validator pieces;
        bool ok = true;
        for (qsizetype at = 0; at < bytes.size() && ok;) {
            const qsizetype n = random.bounded(1, 4);
            ok = pieces.feed(QByteArrayView(bytes).sliced(at, std::min(n, bytes.size() - at)));
            at += n;
        }
        QVERIFY2((ok && pieces.isComplete()) == expected, bytes.toHex().constData());
    }
    QVERIFY2(valid > 2000 && valid < 18000, qPrintable(QString::number(valid))); // both kinds
}

void TestWebSocketReader::utf8AcrossFragments()
{
    // A character cut between fragments, and a long ASCII run (the 8-byte path) around a
    // 4-byte one.
    const QByteArray text = QByteArray(37, 'a') + "\xf0\x9f\x98\x80" + QByteArray(29, 'b');
    for (qsizetype cut = 1; cut < text.size(); ++cut) {
        const QList<Seen> seen =
            read(frame(0x1, text.first(cut), false) + frame(0x0, text.sliced(cut)));
        QCOMPARE(seen.size(), 1);
        QCOMPARE(seen.at(0).payload, text);
    }
    QVERIFY(read(frame(0x1, QByteArray(20, 'a') + "\xf4\x90\x80\x80")).at(0).kind == Kind::Failed);
}

void TestWebSocketReader::closeFrameFitsAControlFrame()
{
    // 2 bytes of code, at most 123 of reason, never cut inside a character.
    const QByteArray reason = QByteArray(122, 'r') + "\xc3\xa9" + "tail";
    const QByteArray close = Mtw::Internal::closeFrame(1001, reason);
    QCOMPARE(uchar(close.at(0)), uchar(0x88));
    QCOMPARE(int(close.at(1)), 2 + 122);
    QCOMPARE(close.sliced(2, 2), QByteArray("\x03\xe9"));
    QCOMPARE(close.sliced(4), QByteArray(122, 'r'));
    QCOMPARE(Mtw::Internal::closeFrame(1000, "bye"),
             QByteArray("\x88\x05\x03\xe8"
                        "bye"));
}

QTEST_APPLESS_MAIN(TestWebSocketReader)
#include "tst_websocketreader.moc"
