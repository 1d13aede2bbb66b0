// SPDX-License-Identifier: MIT
// A minimal incremental text/event-stream parser for the load generator's SSE subscribers: the
// parts of the WHATWG rules a Server-Sent Events stream of mtwserver uses, no allocation for an
// event with one data line.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace MtwBench {

// Parses the complete events at the start of [data, data + size): lines end in LF (a CR before
// it is dropped), a blank line ends an event, a line starting with ':' is a comment, a field is
// `name: value` (one optional space after the colon; no colon: the whole line is the name, the
// value empty), `data` lines are joined with LF, `event` names the event, other fields (id, retry)
// are skipped. onEvent(name, data) is called for every event that has data (name empty for an
// unnamed one) until it returns false. Returns the bytes of the events consumed, each one whole:
// the rest is an event still arriving, to be parsed again with what follows it.
template<typename OnEvent>
size_t parseEventStream(const char *data, size_t size, OnEvent &&onEvent)
{
    size_t consumed = 0;
    size_t offset = 0;
    std::string_view name;
    std::string_view value;
    std::string joined; // only for an event of more than one data line
    int dataLines = 0;
    while (offset < size) {
        const auto *newline =
            static_cast<const char *>(std::memchr(data + offset, '\n', size - offset));
        if (!newline)
            break;
        std::string_view line(data + offset, size_t(newline - (data + offset)));
        offset = size_t(newline - data) + 1;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty()) { // the end of an event
            consumed = offset;
            const bool go =
                dataLines == 0 || onEvent(name, dataLines == 1 ? value : std::string_view(joined));
            if (!go)
                break;
            name = {};
            value = {};
            joined.clear();
            dataLines = 0;
            continue;
        }
        if (line.front() == ':')
            continue; // a comment: the server's keep-alive
        const size_t colon = line.find(':');
        const std::string_view field = line.substr(0, colon);
        std::string_view text =
            colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        if (!text.empty() && text.front() == ' ')
            text.remove_prefix(1);
        if (field == "data") {
            if (++dataLines == 2)
                joined.assign(value);
            if (dataLines >= 2) {
                joined.push_back('\n');
                joined.append(text);
            }
            value = text;
        } else if (field == "event") {
            name = text;
        }
    }
    return consumed;
}

} // namespace MtwBench
