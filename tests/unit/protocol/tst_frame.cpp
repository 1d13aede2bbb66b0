// SPDX-License-Identifier: MIT
#include <mtw/frame.h>

#include <QTest>

using namespace Mtw;

using namespace Qt::StringLiterals;

namespace {

// The failure of `result` for a QVERIFY2 message (which Qt evaluates even when the check passes).
QByteArray whyNot(const tl::expected<Frame, QString> &result)
{
    return result ? QByteArray() : result.error().toUtf8();
}

QByteArray hex(const char *text)
{
    return QByteArray::fromHex(text);
}

// A header with the given fields followed by `payloadSize` bytes of 'x'.
QByteArray rawFrame(const char *headerHex, qsizetype payloadSize)
{
    return hex(headerHex) + QByteArray(payloadSize, 'x');
}

} // namespace

class tst_Frame : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void encode_data();
    void encode();
    void roundTrip_data();
    void roundTrip();
    void trailingBytesIgnored();
    void maximumPayload();
    void decodeErrors_data();
    void decodeErrors();
    void payloadLimitIsTheCallers();
};

void tst_Frame::encode_data()
{
    QTest::addColumn<FrameType>("type");
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("json") << FrameType::Json << QByteArray("{}")
                          << hex("4d5457 01 01 00000002 7b7d");
    QTest::newRow("raw") << FrameType::Raw << QByteArray("\x00\xff", 2)
                         << hex("4d5457 01 02 00000002 00ff");
    QTest::newRow("ping") << FrameType::Ping << QByteArray() << hex("4d5457 01 03 00000000");
    QTest::newRow("pong") << FrameType::Pong << QByteArray() << hex("4d5457 01 04 00000000");
    QTest::newRow("big-endian length") << FrameType::Raw << QByteArray(0x010203, 'a')
                                       << hex("4d5457 01 02 00010203") + QByteArray(0x010203, 'a');
}

void tst_Frame::encode()
{
    QFETCH(FrameType, type);
    QFETCH(QByteArray, payload);
    QFETCH(QByteArray, expected);
    QCOMPARE(encodeFrame(type, payload), expected);
    QCOMPARE(encodeFrame(type, payload).size(), FrameHeaderSize + payload.size());
}

void tst_Frame::roundTrip_data()
{
    QTest::addColumn<FrameType>("type");
    QTest::addColumn<QByteArray>("payload");

    QTest::newRow("json")
        << FrameType::Json
        << QByteArray(R"({"id":"1","type":"ping","payload":{"kind":"None"},"timestamp":1})");
    QTest::newRow("raw binary") << FrameType::Raw << QByteArray("\x00\x01\x02\xff\x00", 5);
    QTest::newRow("raw empty") << FrameType::Raw << QByteArray();
    QTest::newRow("ping") << FrameType::Ping << QByteArray();
    QTest::newRow("ping with payload") << FrameType::Ping << QByteArray("hb");
    QTest::newRow("pong") << FrameType::Pong << QByteArray();
    QTest::newRow("1 MiB") << FrameType::Raw << QByteArray(1024 * 1024, 'z');
}

void tst_Frame::roundTrip()
{
    QFETCH(FrameType, type);
    QFETCH(QByteArray, payload);
    const auto frame = decodeFrame(encodeFrame(type, payload));
    QVERIFY2(frame, whyNot(frame).constData());
    QCOMPARE(frame->type, type);
    QCOMPARE(frame->payload, payload);
}

void tst_Frame::trailingBytesIgnored()
{
    const QByteArray data = encodeFrame(FrameType::Json, "abc") + "trailing";
    const auto frame = decodeFrame(data);
    QVERIFY2(frame, whyNot(frame).constData());
    QCOMPARE(frame->type, FrameType::Json);
    QCOMPARE(frame->payload, QByteArray("abc"));

    const auto empty = decodeFrame(encodeFrame(FrameType::Ping) + "xyz");
    QVERIFY2(empty, whyNot(empty).constData());
    QCOMPARE(empty->type, FrameType::Ping);
    QVERIFY(empty->payload.isEmpty());
}

void tst_Frame::maximumPayload()
{
    const QByteArray payload(MaxFramePayload, 'm');
    const QByteArray data = encodeFrame(FrameType::Raw, payload);
    QCOMPARE(data.mid(5, 4), hex("00a00000"));
    const auto frame = decodeFrame(data);
    QVERIFY2(frame, whyNot(frame).constData());
    QCOMPARE(frame->payload.size(), MaxFramePayload);
}

void tst_Frame::decodeErrors_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QString>("error");

    QTest::newRow("empty") << QByteArray()
                           << QStringLiteral("frame too short: 0 bytes, the header alone is 9");
    QTest::newRow("8 bytes") << hex("4d5457010100000000").first(8)
                             << QStringLiteral("frame too short: 8 bytes, the header alone is 9");
    QTest::newRow("bad magic") << rawFrame("4d5458 01 01 00000000", 0)
                               << QStringLiteral(
                                      "bad frame magic 4D 54 58, expected 4D 54 57 (\"MTW\")");
    QTest::newRow("lower-case magic")
        << rawFrame("6d7477 01 01 00000000", 0)
        << QStringLiteral("bad frame magic 6D 74 77, expected 4D 54 57 (\"MTW\")");
    QTest::newRow("version 0") << rawFrame("4d5457 00 01 00000000", 0)
                               << QStringLiteral("unsupported frame version 0, expected 1");
    QTest::newRow("version 2") << rawFrame("4d5457 02 01 00000000", 0)
                               << QStringLiteral("unsupported frame version 2, expected 1");
    QTest::newRow("type 0x00") << rawFrame("4d5457 01 00 00000000", 0)
                               << QStringLiteral("unknown frame type 0x00");
    QTest::newRow("type 0x05") << rawFrame("4d5457 01 05 00000000", 0)
                               << QStringLiteral("unknown frame type 0x05");
    QTest::newRow("type 0xAB") << rawFrame("4d5457 01 ab 00000000", 0)
                               << QStringLiteral("unknown frame type 0xAB");
    QTest::newRow("10 MiB + 1") << rawFrame(
        "4d5457 01 02 00a00001",
        0) << QStringLiteral("frame payload length 10485761 exceeds the limit of 10485760 bytes");
    QTest::newRow("u32 max")
        << rawFrame("4d5457 01 01 ffffffff", 16)
        << QStringLiteral("frame payload length 4294967295 exceeds the limit of 10485760 bytes");
    QTest::newRow("truncated") << rawFrame("4d5457 01 01 0000000a", 3)
                               << QStringLiteral(
                                      "truncated frame: header says 10 bytes, 3 present");
    QTest::newRow("header only") << rawFrame("4d5457 01 03 00000001", 0)
                                 << QStringLiteral(
                                        "truncated frame: header says 1 bytes, 0 present");
}

void tst_Frame::decodeErrors()
{
    QFETCH(QByteArray, data);
    QFETCH(QString, error);
    const auto frame = decodeFrame(data);
    QVERIFY(!frame);
    QCOMPARE(frame.error(), error);
}

// The server passes transport.websocket.max_message_size: one limit for text and MTW frames.
void tst_Frame::payloadLimitIsTheCallers()
{
    const QByteArray big = encodeFrame(FrameType::Raw, QByteArray(12 * 1024 * 1024, 'b'));
    QVERIFY(!decodeFrame(big)); // over the 10 MiB default
    const auto accepted = decodeFrame(big, 20 * 1024 * 1024);
    QVERIFY2(accepted, qPrintable(accepted ? QString() : accepted.error()));
    QCOMPARE(accepted->payload.size(), 12 * 1024 * 1024);
    const auto refused = decodeFrame(encodeFrame(FrameType::Json, "{\"a\":1234567}"), 8);
    QVERIFY(!refused);
    QCOMPARE(refused.error(), u"frame payload length 13 exceeds the limit of 8 bytes"_s);
}

QTEST_GUILESS_MAIN(tst_Frame)
#include "tst_frame.moc"
