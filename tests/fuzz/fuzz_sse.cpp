// SPDX-License-Identifier: MIT
// Server-Sent Events as both AI provider modules read a provider's stream
// (plugins/ai-common/sseparser.cpp): bytes from the network, split wherever TCP splits them.
// Every split gives the same events, and an event carries what its data lines said.
#include "fuzz_check.h"
#include "fuzz_split.h"
#include "sseparser.h"

#include <cstddef>
#include <cstdint>

namespace {

struct Outcome
{
    QList<QByteArray> events; // "event\0data" per event
    bool partial = false;
    bool operator==(const Outcome &other) const = default;
};

Outcome parse(QByteArrayView stream, MtwFuzz::Split split, std::uint8_t seed)
{
    Mtw::Ai::SseParser parser;
    Outcome outcome;
    MtwFuzz::feedSplit(stream, split, seed, [&](QByteArrayView chunk) {
        for (const Mtw::Ai::SseEvent &event : parser.feed(chunk.toByteArray())) {
            // Fields are single lines: no line break survives inside an event name, and data
            // lines are joined with LF only.
            MTW_FUZZ_CHECK(!event.event.contains('\n') && !event.event.contains('\r'));
            MTW_FUZZ_CHECK(!event.data.contains('\r'));
            outcome.events.append(event.event + '\0' + event.data);
        }
    });
    outcome.partial = parser.hasPartial();
    return outcome;
}

} // namespace

// The first byte seeds the seeded split; the rest is the stream.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const QByteArrayView stream(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    const Outcome whole = parse(stream, MtwFuzz::Split::Whole, data[0]);
    MTW_FUZZ_CHECK(parse(stream, MtwFuzz::Split::Bytewise, data[0]) == whole);
    MTW_FUZZ_CHECK(parse(stream, MtwFuzz::Split::Seeded, data[0]) == whole);
    return 0;
}
