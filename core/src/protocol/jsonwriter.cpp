// SPDX-License-Identifier: MIT
#include "jsonwriter_p.h"

#include <QLocale>
#include <QVariant>

#include <array>
#include <charconv>
#include <cmath>

namespace Mtw::Internal {

namespace {

constexpr char LowerHex[] = "0123456789abcdef";
constexpr char Base64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<qint8, 128> makeBase64Table()
{
    std::array<qint8, 128> table{};
    for (auto &entry : table)
        entry = -1;
    for (int i = 0; i < 64; ++i)
        table[static_cast<unsigned char>(Base64Alphabet[i])] = static_cast<qint8>(i);
    return table;
}
constexpr std::array<qint8, 128> Base64Table = makeBase64Table();

// Escaped output is staged in a small stack buffer: appending to the QByteArray one character at
// a time costs a capacity check per byte, and sizing for the worst case (6 bytes per UTF-16 unit)
// would leave large strings with up to 6x their size in unused capacity.
class ChunkWriter
{
public:
    explicit ChunkWriter(QByteArray &out)
        : m_out(out)
    { }
    ~ChunkWriter() { flush(); }
    Q_DISABLE_COPY_MOVE(ChunkWriter)

    // Room for one escape sequence or one 4-byte UTF-8 sequence.
    char *reserve()
    {
        if (m_used > BufferSize - 8)
            flush();
        return m_buffer + m_used;
    }
    void commit(char *end) { m_used = end - m_buffer; }
    void flush()
    {
        m_out.append(m_buffer, m_used);
        m_used = 0;
    }

private:
    static constexpr qsizetype BufferSize = 512;
    QByteArray &m_out;
    char m_buffer[BufferSize];
    qsizetype m_used = 0;
};

char *writeUnicodeEscape(char *cursor, char16_t unit)
{
    *cursor++ = '\\';
    *cursor++ = 'u';
    *cursor++ = LowerHex[(unit >> 12) & 0xf];
    *cursor++ = LowerHex[(unit >> 8) & 0xf];
    *cursor++ = LowerHex[(unit >> 4) & 0xf];
    *cursor++ = LowerHex[unit & 0xf];
    return cursor;
}

void appendInteger(QByteArray &out, qint64 value)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr - buffer);
}

} // namespace

// Mirrors escapedString() in qjsonwriter.cpp: the characters JSON requires are escaped (control
// characters as lower-case \u00XX), everything else is written as UTF-8, and unpaired surrogates
// (which UTF-8 cannot hold) are written as \uXXXX escapes.
void appendJsonString(QByteArray &out, QStringView string)
{
    ChunkWriter writer(out);
    char *cursor = writer.reserve();
    *cursor++ = '"';
    const char16_t *src = string.utf16();
    const char16_t *const end = src + string.size();
    while (src != end) {
        writer.commit(cursor);
        cursor = writer.reserve();
        const char16_t unit = *src++;
        if (unit < 0x80) {
            if (unit >= 0x20 && unit != u'"' && unit != u'\\') {
                *cursor++ = static_cast<char>(unit);
                continue;
            }
            *cursor++ = '\\';
            switch (unit) {
            case u'"':
                *cursor++ = '"';
                break;
            case u'\\':
                *cursor++ = '\\';
                break;
            case u'\b':
                *cursor++ = 'b';
                break;
            case u'\f':
                *cursor++ = 'f';
                break;
            case u'\n':
                *cursor++ = 'n';
                break;
            case u'\r':
                *cursor++ = 'r';
                break;
            case u'\t':
                *cursor++ = 't';
                break;
            default:
                cursor = writeUnicodeEscape(cursor - 1, unit);
                break;
            }
        } else if (unit < 0x800) {
            *cursor++ = static_cast<char>(0xc0 | (unit >> 6));
            *cursor++ = static_cast<char>(0x80 | (unit & 0x3f));
        } else if (!QChar::isSurrogate(unit)) {
            *cursor++ = static_cast<char>(0xe0 | (unit >> 12));
            *cursor++ = static_cast<char>(0x80 | ((unit >> 6) & 0x3f));
            *cursor++ = static_cast<char>(0x80 | (unit & 0x3f));
        } else if (QChar::isHighSurrogate(unit) && src != end && QChar::isLowSurrogate(*src)) {
            const char32_t ucs4 = QChar::surrogateToUcs4(unit, *src++);
            *cursor++ = static_cast<char>(0xf0 | (ucs4 >> 18));
            *cursor++ = static_cast<char>(0x80 | ((ucs4 >> 12) & 0x3f));
            *cursor++ = static_cast<char>(0x80 | ((ucs4 >> 6) & 0x3f));
            *cursor++ = static_cast<char>(0x80 | (ucs4 & 0x3f));
        } else {
            cursor = writeUnicodeEscape(cursor, unit);
        }
    }
    *cursor++ = '"';
    writer.commit(cursor);
}

void appendJsonValue(QByteArray &out, const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Bool:
        out.append(value.toBool() ? "true" : "false");
        break;
    case QJsonValue::Double: {
        // QJsonValue reports integers and doubles alike as Double; Qt's writer prints the ones
        // stored as integers in full and the rest in the shortest 'g' form (1e+16). toVariant()
        // is the public way to tell the storage apart.
        const QVariant number = value.toVariant();
        if (number.typeId() == QMetaType::LongLong) {
            appendInteger(out, number.toLongLong());
        } else {
            const double d = value.toDouble();
            if (std::isfinite(d))
                out.append(QByteArray::number(d, 'g', QLocale::FloatingPointShortest));
            else
                out.append("null");
        }
        break;
    }
    case QJsonValue::String:
        appendJsonString(out, value.toString());
        break;
    case QJsonValue::Array:
        appendJsonArray(out, value.toArray());
        break;
    case QJsonValue::Object:
        appendJsonObject(out, value.toObject());
        break;
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        out.append("null");
        break;
    }
}

void appendJsonObject(QByteArray &out, const QJsonObject &object)
{
    out.append('{');
    bool first = true;
    for (auto it = object.constBegin(), end = object.constEnd(); it != end; ++it) {
        if (!first)
            out.append(',');
        first = false;
        appendJsonString(out, it.key());
        out.append(':');
        appendJsonValue(out, it.value());
    }
    out.append('}');
}

void appendJsonArray(QByteArray &out, const QJsonArray &array)
{
    out.append('[');
    bool first = true;
    for (const QJsonValue element : array) {
        if (!first)
            out.append(',');
        first = false;
        appendJsonValue(out, element);
    }
    out.append(']');
}

void appendBase64(QByteArray &out, QByteArrayView bytes)
{
    const qsizetype start = out.size();
    out.resize(start + (bytes.size() + 2) / 3 * 4);
    char *cursor = out.data() + start;
    const auto *in = reinterpret_cast<const uchar *>(bytes.data());
    const qsizetype whole = bytes.size() / 3 * 3;
    for (qsizetype i = 0; i < whole; i += 3) {
        const uint group = (uint(in[i]) << 16) | (uint(in[i + 1]) << 8) | in[i + 2];
        *cursor++ = Base64Alphabet[(group >> 18) & 63];
        *cursor++ = Base64Alphabet[(group >> 12) & 63];
        *cursor++ = Base64Alphabet[(group >> 6) & 63];
        *cursor++ = Base64Alphabet[group & 63];
    }
    const qsizetype rest = bytes.size() - whole;
    if (rest > 0) {
        uint group = uint(in[whole]) << 16;
        if (rest == 2)
            group |= uint(in[whole + 1]) << 8;
        *cursor++ = Base64Alphabet[(group >> 18) & 63];
        *cursor++ = Base64Alphabet[(group >> 12) & 63];
        *cursor++ = rest == 2 ? Base64Alphabet[(group >> 6) & 63] : '=';
        *cursor++ = '=';
    }
}

tl::expected<QByteArray, QString> decodeBase64Strict(QStringView text)
{
    const qsizetype length = text.size();
    if (length % 4 != 0) {
        return tl::unexpected(
            QStringLiteral("length %1 is not a multiple of 4 (padding is required)").arg(length));
    }
    qsizetype padding = 0;
    if (length > 0 && text[length - 1] == QLatin1Char('='))
        padding = text[length - 2] == QLatin1Char('=') ? 2 : 1;

    QByteArray bytes(length / 4 * 3 - padding, Qt::Uninitialized);
    char *cursor = bytes.data();
    uint group = 0;
    for (qsizetype i = 0; i < length - padding; ++i) {
        const char16_t c = text[i].unicode();
        const int sextet = c < Base64Table.size() ? Base64Table[c] : -1;
        if (sextet < 0) {
            if (c == u'=')
                return tl::unexpected(QStringLiteral("misplaced padding '=' at offset %1").arg(i));
            const QString shown = c > 0x20 && c < 0x7f
                ? QStringLiteral("'%1'").arg(QChar(c))
                : QStringLiteral("U+%1").arg(uint(c), 4, 16, QLatin1Char('0'));
            return tl::unexpected(
                QStringLiteral("character %1 at offset %2 is not in the standard base64 alphabet%3")
                    .arg(shown)
                    .arg(i)
                    .arg(c == u'-' || c == u'_'
                             ? QStringLiteral(" (URL-safe base64 is not accepted)")
                             : QString()));
        }
        group = (group << 6) | uint(sextet);
        if (i % 4 == 3) {
            *cursor++ = static_cast<char>(group >> 16);
            *cursor++ = static_cast<char>(group >> 8);
            *cursor++ = static_cast<char>(group);
            group = 0;
        }
    }
    if (padding == 2) {
        // 12 bits were read for 8: the low 4 must be zero.
        if (group & 0xf)
            return tl::unexpected(QStringLiteral("non-zero unused bits before the padding"));
        *cursor++ = static_cast<char>(group >> 4);
    } else if (padding == 1) {
        // 18 bits were read for 16: the low 2 must be zero.
        if (group & 0x3)
            return tl::unexpected(QStringLiteral("non-zero unused bits before the padding"));
        *cursor++ = static_cast<char>(group >> 10);
        *cursor++ = static_cast<char>(group >> 2);
    }
    return bytes;
}

} // namespace Mtw::Internal
