// SPDX-License-Identifier: MIT
// The load generator's text/event-stream parser (sseparser.h): events, fields, comments, CRLF,
// several data lines, and a stream cut at every byte, as the subscribers' reads cut it. CTest:
// bench_loadgen_sse_parser. Exits 1 on the first difference, naming it.
#include "sseparser.h"

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace {

using Events = std::vector<std::pair<std::string, std::string>>;

int failures = 0;

void check(bool ok, const std::string &what)
{
    if (!ok) {
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
        ++failures;
    }
}

std::string show(const Events &events)
{
    std::string text;
    for (const auto &[name, data] : events)
        text += "[" + name + "|" + data + "] ";
    return text;
}

// Parses `stream` delivered in pieces split at `cuts` the way the engine does: what a parse did
// not consume waits, and the next piece is appended to it.
Events parseInPieces(const std::string &stream, const std::vector<size_t> &cuts, size_t &left)
{
    Events events;
    std::string pending;
    size_t begin = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(stream.size());
    for (const size_t end : ends) {
        pending.append(stream, begin, end - begin);
        begin = end;
        const size_t used = MtwBench::parseEventStream(
            pending.data(),
            pending.size(),
            [&events](std::string_view name, std::string_view data) {
                events.emplace_back(std::string(name), std::string(data));
                return true;
            });
        pending.erase(0, used);
    }
    left = pending.size();
    return events;
}

} // namespace

int main()
{
    // What mtwserver writes: the retry field, the named replies, fan-out with ids, a keep-alive.
    const std::string stream = "retry: 2000\n\n"
                               "event: ack\ndata: {\"type\":\"ack\"}\n\n"
                               "event: response\nid: news:E1:4\ndata: {\"subscribed\":\"news\"}\n\n"
                               ": ping\n\n"
                               "id: news:E1:5\ndata: {\"seq\":0}\n\n"
                               "id: news:E1:6\ndata: {\"seq\":1}\n\n";
    const Events expected = {{"ack", "{\"type\":\"ack\"}"},
                             {"response", "{\"subscribed\":\"news\"}"},
                             {"", "{\"seq\":0}"},
                             {"", "{\"seq\":1}"}};
    size_t left = 0;
    Events whole = parseInPieces(stream, {}, left);
    check(whole == expected, "whole stream: got " + show(whole));
    check(left == 0, "whole stream: " + std::to_string(left) + " bytes left over");

    // Cut once at every byte, then into single bytes: the same events, none twice, none lost.
    for (size_t cut = 1; cut < stream.size(); ++cut) {
        const Events events = parseInPieces(stream, {cut}, left);
        check(events == expected && left == 0,
              "cut at " + std::to_string(cut) + ": got " + show(events));
    }
    std::vector<size_t> everyByte;
    for (size_t cut = 1; cut < stream.size(); ++cut)
        everyByte.push_back(cut);
    const Events bytes = parseInPieces(stream, everyByte, left);
    check(bytes == expected && left == 0, "byte by byte: got " + show(bytes));

    // CRLF line ends, several data lines (joined with LF), a field without a space or colon.
    const Events other = parseInPieces("event: x\r\ndata:a\r\ndata: b\r\ndata\r\n\r\n"
                                       "data:  two spaces\n\n"
                                       "event: only a name\n\n",
                                       {},
                                       left);
    const Events otherExpected = {{"x", "a\nb\n"}, {"", " two spaces"}};
    check(other == otherExpected, "CRLF and data lines: got " + show(other));

    // An event not ended yet is not dispatched, and its bytes are not consumed.
    Events partial;
    const std::string open = "data: {\"seq\":7}\n";
    const size_t used =
        MtwBench::parseEventStream(open.data(),
                                   open.size(),
                                   [&partial](std::string_view name, std::string_view data) {
                                       partial.emplace_back(std::string(name), std::string(data));
                                       return true;
                                   });
    check(partial.empty() && used == 0,
          "unfinished event: " + show(partial) + "used " + std::to_string(used));

    // A handler that stops (its connection failed) gets no further event.
    int calls = 0;
    const size_t stoppedAt =
        MtwBench::parseEventStream(stream.data(), stream.size(), [&calls](auto, auto) {
            ++calls;
            return false;
        });
    check(calls == 1, "stop: " + std::to_string(calls) + " calls after the handler said stop");
    check(stoppedAt
              == std::string("retry: 2000\n\nevent: ack\ndata: {\"type\":\"ack\"}\n\n").size(),
          "stop: consumed " + std::to_string(stoppedAt));

    if (failures == 0)
        std::printf("sse parser: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
