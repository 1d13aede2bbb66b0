// SPDX-License-Identifier: MIT
#pragma once

// Orders that Qt guarantees through its own synchronisation, told to ThreadSanitizer.
//
// Debian's Qt is not built with -fsanitize=thread, so TSan cannot see the QMutex, QWaitCondition
// handshakes and atomics *inside* libQt6Core: a posted event handed from one thread to another,
// or QThread::wait() returning after the thread finished, looks unordered, and everything on
// either side of such a hand-over looks like a race. These annotations state the hand-over at
// the one place of ours on each side (see EpollEventDispatcher and ServerPrivate::stopWorkers).
// They compile to nothing without TSan (the tsan preset, MTW_TSAN).

#if defined(__SANITIZE_THREAD__)
#  define MTW_TSAN_ANNOTATIONS 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define MTW_TSAN_ANNOTATIONS 1
#  endif
#endif

#ifdef MTW_TSAN_ANNOTATIONS
#  include <sanitizer/tsan_interface.h>
#endif

namespace Mtw::Internal::Tsan {

// Everything this thread did so far happens before whatever a later acquire(key) follows.
inline void release([[maybe_unused]] const void *key)
{
#ifdef MTW_TSAN_ANNOTATIONS
    __tsan_release(const_cast<void *>(key));
#endif
}

inline void acquire([[maybe_unused]] const void *key)
{
#ifdef MTW_TSAN_ANNOTATIONS
    __tsan_acquire(const_cast<void *>(key));
#endif
}

} // namespace Mtw::Internal::Tsan
