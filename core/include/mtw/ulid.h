// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QString>
#include <QStringView>

// ULIDs (https://github.com/ulid/spec): the ids of server-made messages. 26 characters of Crockford
// base32 (0123456789ABCDEFGHJKMNPQRSTVWXYZ): a 48-bit millisecond Unix timestamp, then 80 random
// bits. Ids made by one thread sort (as strings) in the order they were made.

namespace Mtw {

// A new ULID for the current time. Thread-safe. Within one millisecond, or if the clock steps
// back, a thread increments the random part of its previous id instead of drawing a new one, so
// its ids are strictly increasing.
MTW_CORE_EXPORT QString generateUlid();

// True for a ULID in the canonical form generateUlid() makes: 26 characters of the upper-case
// Crockford alphabet, the first at most '7' (a 48-bit timestamp).
MTW_CORE_EXPORT bool isValidUlid(QStringView ulid);

// The millisecond timestamp held by `ulid`, or -1 when isValidUlid(ulid) is false.
MTW_CORE_EXPORT qint64 ulidTimestamp(QStringView ulid);

} // namespace Mtw
