// SPDX-License-Identifier: MIT
// The client half of RFC 6455 framing, just enough for a load generator: masked frames out,
// unmasked (or masked, tolerated) frames in, with 7-, 16- and 64-bit payload lengths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace MtwBench {

enum Opcode : uint8_t {
    OpContinuation = 0x0,
    OpText = 0x1,
    OpBinary = 0x2,
    OpClose = 0x8,
    OpPing = 0x9,
    OpPong = 0xA,
};

// Appends one final, masked frame carrying [data, data + size) to out.
void appendFrame(std::string &out, Opcode opcode, const char *data, size_t size, uint32_t mask);

struct FrameView
{
    bool fin = false;
    uint8_t opcode = 0;
    char *payload = nullptr; // unmasked in place when the frame was masked
    size_t size = 0;
    size_t frameBytes = 0; // header + payload: how far to advance
};

enum class ParseResult { Frame, NeedMore, Invalid };

// Parses the frame at the start of [data, data + available). Invalid means a length over 2^62 or
// reserved bits set: the connection should be dropped.
ParseResult parseFrame(char *data, size_t available, FrameView &frame);

// The HTTP upgrade request for path on host:port.
std::string upgradeRequest(const std::string &host, int port, const std::string &path);

} // namespace MtwBench
