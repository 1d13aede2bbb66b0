// SPDX-License-Identifier: MIT
// The HTTP/1.x request head, the first bytes any TCP peer sends before the WebSocket upgrade.
#include "fuzz_check.h"
#include "transport/httprequest.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace Mtw::Internal;
    const QByteArrayView input(reinterpret_cast<const char *>(data), qsizetype(size));
    // As FrontDoor::readHead() does: peek at most MaxHttpHeadSize + 1 bytes, find the end of the
    // head, then parse exactly the head.
    const QByteArrayView peeked = input.first(std::min(input.size(), MaxHttpHeadSize + 1));
    const qsizetype length = httpHeadLength(peeked);
    MTW_FUZZ_CHECK(length == -1 || (length >= 4 && length <= peeked.size()));
    // readHead() runs again on every read: on a prefix cut at any TCP boundary the head is either
    // not complete yet or the same head. The first byte picks the cut.
    if (!peeked.isEmpty()) {
        const qsizetype cut = qsizetype(data[0]) * peeked.size() / 256;
        const qsizetype early = httpHeadLength(peeked.first(cut));
        MTW_FUZZ_CHECK(early == (length >= 0 && length <= cut ? length : -1));
    }
    const QByteArrayView head = length < 0 ? peeked : peeked.first(length);
    const auto request = parseHttpRequestHead(head);
    if (!request)
        return 0;
    MTW_FUZZ_CHECK(!request->method.isEmpty() && !request->target.isEmpty());
    MTW_FUZZ_CHECK(request->version.startsWith("HTTP/1."));
    MTW_FUZZ_CHECK(request->target.startsWith(request->path));
    MTW_FUZZ_CHECK(!request->path.contains('?'));
    for (const auto &[name, value] : request->headers) {
        MTW_FUZZ_CHECK(!name.isEmpty());
        MTW_FUZZ_CHECK(name == name.toLower());
        MTW_FUZZ_CHECK(request->header(name).size() >= 0);
    }
    (void)request->isWebSocketUpgrade();
    return 0;
}
