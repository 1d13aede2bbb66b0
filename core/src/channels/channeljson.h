// SPDX-License-Identifier: MIT
#pragma once

#include "channels/channelregistry.h"

#include <QJsonArray>

namespace Mtw::Internal {

// The JSON shapes PROTOCOL.md gives channel state, shared by the client protocol and the admin
// API so that both answer `history` and `presence` alike.

// Stored envelopes (as encoded) → an array of envelope objects, oldest first.
QJsonArray historyJson(const QList<QByteArray> &encoded);
// Members → [{"conn_id", "user_id"?}].
QJsonArray presenceJson(const QList<Member> &members);

} // namespace Mtw::Internal
