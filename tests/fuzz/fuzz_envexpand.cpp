// SPDX-License-Identifier: MIT
// ${VAR} and ${VAR:-default} expansion of config strings.
#include "fuzz_check.h"

#include <mtw/config.h>

#include <QProcessEnvironment>

#include <cstddef>
#include <cstdint>

namespace {

QProcessEnvironment fuzzEnvironment()
{
    QProcessEnvironment env;
    env.insert(QStringLiteral("HOME"), QStringLiteral("/home/mtw"));
    env.insert(QStringLiteral("PORT"), QStringLiteral("8080"));
    env.insert(QStringLiteral("EMPTY"), QString());
    env.insert(QStringLiteral("NESTED"), QStringLiteral("${HOME}")); // values are not re-expanded
    return env;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const QProcessEnvironment env = fuzzEnvironment();
    const QString text = QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
    const auto expanded = Mtw::expandEnvironment(text, env);
    if (!text.contains(QLatin1Char('$'))) {
        MTW_FUZZ_CHECK(expanded.has_value() && *expanded == text);
        return 0;
    }
    if (!expanded) {
        MTW_FUZZ_CHECK(!expanded.error().message.isEmpty());
        return 0;
    }
    // `$${` is the escape for a literal `${`: escaping the result and expanding again is identity.
    QString escaped = *expanded;
    escaped.replace(QStringLiteral("${"), QStringLiteral("$${"));
    const auto again = Mtw::expandEnvironment(escaped, env);
    MTW_FUZZ_CHECK(again.has_value());
    MTW_FUZZ_CHECK(*again == *expanded);
    return 0;
}
