// SPDX-License-Identifier: MIT
// The TOML config reader: toml++ and the schema on top of it, from raw file bytes as
// loadConfigFile() reads them.
#include "config/config_p.h"
#include "fuzz_check.h"

#include <QProcessEnvironment>

#include <cstddef>
#include <cstdint>

namespace {

QProcessEnvironment fuzzEnvironment()
{
    QProcessEnvironment env;
    env.insert(QStringLiteral("MTW_TOKEN"), QStringLiteral("s3cret"));
    env.insert(QStringLiteral("PORT"), QStringLiteral("8080"));
    env.insert(QStringLiteral("EMPTY"), QString());
    return env;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const QProcessEnvironment env = fuzzEnvironment();
    const QByteArray bytes =
        QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    const Mtw::ConfigLoadResult result =
        Mtw::Internal::parseConfigUtf8(bytes, QStringLiteral("fuzz.toml"), env);
    for (const Mtw::ConfigDiagnostic &diagnostic : result.diagnostics)
        MTW_FUZZ_CHECK(!diagnostic.toString().isEmpty());
    if (result.hasErrors())
        return 0;
    // The effective configuration, written unmasked, reads back without errors to the same Config.
    const QString written = result.config.toToml(false);
    const Mtw::ConfigLoadResult again =
        Mtw::parseConfig(written, QStringLiteral("again.toml"), env);
    if (again.hasErrors()) {
        for (const Mtw::ConfigDiagnostic &diagnostic : again.errors())
            std::fprintf(stderr, "%s\n", qPrintable(diagnostic.toString()));
        std::fprintf(stderr, "--- written:\n%s\n", qPrintable(written));
    }
    MTW_FUZZ_CHECK(!again.hasErrors());
    MTW_FUZZ_CHECK(again.config == result.config);
    return 0;
}
