// SPDX-License-Identifier: MIT
#include "channels/channelpattern.h"

#include <QLatin1StringView>

namespace Mtw::Internal {

namespace {

bool isForbiddenChar(QChar c)
{
    return c == u'*' || c.isSpace() || c.category() == QChar::Other_Control;
}

// Walks the dot-separated segments of a view without allocating. "a..b" yields "a", "", "b";
// "" yields one empty segment.
class SegmentReader
{
public:
    explicit SegmentReader(QStringView text)
        : m_text(text)
    { }

    bool atEnd() const { return m_pos > m_text.size(); }

    QStringView next()
    {
        qsizetype dot = m_text.indexOf(u'.', m_pos);
        if (dot < 0)
            dot = m_text.size();
        const QStringView segment = m_text.sliced(m_pos, dot - m_pos);
        m_pos = dot + 1;
        return segment;
    }

private:
    QStringView m_text;
    qsizetype m_pos = 0;
};

bool isPlainSegment(QStringView segment)
{
    if (segment.isEmpty())
        return false;
    for (const QChar c : segment) {
        if (isForbiddenChar(c))
            return false;
    }
    return true;
}

constexpr QLatin1StringView kOne("*");
constexpr QLatin1StringView kMany("**");

} // namespace

bool isValidChannelName(QStringView name)
{
    if (name.isEmpty() || name.size() > MaxChannelNameLength)
        return false;
    QChar previous = u'.'; // a leading dot is an empty first segment
    for (const QChar c : name) {
        if (c == u'.' && previous == u'.')
            return false;
        if (isForbiddenChar(c))
            return false;
        previous = c;
    }
    return previous != u'.';
}

bool isChannelPattern(QStringView text)
{
    if (text.isEmpty() || text.size() > MaxChannelNameLength)
        return false;
    bool wildcard = false;
    SegmentReader reader(text);
    while (!reader.atEnd()) {
        const QStringView segment = reader.next();
        if (segment == kMany) {
            if (!reader.atEnd())
                return false;
            wildcard = true;
        } else if (segment == kOne) {
            wildcard = true;
        } else if (!isPlainSegment(segment)) {
            return false;
        }
    }
    return wildcard;
}

bool channelPatternMatches(QStringView pattern, QStringView name)
{
    if (!isValidChannelName(name))
        return false;
    SegmentReader patternReader(pattern);
    SegmentReader nameReader(name);
    while (!patternReader.atEnd()) {
        const QStringView want = patternReader.next();
        if (want == kMany)
            return patternReader.atEnd() && !nameReader.atEnd();
        if (nameReader.atEnd())
            return false;
        const QStringView have = nameReader.next();
        if (want == kOne)
            continue;
        // `have` never contains '*', so a malformed segment such as "a*" or "***" cannot match.
        if (want != have)
            return false;
    }
    return nameReader.atEnd();
}

} // namespace Mtw::Internal
