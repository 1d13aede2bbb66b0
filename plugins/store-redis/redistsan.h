// SPDX-License-Identifier: MIT
// The hand-over of a posted call to the broker's thread, told to ThreadSanitizer: Debian's Qt is
// not built with it, so the event queue's own locking inside libQt6Core is invisible and
// everything a caller handed over would look racy (the server's tsanannotations.h explains the
// same for its threads). Nothing without TSan.
#pragma once

#if defined(__SANITIZE_THREAD__)
#  include <sanitizer/tsan_interface.h>
#  define MTW_REDIS_TSAN_RELEASE(key) \
    __tsan_release(const_cast<void *>(static_cast<const void *>(key)))
#  define MTW_REDIS_TSAN_ACQUIRE(key) \
    __tsan_acquire(const_cast<void *>(static_cast<const void *>(key)))
#else
#  define MTW_REDIS_TSAN_RELEASE(key) static_cast<void>(key)
#  define MTW_REDIS_TSAN_ACQUIRE(key) static_cast<void>(key)
#endif
