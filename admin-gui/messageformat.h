// SPDX-License-Identifier: MIT
#pragma once

#include <QJsonObject>
#include <QString>

namespace Mtw {

// How the message inspector shows a payload (`{"kind","data"}` of docs/protocol.md) in full:
// JSON pretty-printed, text as it is, binary as a hex dump (offset, 16 bytes, ASCII).
QString formatPayload(const QJsonObject &payload);
// One line for a list: JSON compact, binary as its size.
QString payloadSummary(const QJsonObject &payload);
QString hexDump(const QByteArray &bytes);

} // namespace Mtw
