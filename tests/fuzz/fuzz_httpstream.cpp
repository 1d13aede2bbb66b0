// SPDX-License-Identifier: MIT
// Whole HTTP/1.x requests as the server API reads them from a connection (HttpSession through
// HttpRequestParser, core/src/transport/httpparser.cpp): heads, Content-Length and chunked
// bodies, pipelined requests, limits. The same bytes cut at any TCP boundary give the same
// requests and the same refusal.
#include "fuzz_check.h"
#include "fuzz_split.h"
#include "transport/httpparser.h"

#include <QByteArray>
#include <QList>

#include <cstddef>
#include <cstdint>

using namespace Mtw::Internal;

namespace {

constexpr qint64 MaxBody = 1024;

// What a connection saw: one line per request, then the refusal if there was one.
QList<QByteArray> parseStream(QByteArrayView stream, MtwFuzz::Split split, std::uint8_t seed)
{
    HttpRequestParser parser(MaxBody);
    QList<QByteArray> seen;
    QByteArray pending;
    bool failed = false;
    MtwFuzz::feedSplit(stream, split, seed, [&](QByteArrayView chunk) {
        if (failed)
            return;
        pending.append(chunk.data(), chunk.size());
        while (!pending.isEmpty()) {
            const qsizetype consumed = parser.feed(pending);
            MTW_FUZZ_CHECK(consumed >= 0 && consumed <= pending.size());
            pending.remove(0, consumed);
            if (parser.state() == HttpRequestParser::State::Failed) {
                MTW_FUZZ_CHECK(parser.errorStatus() >= 400 && parser.errorStatus() < 600);
                seen.append("failed " + QByteArray::number(parser.errorStatus()));
                failed = true;
                return;
            }
            if (parser.state() == HttpRequestParser::State::NeedMore) {
                MTW_FUZZ_CHECK(pending.isEmpty()); // it takes everything while it needs more
                return;
            }
            const HttpRequest &request = parser.request();
            MTW_FUZZ_CHECK(request.body.size() <= MaxBody);
            MTW_FUZZ_CHECK(request.head.target.startsWith(request.head.path));
            seen.append(request.head.method + ' ' + request.head.target + ' ' + request.head.version
                        + ' ' + (request.keepAlive ? "keep " : "close ")
                        + QByteArray::number(request.body.size()) + ':' + request.body);
            parser.next();
        }
    });
    return seen;
}

} // namespace

// The first byte seeds the seeded split; the rest is the stream.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const QByteArrayView stream(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    const QList<QByteArray> whole = parseStream(stream, MtwFuzz::Split::Whole, data[0]);
    MTW_FUZZ_CHECK(parseStream(stream, MtwFuzz::Split::Bytewise, data[0]) == whole);
    MTW_FUZZ_CHECK(parseStream(stream, MtwFuzz::Split::Seeded, data[0]) == whole);
    return 0;
}
