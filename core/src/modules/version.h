// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/result.h>

#include <QList>
#include <QString>

#include <compare>

namespace Mtw::Internal {

// A dotted numeric version ("1", "1.2", "1.2.3"; a "-suffix" is ignored). Missing parts are 0.
struct Version
{
    int major = 0;
    int minor = 0;
    int patch = 0;
    int parts = 0; // how many numbers were written (for prefix matches)

    static Result<Version> parse(const QString &text);
    auto operator<=>(const Version &other) const
    {
        return std::tie(major, minor, patch) <=> std::tie(other.major, other.minor, other.patch);
    }
    bool operator==(const Version &other) const
    {
        return std::tie(major, minor, patch) == std::tie(other.major, other.minor, other.patch);
    }
};

// A set of versions: space-separated comparators that must all hold. Comparators: ">=1.2",
// ">1.2", "<=2", "<2", "=1.2.3", "^1.2" (same major, at least 1.2), "~1.2" (same major.minor),
// a bare "1.2" (1.2 or any 1.2.x), "*" or empty (any).
class VersionRange
{
public:
    static Result<VersionRange> parse(const QString &text);
    bool contains(const Version &version) const;

private:
    enum class Op { Ge, Gt, Le, Lt, Eq, Prefix };
    struct Comparator
    {
        Op op;
        Version version;
    };
    QList<Comparator> m_comparators;
};

} // namespace Mtw::Internal
