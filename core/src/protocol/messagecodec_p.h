// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/message.h>

#include <QByteArrayView>

namespace Mtw::Internal {

// encodeMessage() with `metadataMembers` (JSON members such as `"epoch":"X","offset":5`, no
// surrounding braces or commas) written first into the envelope's metadata, so that a publish
// is stamped without copying its QJsonObject. The caller makes sure `message.metadata` does not
// hold the same keys. The members come before the object's sorted ones, which JSON allows.
QByteArray encodeMessage(const Message &message, QByteArrayView metadataMembers);

} // namespace Mtw::Internal
