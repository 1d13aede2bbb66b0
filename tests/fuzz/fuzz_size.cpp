// SPDX-License-Identifier: MIT
// Size strings ("10MB", "1.5 GiB"), as config values and MTW_* environment overrides give them.
#include "config/config_p.h"
#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString text = QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
    const auto bytes = Mtw::parseSize(text);
    if (!bytes) {
        MTW_FUZZ_CHECK(!bytes.error().message.isEmpty());
        return 0;
    }
    MTW_FUZZ_CHECK(*bytes >= 0);
    // The shortest form that toToml() writes reads back to the same number of bytes.
    const QString formatted = Mtw::Internal::formatSize(*bytes);
    const auto again = Mtw::parseSize(formatted);
    MTW_FUZZ_CHECK(again.has_value());
    MTW_FUZZ_CHECK(*again == *bytes);
    return 0;
}
