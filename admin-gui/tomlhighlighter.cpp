// SPDX-License-Identifier: MIT
#include "tomlhighlighter.h"

#include "theme.h"

#include <QColor>
#include <QFont>
#include <QGuiApplication>
#include <QRegularExpression>

using namespace Qt::StringLiterals;

namespace Mtw {

namespace {

// The block state packs what carries over to the next line: an unterminated multi-line string
// (low two bits) and how many arrays are still open (the rest). Inline tables cannot span lines
// in TOML 1.0, so only arrays need counting.
constexpr int StringBits = 3;
constexpr int NoString = 0;
constexpr int MultiLineBasic = 1;
constexpr int MultiLineLiteral = 2;

int packState(int stringKind, int arrayDepth)
{
    return arrayDepth * 4 + stringKind;
}

bool isBareKeyChar(QChar c)
{
    return c.isLetterOrNumber() || c == u'_' || c == u'-';
}

// Characters of an unquoted value: numbers (1_000, 0x1F, 6.5e-3, +inf), dates and times
// (1979-05-27T07:32:00Z) and the words true/false.
bool isBareValueChar(QChar c)
{
    return c.isLetterOrNumber() || c == u'_' || c == u'-' || c == u'+' || c == u'.' || c == u':';
}

qsizetype skipSpaces(const QString &text, qsizetype pos)
{
    while (pos < text.size() && (text.at(pos) == u' ' || text.at(pos) == u'\t'))
        ++pos;
    return pos;
}

QTextCharFormat makeFormat(const QColor &colour, bool bold = false, bool italic = false)
{
    QTextCharFormat format;
    format.setForeground(colour);
    if (bold)
        format.setFontWeight(QFont::Bold);
    if (italic)
        format.setFontItalic(true);
    return format;
}

} // namespace

TomlHighlighter::TomlHighlighter(QTextDocument *document)
    : QSyntaxHighlighter(document)
{
    auto set = [this](Kind kind, const QTextCharFormat &format) {
        m_formats[static_cast<std::size_t>(kind)] = format;
    };
    // Under a dark palette the same hues, light enough to read on a dark base.
    const bool dark = isDarkPalette(QGuiApplication::palette());
    const auto pick = [dark](QRgb light, QRgb onDark) {
        return QColor::fromRgb(dark ? onDark : light);
    };
    set(Kind::Comment, makeFormat(pick(0x6a737d, 0x8b949e), false, true));
    set(Kind::Table, makeFormat(pick(0x005cc5, 0x79b8ff), true));
    set(Kind::ArrayTable, makeFormat(pick(0x6f42c1, 0xb392f0), true));
    set(Kind::Key, makeFormat(pick(0x8a4b08, 0xffab70)));
    set(Kind::String, makeFormat(pick(0x22863a, 0x85e89d)));
    QTextCharFormat envVar = makeFormat(pick(0xb35900, 0xffc078), true);
    envVar.setBackground(pick(0xfff0d9, 0x4a3a12));
    set(Kind::EnvVar, envVar);
    set(Kind::Number, makeFormat(pick(0x1750eb, 0x9ecbff)));
    set(Kind::Boolean, makeFormat(pick(0xa626a4, 0xf692ce), true));
    set(Kind::Size, makeFormat(pick(0x0e7c7b, 0x56d4dd), true));
}

QTextCharFormat TomlHighlighter::format(Kind kind) const
{
    return m_formats[static_cast<std::size_t>(kind)];
}

void TomlHighlighter::highlightBlock(const QString &text)
{
    const int previous = qMax(0, previousBlockState());
    int arrayDepth = previous >> 2;
    qsizetype pos = 0;
    setCurrentBlockState(packState(NoString, arrayDepth));

    // Continue a multi-line string from the previous block.
    if ((previous & StringBits) != NoString) {
        const bool basic = (previous & StringBits) == MultiLineBasic;
        pos = scanString(text, 0, 3, basic ? u'"' : u'\'', true);
        if (pos < 0) // still open: scanString set the state
            return;
    }

    // Key position: at the start of a line outside any array, and after `{` or `,` in an inline
    // table. Anything else is a value.
    bool expectKey = pos == 0 && arrayDepth == 0;
    QString brackets; // the [ and { opened on this line and still open
    const auto dropOpenedHere = [&](QChar open) {
        if (!brackets.isEmpty() && brackets.back() == open)
            brackets.chop(1);
        else if (open == u'[' && arrayDepth > 0) // closes an array opened on an earlier line
            --arrayDepth;
    };

    while (pos < text.size()) {
        pos = skipSpaces(text, pos);
        if (pos >= text.size())
            break;
        const QChar c = text.at(pos);
        if (c == u'#') {
            setFormat(int(pos), int(text.size() - pos), format(Kind::Comment));
            break;
        }
        if (c == u'[' && arrayDepth == 0 && brackets.isEmpty() && expectKey) {
            pos = scanTableHeader(text, pos);
            expectKey = false;
            continue;
        }
        if (expectKey) {
            pos = scanKey(text, pos);
            expectKey = false;
            continue;
        }
        if (c == u'"' || c == u'\'') {
            const bool multi = text.mid(pos, 3) == QString(3, c);
            const qsizetype end = scanString(text, pos, multi ? 3 : 1, c, false);
            if (end < 0) { // a multi-line string runs past this line
                setCurrentBlockState(packState(c == u'"' ? MultiLineBasic : MultiLineLiteral,
                                               arrayDepth + int(brackets.count(u'['))));
                return;
            }
            pos = end;
            continue;
        }
        if (c == u'[' || c == u'{') {
            brackets.append(c);
            expectKey = c == u'{';
            ++pos;
            continue;
        }
        if (c == u']' || c == u'}') {
            dropOpenedHere(c == u']' ? u'[' : u'{');
            ++pos;
            continue;
        }
        if (c == u',') {
            expectKey = !brackets.isEmpty() && brackets.back() == u'{';
            ++pos;
            continue;
        }
        if (c == u'=') {
            ++pos;
            continue;
        }
        pos = scanValue(text, pos);
    }

    setCurrentBlockState(packState(NoString, arrayDepth + int(brackets.count(u'['))));
}

// Colours a string starting at `start` (the first quote, or 0 when continuing a multi-line string
// from an earlier block with quoteLength 3). Returns the position after the closing quotes, or -1
// when a multi-line string stays open; then the block state says so.
qsizetype TomlHighlighter::scanString(const QString &text,
                                      qsizetype start,
                                      qsizetype quoteLength,
                                      QChar quote,
                                      bool continuing)
{
    const bool basic = quote == u'"';
    const QString closing(quoteLength, quote);
    qsizetype pos = continuing ? 0 : start + quoteLength;
    while (pos < text.size()) {
        if (basic && text.at(pos) == u'\\') {
            pos += 2;
            continue;
        }
        if (text.mid(pos, quoteLength) == closing) {
            const qsizetype end = pos + quoteLength;
            colourString(text, start, end, quoteLength == 1);
            return end;
        }
        ++pos;
    }
    colourString(text, start, text.size(), false);
    if (quoteLength == 3) {
        const int arrayDepth = qMax(0, previousBlockState()) >> 2;
        setCurrentBlockState(packState(basic ? MultiLineBasic : MultiLineLiteral, arrayDepth));
        return -1;
    }
    return text.size(); // an unterminated single-line string: the validator reports it
}

void TomlHighlighter::colourString(const QString &text,
                                   qsizetype from,
                                   qsizetype to,
                                   bool wholeString)
{
    // A one-line string that reads as a size gets its own colour: it is a number in disguise.
    static const QRegularExpression sizePattern(
        u"^\\d+(\\.\\d+)? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"_s,
        QRegularExpression::CaseInsensitiveOption);
    Kind kind = Kind::String;
    if (wholeString && to - from >= 2
        && sizePattern.match(QStringView(text).mid(from + 1, to - from - 2)).hasMatch())
        kind = Kind::Size;
    setFormat(int(from), int(to - from), format(kind));
    colourEnvVars(text, from, to);
}

// ${VAR} and ${VAR:-default} (defaults nest) inside a string; `$${` is a literal `${`. The server
// expands every string value, literal strings included, so both kinds are scanned.
void TomlHighlighter::colourEnvVars(const QString &text, qsizetype from, qsizetype to)
{
    qsizetype pos = from;
    while (pos + 1 < to) {
        if (text.at(pos) == u'$' && text.at(pos + 1) == u'$' && pos + 2 < to
            && text.at(pos + 2) == u'{') {
            pos += 3;
            continue;
        }
        if (text.at(pos) != u'$' || text.at(pos + 1) != u'{') {
            ++pos;
            continue;
        }
        qsizetype end = pos + 2;
        int depth = 1;
        while (end < to && depth > 0) {
            if (text.at(end) == u'$' && end + 1 < to && text.at(end + 1) == u'{') {
                ++depth;
                end += 2;
                continue;
            }
            if (text.at(end) == u'}')
                --depth;
            ++end;
        }
        setFormat(int(pos), int(end - pos), format(Kind::EnvVar));
        pos = end;
    }
}

qsizetype TomlHighlighter::scanTableHeader(const QString &text, qsizetype pos)
{
    const bool arrayTable = text.mid(pos, 2) == u"[["_s;
    const QString closing = arrayTable ? u"]]"_s : u"]"_s;
    qsizetype end = pos + closing.size();
    // Table names may be quoted and contain `]`; skip quoted parts.
    while (end < text.size() && text.mid(end, closing.size()) != closing) {
        const QChar c = text.at(end);
        if (c == u'"' || c == u'\'') {
            const qsizetype close = text.indexOf(c, end + 1);
            end = close < 0 ? text.size() : close + 1;
            continue;
        }
        if (c == u'#')
            break;
        ++end;
    }
    if (text.mid(end, closing.size()) == closing)
        end += closing.size();
    setFormat(int(pos), int(end - pos), format(arrayTable ? Kind::ArrayTable : Kind::Table));
    return end;
}

// A key: bare or quoted parts joined by dots, up to the `=`.
qsizetype TomlHighlighter::scanKey(const QString &text, qsizetype pos)
{
    const qsizetype start = pos;
    qsizetype end = pos;
    while (pos < text.size()) {
        pos = skipSpaces(text, pos);
        if (pos >= text.size())
            break;
        const QChar c = text.at(pos);
        if (c == u'"' || c == u'\'') {
            qsizetype close = pos + 1;
            while (close < text.size() && text.at(close) != c) {
                if (c == u'"' && text.at(close) == u'\\')
                    ++close;
                ++close;
            }
            pos = qMin(close + 1, text.size());
        } else if (isBareKeyChar(c)) {
            while (pos < text.size() && isBareKeyChar(text.at(pos)))
                ++pos;
        } else {
            break;
        }
        end = pos;
        const qsizetype next = skipSpaces(text, pos);
        if (next < text.size() && text.at(next) == u'.')
            pos = next + 1;
        else
            break;
    }
    if (end == start) // not a key at all: let the value scanner skip the character
        return start + 1;
    setFormat(int(start), int(end - start), format(Kind::Key));
    return end;
}

qsizetype TomlHighlighter::scanValue(const QString &text, qsizetype pos)
{
    const qsizetype start = pos;
    while (pos < text.size() && isBareValueChar(text.at(pos)))
        ++pos;
    if (pos == start)
        return pos + 1; // a stray character; the validator reports it
    const QStringView word = QStringView(text).mid(start, pos - start);
    if (word == u"true" || word == u"false") {
        setFormat(int(start), int(pos - start), format(Kind::Boolean));
    } else {
        const QChar first = word.front();
        const QStringView magnitude = (first == u'+' || first == u'-') ? word.mid(1) : word;
        if (first.isDigit() || first == u'+' || first == u'-' || magnitude == u"inf"
            || magnitude == u"nan")
            setFormat(int(start), int(pos - start), format(Kind::Number));
    }
    return pos;
}

} // namespace Mtw
