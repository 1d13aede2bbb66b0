// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QByteArrayView>

namespace Mtw::Internal {

// RFC 6455 section 7.4.1: the close codes the server sends by itself.
enum class CloseCode : quint16 {
    Normal = 1000,
    GoingAway = 1001,
    ProtocolError = 1002,
    NoStatus = 1005, // never sent: what a Close without a body means
    InvalidPayload = 1007,
    PolicyViolated = 1008,
    TooBig = 1009,
};

// True for a code a peer may send in a Close frame (RFC 6455 section 7.4 and the IANA
// registry): 1000-1003, 1007-1014 and 3000-4999. 1004-1006 and 1015 are reserved or never sent.
bool isValidCloseCode(quint16 code);

// Checks UTF-8 as it arrives, fragment by fragment (RFC 6455 section 8.1: a text message may
// be split inside a character; an invalid byte fails the connection at once, without waiting
// for the rest). Strict: no overlong forms, no surrogates, nothing above U+10FFFF.
class Utf8Validator
{
public:
    // False at the first byte that cannot be part of valid UTF-8.
    bool feed(QByteArrayView bytes);
    // No character is cut off at the end of what was fed.
    bool isComplete() const { return m_pending == 0; }
    void reset()
    {
        m_pending = 0;
        m_low = 0x80;
        m_high = 0xbf;
    }

private:
    int m_pending = 0;    // continuation bytes still expected
    quint8 m_low = 0x80;  // the range of the next continuation byte (narrower for the first
    quint8 m_high = 0xbf; // one after E0, ED, F0, F4)
};

// The frames a client sends, bytes in and events out (RFC 6455 section 5): unmasks, joins
// fragments, answers nothing itself. A client's frames must be masked, control frames short
// and whole, lengths minimal, reserved bits clear (no extension is negotiated) and text valid
// UTF-8; the first frame that breaks a rule fails the reader for good, with the close code and
// the reason to send. A data frame whose length would take its message over the limit fails
// as soon as its header is in, before its payload arrives: nothing larger than one message's
// limit plus what one read brings is ever held.
//
// Plain value, no Qt object: one lives in every connection, and an idle one holds no heap.
class WebSocketReader
{
public:
    enum class Kind {
        None,    // nothing complete yet (or the reader has failed before)
        Message, // a complete text (UTF-8 checked) or binary message
        Ping,    // payload: to send back in a Pong
        Pong,
        Close,  // code (NoStatus for a Close without a body) and reason, both checked
        Failed, // code and reason to close with; the reader takes nothing more
    };
    struct Event
    {
        Kind kind = Kind::None;
        bool binary = false;
        quint16 code = 0;
        QByteArray payload; // the message, the ping's payload or the reason
    };

    // Bytes as read from the socket (shared, not copied, when nothing is pending).
    void append(const QByteArray &bytes);
    // The next event of what was appended; `maxMessageSize` (bytes, > 0) applies to the whole
    // message of the frame being read, so a lower limit holds from the next frame on.
    Event next(qint64 maxMessageSize);

    bool hasFailed() const { return m_failed; }
    // Bytes held: the unread part of what was appended and a message being joined.
    qint64 bufferedBytes() const { return m_buffer.size() - m_offset + m_message.size(); }

private:
    Event fail(CloseCode code, QByteArray reason);
    Event control(int opcode, QByteArray payload);
    void consume(qsizetype bytes);

    QByteArray m_buffer; // appended, not yet read from m_offset on
    qsizetype m_offset = 0;
    QByteArray m_message; // the fragments of a message so far
    Utf8Validator m_utf8; // over the fragments of a text message
    bool m_inMessage = false;
    bool m_binary = false;
    bool m_failed = false;
};

// Server-to-client control frames (unmasked, FIN set): a Close with its code and a reason cut
// to fit the 125 bytes of a control frame (at a character boundary), the Pong that answers a
// Ping with its payload, and a Ping of our own (no payload, built once).
QByteArray closeFrame(quint16 code, QByteArrayView reason);
QByteArray pongFrame(QByteArrayView payload);
const QByteArray &pingFrame();

} // namespace Mtw::Internal
