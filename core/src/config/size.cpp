// SPDX-License-Identifier: MIT
#include "config_p.h"

#include <array>
#include <limits>

using namespace Qt::Literals::StringLiterals;

namespace Mtw {

namespace {

__extension__ typedef unsigned __int128 UInt128;

struct Unit
{
    const char *name;
    qint64 factor;
};

constexpr qint64 K = 1000;
constexpr qint64 Ki = 1024;

// Largest first, binary before decimal: formatSize() takes the first that divides exactly.
constexpr std::array<Unit, 9> Units{{{"TiB", Ki *Ki *Ki *Ki},
                                     {"TB", K *K *K *K},
                                     {"GiB", Ki *Ki *Ki},
                                     {"GB", K *K *K},
                                     {"MiB", Ki *Ki},
                                     {"MB", K *K},
                                     {"KiB", Ki},
                                     {"KB", K},
                                     {"B", 1}}};

tl::unexpected<Error> invalidSize(const QString &text, const QString &reason)
{
    return fail(400, u"invalid size %1: %2"_s.arg(Internal::quoted(text), reason));
}

tl::unexpected<Error> invalidSize(const QString &text)
{
    return invalidSize(text,
                       u"expected a number followed by B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"_s);
}

qsizetype countDigits(const QString &text, qsizetype from)
{
    qsizetype end = from;
    while (end < text.size() && text[end] >= QLatin1Char('0') && text[end] <= QLatin1Char('9'))
        ++end;
    return end - from;
}

std::optional<qint64> unitFactor(const QString &unit)
{
    if (unit.isEmpty())
        return 1;
    for (const Unit &known : Units) {
        if (unit.compare(QLatin1String(known.name), Qt::CaseInsensitive) == 0)
            return known.factor;
    }
    return std::nullopt;
}

} // namespace

Result<qint64> parseSize(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.startsWith(QLatin1Char('-')))
        return invalidSize(text, u"a size cannot be negative"_s);
    const qsizetype intDigits = countDigits(trimmed, 0);
    qsizetype pos = intDigits;
    qsizetype fracDigits = 0;
    if (pos < trimmed.size() && trimmed[pos] == QLatin1Char('.')) {
        fracDigits = countDigits(trimmed, pos + 1);
        if (fracDigits == 0)
            return invalidSize(text);
        pos += 1 + fracDigits;
    }
    if (pos < trimmed.size() && trimmed[pos] == QLatin1Char(' '))
        ++pos;
    const auto factor = unitFactor(trimmed.mid(pos));
    if (intDigits == 0 || !factor)
        return invalidSize(text);

    constexpr auto max = UInt128(std::numeric_limits<qint64>::max());
    // 19 digits of integer part at most, the fraction cut to 18 digits (below a byte for any unit).
    if (intDigits > 19)
        return invalidSize(text, u"too large"_s);
    const UInt128 whole = UInt128(trimmed.left(intDigits).toULongLong()) * UInt128(*factor);
    UInt128 fraction = 0;
    if (fracDigits > 0) {
        const qsizetype kept = std::min<qsizetype>(fracDigits, 18);
        UInt128 scale = 1;
        for (qsizetype i = 0; i < kept; ++i)
            scale *= 10;
        const UInt128 digits = UInt128(trimmed.mid(intDigits + 1, kept).toULongLong());
        fraction = digits * UInt128(*factor) / scale; // rounded down to whole bytes
    }
    if (whole + fraction > max)
        return invalidSize(text, u"too large"_s);
    return qint64(whole + fraction);
}

namespace Internal {

QString formatSize(qint64 bytes)
{
    if (bytes > 0) {
        for (const Unit &unit : Units) {
            if (bytes % unit.factor == 0 && unit.factor > 1)
                return QString::number(bytes / unit.factor) + QLatin1String(unit.name);
        }
    }
    return QString::number(bytes);
}

} // namespace Internal

} // namespace Mtw
