// SPDX-License-Identifier: MIT
#include "wsframe.h"

#include <cstring>

namespace MtwBench {

void appendFrame(std::string &out, Opcode opcode, const char *data, size_t size, uint32_t mask)
{
    unsigned char header[14];
    size_t used = 0;
    header[used++] = static_cast<unsigned char>(0x80 | opcode);
    if (size < 126) {
        header[used++] = static_cast<unsigned char>(0x80 | size);
    } else if (size < 65536) {
        header[used++] = 0x80 | 126;
        header[used++] = static_cast<unsigned char>(size >> 8);
        header[used++] = static_cast<unsigned char>(size);
    } else {
        header[used++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            header[used++] = static_cast<unsigned char>(uint64_t(size) >> shift);
    }
    unsigned char key[4];
    std::memcpy(key, &mask, 4);
    std::memcpy(header + used, key, 4);
    used += 4;

    const size_t start = out.size();
    out.resize(start + used + size);
    char *dst = out.data() + start;
    std::memcpy(dst, header, used);
    dst += used;
    // Eight bytes at a time: the key repeated twice, then the tail byte by byte.
    uint64_t wide;
    std::memcpy(&wide, key, 4);
    std::memcpy(reinterpret_cast<char *>(&wide) + 4, key, 4);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t chunk;
        std::memcpy(&chunk, data + i, 8);
        chunk ^= wide;
        std::memcpy(dst + i, &chunk, 8);
    }
    for (; i < size; ++i)
        dst[i] = static_cast<char>(data[i] ^ key[i & 3]);
}

ParseResult parseFrame(char *data, size_t available, FrameView &frame)
{
    if (available < 2)
        return ParseResult::NeedMore;
    const auto *bytes = reinterpret_cast<const unsigned char *>(data);
    if (bytes[0] & 0x70)
        return ParseResult::Invalid; // RSV bits: no extension was negotiated
    frame.fin = (bytes[0] & 0x80) != 0;
    frame.opcode = bytes[0] & 0x0f;
    const bool masked = (bytes[1] & 0x80) != 0;
    uint64_t size = bytes[1] & 0x7f;
    size_t header = 2;
    if (size == 126) {
        if (available < 4)
            return ParseResult::NeedMore;
        size = (uint64_t(bytes[2]) << 8) | bytes[3];
        header = 4;
    } else if (size == 127) {
        if (available < 10)
            return ParseResult::NeedMore;
        size = 0;
        for (int i = 0; i < 8; ++i)
            size = (size << 8) | bytes[2 + i];
        header = 10;
        if (size >> 62)
            return ParseResult::Invalid;
    }
    unsigned char key[4] = {0, 0, 0, 0};
    if (masked) {
        if (available < header + 4)
            return ParseResult::NeedMore;
        std::memcpy(key, bytes + header, 4);
        header += 4;
    }
    if (available - header < size)
        return ParseResult::NeedMore;
    frame.payload = data + header;
    frame.size = static_cast<size_t>(size);
    frame.frameBytes = header + frame.size;
    if (masked) {
        for (size_t i = 0; i < frame.size; ++i)
            frame.payload[i] = static_cast<char>(frame.payload[i] ^ key[i & 3]);
    }
    return ParseResult::Frame;
}

std::string upgradeRequest(const std::string &host, int port, const std::string &path)
{
    // A fixed key is allowed for a test client; the server's accept value is then
    // s3pPLMBiTxaQ9kYGzzhZRbK+xOo= (RFC 6455 section 1.3).
    return "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port)
        + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

} // namespace MtwBench
