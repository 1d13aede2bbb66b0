// SPDX-License-Identifier: MIT
// MTW binary frames (PROTOCOL.md section 4): any bytes a client sends as a binary message.
#include "fuzz_check.h"

#include <mtw/frame.h>
#include <mtw/message.h>

#include <cstddef>
#include <cstdint>

namespace {

void check(QByteArrayView input, qint64 maxPayload)
{
    const auto frame = Mtw::decodeFrame(input, maxPayload);
    if (!frame) {
        MTW_FUZZ_CHECK(!frame.error().isEmpty());
        return;
    }
    MTW_FUZZ_CHECK(frame->payload.size() <= maxPayload);
    MTW_FUZZ_CHECK(Mtw::FrameHeaderSize + frame->payload.size() <= input.size());
    // The payload is the bytes after the header, and re-encoding gives those bytes back.
    const QByteArray encoded = Mtw::encodeFrame(frame->type, frame->payload);
    MTW_FUZZ_CHECK(encoded == input.first(encoded.size()));
    const auto again = Mtw::decodeFrame(encoded, maxPayload);
    MTW_FUZZ_CHECK(again.has_value());
    MTW_FUZZ_CHECK(again->type == frame->type && again->payload == frame->payload);
    // A Json frame carries an envelope, which the server decodes next.
    if (frame->type == Mtw::FrameType::Json)
        (void)Mtw::decodeMessage(frame->payload);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArrayView input(reinterpret_cast<const char *>(data), qsizetype(size));
    check(input, Mtw::MaxFramePayload);
    // A small limit, as transport.websocket.max_message_size may set, reaches the "too large" path.
    check(input, 16);
    return 0;
}
