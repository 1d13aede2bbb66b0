// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <tl/expected.hpp>

// MTW binary framing (PROTOCOL.md section 4), carried one frame per binary WebSocket message:
//
//   offset 0  "MTW" (4D 54 57)
//   offset 3  version 0x01
//   offset 4  type (FrameType)
//   offset 5  payload length, big-endian u32 (at most MaxFramePayload)
//   offset 9  payload
//
// Bytes after the declared payload are ignored. Functions here are reentrant.

namespace Mtw {

enum class FrameType : quint8 {
    Json = 0x01, // one JSON envelope (UTF-8), as in a text message
    Raw = 0x02,  // opaque bytes
    Ping = 0x03, // answered at once with an empty Pong
    Pong = 0x04,
};

struct Frame
{
    FrameType type;
    QByteArray payload;
};

inline constexpr qsizetype FrameHeaderSize = 9;
inline constexpr qint64 MaxFramePayload = 10 * 1024 * 1024; // 10 MiB

// The header followed by `payload`. The caller keeps payloads within MaxFramePayload: peers reject
// larger frames.
MTW_CORE_EXPORT QByteArray encodeFrame(FrameType type, QByteArrayView payload = {});

// Parses one frame whose payload may be at most `maxPayload` bytes (the server passes
// transport.websocket.max_message_size). Errors are English sentences naming the offending value,
// e.g. "unknown frame type 0x07" or "truncated frame: header says 100 bytes, 12 present".
MTW_CORE_EXPORT tl::expected<Frame, QString> decodeFrame(QByteArrayView data,
                                                         qint64 maxPayload = MaxFramePayload);

} // namespace Mtw
