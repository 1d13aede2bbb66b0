// SPDX-License-Identifier: MIT
#include <mtw/frame.h>

#include <QtEndian>

namespace Mtw {

namespace {

constexpr char Magic[3] = {'M', 'T', 'W'};
constexpr quint8 FrameVersion = 0x01;

QString hexBytes(QByteArrayView bytes)
{
    return QString::fromLatin1(bytes.toByteArray().toHex(' ').toUpper());
}

} // namespace

QByteArray encodeFrame(FrameType type, QByteArrayView payload)
{
    QByteArray frame(FrameHeaderSize + payload.size(), Qt::Uninitialized);
    char *out = frame.data();
    out[0] = Magic[0];
    out[1] = Magic[1];
    out[2] = Magic[2];
    out[3] = static_cast<char>(FrameVersion);
    out[4] = static_cast<char>(type);
    qToBigEndian(static_cast<quint32>(payload.size()), out + 5);
    if (!payload.isEmpty())
        memcpy(out + FrameHeaderSize, payload.data(), payload.size());
    return frame;
}

tl::expected<Frame, QString> decodeFrame(QByteArrayView data, qint64 maxPayload)
{
    if (data.size() < FrameHeaderSize) {
        return tl::unexpected(QStringLiteral("frame too short: %1 bytes, the header alone is %2")
                                  .arg(data.size())
                                  .arg(FrameHeaderSize));
    }
    if (data.first(3) != QByteArrayView(Magic, 3)) {
        return tl::unexpected(QStringLiteral("bad frame magic %1, expected 4D 54 57 (\"MTW\")")
                                  .arg(hexBytes(data.first(3))));
    }
    const auto version = static_cast<quint8>(data[3]);
    if (version != FrameVersion) {
        return tl::unexpected(QStringLiteral("unsupported frame version %1, expected %2")
                                  .arg(version)
                                  .arg(FrameVersion));
    }
    const auto typeByte = static_cast<quint8>(data[4]);
    if (typeByte < quint8(FrameType::Json) || typeByte > quint8(FrameType::Pong)) {
        return tl::unexpected(
            QStringLiteral("unknown frame type 0x%1").arg(hexBytes(data.sliced(4, 1))));
    }
    const qint64 length = qFromBigEndian<quint32>(data.data() + 5);
    if (length > maxPayload) {
        return tl::unexpected(
            QStringLiteral("frame payload length %1 exceeds the limit of %2 bytes")
                .arg(length)
                .arg(maxPayload));
    }
    const qint64 present = data.size() - FrameHeaderSize;
    if (length > present) {
        return tl::unexpected(QStringLiteral("truncated frame: header says %1 bytes, %2 present")
                                  .arg(length)
                                  .arg(present));
    }
    return Frame{static_cast<FrameType>(typeByte),
                 data.sliced(FrameHeaderSize, qsizetype(length)).toByteArray()};
}

} // namespace Mtw
