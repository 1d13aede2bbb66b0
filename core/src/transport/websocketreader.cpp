// SPDX-License-Identifier: MIT
#include "transport/websocketreader.h"

#include <QtEndian>

#include <cstring>

namespace Mtw::Internal {

namespace {

constexpr int OpContinuation = 0x0;
constexpr int OpText = 0x1;
constexpr int OpBinary = 0x2;
constexpr int OpClose = 0x8;
constexpr int OpPing = 0x9;
constexpr int OpPong = 0xa;

constexpr qsizetype MaxControlPayload = 125;

// RFC 6455 section 5.3, eight bytes at a time.
void unmask(char *out, const char *in, qsizetype size, const uchar *key)
{
    quint32 key32;
    std::memcpy(&key32, key, sizeof key32);
    const quint64 key64 = (quint64(key32) << 32) | key32;
    qsizetype i = 0;
    for (; i + 8 <= size; i += 8) {
        quint64 word;
        std::memcpy(&word, in + i, sizeof word);
        word ^= key64;
        std::memcpy(out + i, &word, sizeof word);
    }
    for (; i < size; ++i)
        out[i] = char(in[i] ^ char(key[i & 3]));
}

QByteArray controlFrame(int opcode, QByteArrayView payload)
{
    const qsizetype size = std::min(payload.size(), MaxControlPayload);
    QByteArray frame;
    frame.reserve(2 + size);
    frame.append(char(0x80 | opcode));
    frame.append(char(size));
    frame.append(payload.first(size));
    return frame;
}

bool isContinuationByte(char c)
{
    return (uchar(c) & 0xc0) == 0x80;
}

} // namespace

bool isValidCloseCode(quint16 code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
}

bool Utf8Validator::feed(QByteArrayView bytes)
{
    const auto *p = reinterpret_cast<const uchar *>(bytes.data());
    const uchar *const end = p + bytes.size();
    while (p < end) {
        if (m_pending > 0) {
            const uchar c = *p++;
            if (c < m_low || c > m_high)
                return false;
            --m_pending;
            m_low = 0x80;
            m_high = 0xbf;
            continue;
        }
        // Between characters: ASCII eight bytes at a time (most JSON is ASCII).
        while (end - p >= 8) {
            quint64 word;
            std::memcpy(&word, p, sizeof word);
            if (word & 0x8080808080808080ULL)
                break;
            p += 8;
        }
        if (p == end)
            break;
        const uchar c = *p++;
        if (c < 0x80)
            continue;
        if (c < 0xc2) // a continuation byte, or the overlong C0/C1 leads
            return false;
        if (c < 0xe0) {
            m_pending = 1;
        } else if (c < 0xf0) {
            m_pending = 2;
            m_low = c == 0xe0 ? 0xa0 : 0x80;  // E0 80..9F would be overlong
            m_high = c == 0xed ? 0x9f : 0xbf; // ED A0..BF would be a surrogate
        } else if (c < 0xf5) {
            m_pending = 3;
            m_low = c == 0xf0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
            m_high = c == 0xf4 ? 0x8f : 0xbf; // F4 90.. would be above U+10FFFF
        } else {
            return false;
        }
    }
    return true;
}

void WebSocketReader::append(const QByteArray &bytes)
{
    if (m_failed || bytes.isEmpty())
        return;
    if (m_offset == m_buffer.size()) {
        m_buffer = bytes;
        m_offset = 0;
        return;
    }
    if (m_offset > 0) {
        m_buffer.remove(0, m_offset);
        m_offset = 0;
    }
    m_buffer.append(bytes);
}

void WebSocketReader::consume(qsizetype bytes)
{
    m_offset += bytes;
    if (m_offset == m_buffer.size()) { // all read: an idle connection holds no buffer
        m_buffer = QByteArray();
        m_offset = 0;
    }
}

WebSocketReader::Event WebSocketReader::fail(CloseCode code, QByteArray reason)
{
    m_failed = true;
    m_buffer = QByteArray();
    m_offset = 0;
    m_message = QByteArray();
    return Event{Kind::Failed, false, quint16(code), std::move(reason)};
}

WebSocketReader::Event WebSocketReader::control(int opcode, QByteArray payload)
{
    if (opcode == OpPing)
        return Event{Kind::Ping, false, 0, std::move(payload)};
    if (opcode == OpPong)
        return Event{Kind::Pong, false, 0, {}};
    // A Close: nothing, or a 2-byte code and a UTF-8 reason (RFC 6455 section 5.5.1).
    if (payload.isEmpty())
        return Event{Kind::Close, false, quint16(CloseCode::NoStatus), {}};
    if (payload.size() == 1)
        return fail(CloseCode::ProtocolError, "Close frame with a 1-byte body");
    const quint16 code = qFromBigEndian<quint16>(payload.constData());
    if (!isValidCloseCode(code))
        return fail(CloseCode::ProtocolError, "invalid close code " + QByteArray::number(code));
    QByteArray reason = payload.sliced(2);
    Utf8Validator utf8;
    if (!utf8.feed(reason) || !utf8.isComplete())
        return fail(CloseCode::InvalidPayload, "close reason is not valid UTF-8");
    return Event{Kind::Close, false, code, std::move(reason)};
}

WebSocketReader::Event WebSocketReader::next(qint64 maxMessageSize)
{
    while (!m_failed) {
        const qsizetype available = m_buffer.size() - m_offset;
        if (available < 2)
            return {};
        const auto *p = reinterpret_cast<const uchar *>(m_buffer.constData() + m_offset);
        const bool fin = p[0] & 0x80;
        const int opcode = p[0] & 0x0f;
        const bool isControl = opcode & 0x8;
        if (p[0] & 0x70)
            return fail(CloseCode::ProtocolError, "reserved bits set (no extension was agreed)");
        if (opcode != OpContinuation && opcode != OpText && opcode != OpBinary && opcode != OpClose
            && opcode != OpPing && opcode != OpPong) {
            return fail(CloseCode::ProtocolError, "unknown opcode " + QByteArray::number(opcode));
        }
        if (!(p[1] & 0x80))
            return fail(CloseCode::ProtocolError, "unmasked frame (a client must mask)");
        quint64 length = p[1] & 0x7f;
        qsizetype header = 2;
        if (length == 126) {
            if (available < 4)
                return {};
            length = qFromBigEndian<quint16>(p + 2);
            header = 4;
            if (length < 126)
                return fail(CloseCode::ProtocolError, "frame length not in its shortest form");
        } else if (length == 127) {
            if (available < 10)
                return {};
            length = qFromBigEndian<quint64>(p + 2);
            header = 10;
            if (length >> 63)
                return fail(CloseCode::ProtocolError, "frame length with its top bit set");
            if (length <= 0xffff)
                return fail(CloseCode::ProtocolError, "frame length not in its shortest form");
        }
        if (isControl) {
            if (!fin)
                return fail(CloseCode::ProtocolError, "fragmented control frame");
            if (length > quint64(MaxControlPayload))
                return fail(CloseCode::ProtocolError, "control frame longer than 125 bytes");
        } else {
            if (opcode == OpContinuation && !m_inMessage)
                return fail(CloseCode::ProtocolError, "continuation frame without a message");
            if (opcode != OpContinuation && m_inMessage)
                return fail(CloseCode::ProtocolError,
                            "new message before the final fragment of the last one");
            if (quint64(m_message.size()) + length > quint64(maxMessageSize)) {
                return fail(CloseCode::TooBig,
                            "message larger than max_message_size ("
                                + QByteArray::number(maxMessageSize) + " bytes)");
            }
        }
        if (quint64(available) < quint64(header) + 4 + length)
            return {}; // the rest of the frame has not arrived
        const uchar *const mask = p + header;
        const auto *const masked = reinterpret_cast<const char *>(mask + 4);
        QByteArray payload(qsizetype(length), Qt::Uninitialized);
        unmask(payload.data(), masked, qsizetype(length), mask);
        consume(header + 4 + qsizetype(length));

        if (isControl)
            return control(opcode, std::move(payload));
        if (opcode != OpContinuation) {
            m_inMessage = true;
            m_binary = opcode == OpBinary;
            m_utf8.reset();
        }
        if (!m_binary && !m_utf8.feed(payload))
            return fail(CloseCode::InvalidPayload, "invalid UTF-8 in a text message");
        if (m_message.isEmpty())
            m_message = std::move(payload);
        else
            m_message.append(payload);
        if (!fin)
            continue;
        if (!m_binary && !m_utf8.isComplete())
            return fail(CloseCode::InvalidPayload, "text message ends inside a UTF-8 character");
        m_inMessage = false;
        return Event{Kind::Message, m_binary, 0, std::exchange(m_message, QByteArray())};
    }
    return {};
}

QByteArray closeFrame(quint16 code, QByteArrayView reason)
{
    // 2 bytes of the code and at most 123 of the reason, not cut inside a character.
    qsizetype size = std::min<qsizetype>(reason.size(), MaxControlPayload - 2);
    if (size < reason.size()) {
        while (size > 0 && isContinuationByte(reason[size]))
            --size;
    }
    QByteArray payload(2, Qt::Uninitialized);
    qToBigEndian(code, payload.data());
    payload.append(reason.first(size));
    return controlFrame(OpClose, payload);
}

QByteArray pongFrame(QByteArrayView payload)
{
    return controlFrame(OpPong, payload);
}

const QByteArray &pingFrame()
{
    static const QByteArray frame = controlFrame(OpPing, {});
    return frame;
}

} // namespace Mtw::Internal
