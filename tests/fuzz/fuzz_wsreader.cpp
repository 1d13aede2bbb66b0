// SPDX-License-Identifier: MIT
// RFC 6455 frames as a client sends them, read by WebSocketReader (core/src/transport/
// websocketreader.cpp): the same events whether the stream comes whole, a byte at a time or in
// seeded reads; no message over the limit, text always valid UTF-8, close codes always valid,
// nothing after a failure, and never more held than what came in.
#include "fuzz_check.h"
#include "fuzz_split.h"
#include "transport/websocketreader.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <cstddef>
#include <cstdint>

using namespace Mtw::Internal;

namespace {

constexpr qint64 Limit = 4096;

struct Seen
{
    WebSocketReader::Kind kind;
    bool binary;
    quint16 code;
    QByteArray payload;
    bool operator==(const Seen &) const = default;
};

QList<Seen> readStream(QByteArrayView stream, MtwFuzz::Split split, std::uint8_t seed)
{
    WebSocketReader reader;
    QList<Seen> seen;
    qsizetype fed = 0;
    MtwFuzz::feedSplit(stream, split, seed, [&](QByteArrayView chunk) {
        fed += chunk.size();
        reader.append(chunk.toByteArray());
        for (auto event = reader.next(Limit); event.kind != WebSocketReader::Kind::None;
             event = reader.next(Limit)) {
            MTW_FUZZ_CHECK(seen.isEmpty() || seen.last().kind != WebSocketReader::Kind::Failed);
            switch (event.kind) {
            case WebSocketReader::Kind::Message:
                MTW_FUZZ_CHECK(event.payload.size() <= Limit);
                // Valid UTF-8 survives a round trip through QString unchanged.
                if (!event.binary)
                    MTW_FUZZ_CHECK(QString::fromUtf8(event.payload).toUtf8() == event.payload);
                break;
            case WebSocketReader::Kind::Ping:
                MTW_FUZZ_CHECK(event.payload.size() <= 125);
                break;
            case WebSocketReader::Kind::Close:
                MTW_FUZZ_CHECK(event.code == quint16(CloseCode::NoStatus)
                               || isValidCloseCode(event.code));
                MTW_FUZZ_CHECK(QString::fromUtf8(event.payload).toUtf8() == event.payload);
                break;
            case WebSocketReader::Kind::Failed:
                MTW_FUZZ_CHECK(!event.payload.isEmpty() && reader.hasFailed());
                MTW_FUZZ_CHECK(reader.bufferedBytes() == 0);
                break;
            default:
                break;
            }
            seen.append({event.kind, event.binary, event.code, event.payload});
        }
        MTW_FUZZ_CHECK(reader.bufferedBytes() <= fed);
    });
    return seen;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const auto seed = std::uint8_t(data[0]);
    const QByteArrayView stream(reinterpret_cast<const char *>(data) + 1, qsizetype(size) - 1);
    const QList<Seen> whole = readStream(stream, MtwFuzz::Split::Whole, seed);
    MTW_FUZZ_CHECK(readStream(stream, MtwFuzz::Split::Bytewise, seed) == whole);
    MTW_FUZZ_CHECK(readStream(stream, MtwFuzz::Split::Seeded, seed) == whole);
    return 0;
}
