// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the files of the config area. Not installed.

#include <mtw/config.h>

#include <QByteArray>
#include <QString>

#include <optional>

namespace Mtw::Internal {

// parseConfig() on raw bytes, so that loadConfigFile() lets toml++ report invalid UTF-8 with
// its position instead of decoding it away.
ConfigLoadResult
parseConfigUtf8(const QByteArray &utf8, const QString &fileName, const QProcessEnvironment &env);

// `text` in double quotes with `"` and `\` escaped, as values are shown in messages.
QString quoted(const QString &text);

// "an integer 0-65535" or, when max is INT_MAX, "an integer >= 1".
QString integerExpectation(qint64 min, qint64 max);
// "a size from 1KiB to 1GiB" or, when max is the largest qint64, "a size of at least 1KiB".
QString sizeExpectation(qint64 min, qint64 max);

// Parses a whole decimal integer (the form an integer takes inside a string); nullopt if it is not.
std::optional<qint64> parseInteger(const QString &text);

// The shortest exact size string: "10MB", "512KiB"; a plain number when no unit divides it.
QString formatSize(qint64 bytes);

// An exact channel name or a pattern: dot-separated non-empty segments, `*` for one segment,
// a final `**` for one or more.
bool isChannelPattern(const QString &name);
// An IP address or a CIDR range (QHostAddress::parseSubnet syntax).
bool isAddressRange(const QString &text);

// Module config keys whose values toToml() masks: token, secret, password, api_key, key, ...
bool isSecretKey(const QString &key);

} // namespace Mtw::Internal
