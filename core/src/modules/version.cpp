// SPDX-License-Identifier: MIT
#include "modules/version.h"

#include <algorithm>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

Result<Version> Version::parse(const QString &text)
{
    QString core = text.trimmed();
    if (core.startsWith(u'v'))
        core.remove(0, 1);
    const qsizetype suffix = core.indexOf(u'-');
    if (suffix >= 0)
        core.truncate(suffix);
    const QStringList numbers = core.split(u'.');
    if (core.isEmpty() || numbers.size() > 3)
        return fail(400, u"invalid version \"%1\": expected MAJOR[.MINOR[.PATCH]]"_s.arg(text));
    Version version;
    int *fields[] = {&version.major, &version.minor, &version.patch};
    for (qsizetype i = 0; i < numbers.size(); ++i) {
        bool ok = false;
        *fields[i] = numbers[i].toInt(&ok);
        if (!ok || *fields[i] < 0)
            return fail(400, u"invalid version \"%1\": expected MAJOR[.MINOR[.PATCH]]"_s.arg(text));
    }
    version.parts = int(numbers.size());
    return version;
}

Result<VersionRange> VersionRange::parse(const QString &text)
{
    VersionRange range;
    for (const QString &token : text.split(u' ', Qt::SkipEmptyParts)) {
        if (token == "*"_L1)
            continue;
        static const QList<std::pair<QLatin1String, Op>> prefixes{{">="_L1, Op::Ge},
                                                                  {"<="_L1, Op::Le},
                                                                  {">"_L1, Op::Gt},
                                                                  {"<"_L1, Op::Lt},
                                                                  {"="_L1, Op::Eq}};
        Op op = Op::Prefix;
        QString number = token;
        bool caret = false;
        bool tilde = false;
        for (const auto &[prefix, prefixOp] : prefixes) {
            if (token.startsWith(prefix)) {
                op = prefixOp;
                number = token.mid(prefix.size());
                break;
            }
        }
        if (op == Op::Prefix && (token.startsWith(u'^') || token.startsWith(u'~'))) {
            caret = token.startsWith(u'^');
            tilde = !caret;
            number = token.mid(1);
        }
        const auto version = Version::parse(number);
        if (!version)
            return fail(400,
                        u"invalid version range \"%1\": %2"_s.arg(text, version.error().message));
        if (caret || tilde) {
            // ^1.2 = >=1.2 and same major; ~1.2 = >=1.2 and same major.minor. ~1 pins only
            // the major, as in npm and Cargo: no minor was written to keep.
            range.m_comparators.append({Op::Ge, *version});
            Version prefix = *version;
            prefix.parts = caret ? 1 : std::min(2, version->parts);
            range.m_comparators.append({Op::Prefix, prefix});
        } else {
            range.m_comparators.append({op, *version});
        }
    }
    return range;
}

bool VersionRange::contains(const Version &v) const
{
    for (const Comparator &c : m_comparators) {
        bool ok = false;
        switch (c.op) {
        case Op::Ge:
            ok = v >= c.version;
            break;
        case Op::Gt:
            ok = v > c.version;
            break;
        case Op::Le:
            ok = v <= c.version;
            break;
        case Op::Lt:
            ok = v < c.version;
            break;
        case Op::Eq:
            ok = v == c.version;
            break;
        case Op::Prefix:
            ok = v.major == c.version.major && (c.version.parts < 2 || v.minor == c.version.minor)
                && (c.version.parts < 3 || v.patch == c.version.patch);
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}

} // namespace Mtw::Internal
