// SPDX-License-Identifier: MIT
// Server-Sent Events (the WHATWG event-stream format) as both providers stream them.
#pragma once

#include <QByteArray>
#include <QList>

namespace Mtw::Ai {

struct SseEvent
{
    QByteArray event; // the `event:` field; empty when the stream names none
    QByteArray data;  // the `data:` lines joined with "\n"
};

// Turns bytes as they arrive into whole events. Lines end with LF, CRLF or CR; a blank line ends
// an event; comments (":...") and unknown fields are skipped. Not thread-safe.
class SseParser
{
public:
    // Appends `bytes`; returns the events they completed, in order.
    QList<SseEvent> feed(const QByteArray &bytes);
    // Bytes of an event not yet ended by a blank line (a stream cut in the middle has some).
    bool hasPartial() const { return !m_line.isEmpty() || m_hasData || !m_current.event.isEmpty(); }

private:
    void takeLine(const QByteArray &line, QList<SseEvent> &out);

    QByteArray m_line;
    bool m_lastWasCr = false;
    SseEvent m_current;
    bool m_hasData = false;
};

} // namespace Mtw::Ai
