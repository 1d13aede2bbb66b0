// SPDX-License-Identifier: MIT
#pragma once

// The ways one TCP stream may arrive at a parser that reads it incrementally: whole, one byte
// per read, and reads of sizes a seed picks. A parser must give the same result for all three,
// so a target runs each and compares (uWebSockets' fuzzers split input at TCP boundaries too).

#include <QByteArrayView>

#include <cstdint>
#include <initializer_list>

namespace MtwFuzz {

enum class Split { Whole, Bytewise, Seeded };
inline constexpr std::initializer_list<Split> AllSplits = {Split::Whole,
                                                           Split::Bytewise,
                                                           Split::Seeded};

// Calls read(chunk) for consecutive chunks of `stream` as `split` cuts it; `seed` picks the
// seeded sizes (1 to 64 bytes, varying chunk by chunk).
template<typename Read>
void feedSplit(QByteArrayView stream, Split split, std::uint8_t seed, Read read)
{
    qsizetype at = 0;
    std::uint32_t state = seed * 2654435761u + 1;
    while (at < stream.size()) {
        qsizetype size = stream.size() - at;
        if (split == Split::Bytewise) {
            size = 1;
        } else if (split == Split::Seeded) {
            state = state * 1103515245u + 12345u;
            size = qMin<qsizetype>(size, 1 + qsizetype((state >> 16) % 64));
        }
        read(stream.sliced(at, size));
        at += size;
    }
}

} // namespace MtwFuzz
