// SPDX-License-Identifier: MIT
#pragma once

namespace Mtw::Internal {

// Asks the CPU to fetch the cache line at `address` for reading, without waiting for it (a loop
// over thousands of connections fetches the next few while it serves this one). Never faults,
// whatever the address; nothing on a compiler without the builtin.
inline void prefetch(const void *address)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(address);
#else
    (void)address;
#endif
}

} // namespace Mtw::Internal
