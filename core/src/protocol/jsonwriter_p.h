// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>
#include <QStringView>

#include <tl/expected.hpp>

// The pieces of the envelope encoder. Each appends to `out` exactly the bytes that
// QJsonDocument::toJson(QJsonDocument::Compact) writes for the same value (tst_message checks
// this), without building an intermediate QJsonDocument.

namespace Mtw::Internal {

void appendJsonString(QByteArray &out, QStringView string);
void appendJsonValue(QByteArray &out, const QJsonValue &value);
void appendJsonObject(QByteArray &out, const QJsonObject &object);
void appendJsonArray(QByteArray &out, const QJsonArray &array);

// Standard base64 (RFC 4648 section 4) with '=' padding.
void appendBase64(QByteArray &out, QByteArrayView bytes);
// Strict standard padded base64: the alphabet A-Z a-z 0-9 + /, a length that is a multiple of 4,
// '=' only as the final one or two characters, and zero unused bits in the final group (the
// encoding is canonical, so re-encoding gives the same text). The error says what was wrong.
tl::expected<QByteArray, QString> decodeBase64Strict(QStringView text);

} // namespace Mtw::Internal
