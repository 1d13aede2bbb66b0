// SPDX-License-Identifier: MIT
#pragma once

#include <QStringView>

namespace Mtw::Internal {

// Channel names are dot-separated segments (PROTOCOL.md §5). All functions here are pure,
// allocation-free and safe to call from any thread.

inline constexpr int MaxChannelNameLength = 255;

// Non-empty, at most MaxChannelNameLength UTF-16 code units, dot-separated non-empty segments,
// no whitespace, no control characters, no `*`.
bool isValidChannelName(QStringView name);

// True when `text` is a well-formed pattern with at least one wildcard segment: every segment is
// `*`, a final `**`, or a segment a channel name could have. A plain name is not a pattern, and
// neither is malformed text such as `a.**.b`, `a*`, or `a..*`. A `[[channels]]` entry is valid when
// isValidChannelName(entry) || isChannelPattern(entry).
bool isChannelPattern(QStringView text);

// Whether the concrete channel `name` matches `pattern`: `*` matches exactly one segment, a final
// `**` one or more segments, any other segment only itself. A pattern without wildcards matches
// only the identical name. A malformed pattern (`**` not last, empty segments) or an invalid name
// matches nothing.
bool channelPatternMatches(QStringView pattern, QStringView name);

} // namespace Mtw::Internal
