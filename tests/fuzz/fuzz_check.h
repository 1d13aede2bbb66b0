// SPDX-License-Identifier: MIT
#pragma once

// An invariant of a fuzz target: when it does not hold, print it and abort, so that libFuzzer
// records the input as a crash. Unlike assert(), it stays on in release builds.

#include <cstdio>
#include <cstdlib>

#define MTW_FUZZ_CHECK(condition)                                                            \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
