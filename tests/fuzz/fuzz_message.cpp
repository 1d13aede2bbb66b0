// SPDX-License-Identifier: MIT
// The JSON envelope decoder (PROTOCOL.md section 2): any bytes a client sends as a text message.
#include "fuzz_check.h"

#include <mtw/message.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArrayView input(reinterpret_cast<const char *>(data), qsizetype(size));
    const auto decoded = Mtw::decodeMessage(input);
    if (!decoded)
        return 0;
    // encodeMessage() promises that decoding its output gives an equal message.
    const QByteArray encoded = Mtw::encodeMessage(*decoded);
    const auto again = Mtw::decodeMessage(encoded);
    MTW_FUZZ_CHECK(again.has_value());
    MTW_FUZZ_CHECK(*again == *decoded);
    // The encoding is stable: a second round gives the same bytes.
    MTW_FUZZ_CHECK(Mtw::encodeMessage(*again) == encoded);
    // The QJsonObject path agrees with the byte path.
    const auto fromObject = Mtw::messageFromJson(Mtw::messageToJson(*decoded));
    MTW_FUZZ_CHECK(fromObject.has_value());
    MTW_FUZZ_CHECK(*fromObject == *decoded);
    return 0;
}
