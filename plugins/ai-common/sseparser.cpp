// SPDX-License-Identifier: MIT
#include "sseparser.h"

namespace Mtw::Ai {

QList<SseEvent> SseParser::feed(const QByteArray &bytes)
{
    QList<SseEvent> out;
    for (const char c : bytes) {
        if (c == '\n' && m_lastWasCr) { // the LF of a CRLF
            m_lastWasCr = false;
            continue;
        }
        m_lastWasCr = c == '\r';
        if (c == '\n' || c == '\r') {
            takeLine(m_line, out);
            m_line.clear();
        } else {
            m_line.append(c);
        }
    }
    return out;
}

void SseParser::takeLine(const QByteArray &line, QList<SseEvent> &out)
{
    if (line.isEmpty()) {
        if (m_hasData)
            out.append(m_current);
        m_current = SseEvent();
        m_hasData = false;
        return;
    }
    if (line.startsWith(':'))
        return;
    const qsizetype colon = line.indexOf(':');
    const QByteArray field = colon < 0 ? line : line.left(colon);
    QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
    if (value.startsWith(' '))
        value.remove(0, 1);
    if (field == "event") {
        m_current.event = value;
    } else if (field == "data") {
        if (m_hasData)
            m_current.data.append('\n');
        m_current.data.append(value);
        m_hasData = true;
    }
}

} // namespace Mtw::Ai
