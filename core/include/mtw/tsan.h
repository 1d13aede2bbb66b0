// SPDX-License-Identifier: MIT
#pragma once

// Hand-overs that Qt orders through its own synchronisation, told to ThreadSanitizer.
//
// Distribution builds of Qt are not built with -fsanitize=thread, so TSan cannot see the
// QMutex, QWaitCondition and atomics *inside* libQt6Core: a queued call handed from one thread
// to another, or QThread::wait() returning after the thread finished, looks unordered, and
// everything on either side of such a hand-over looks like a race. A module that posts work to
// a thread of its own states the hand-over at its two sides:
//
//     Mtw::Tsan::release(this);                    // the caller, just before it posts
//     QMetaObject::invokeMethod(this, [this] {
//         Mtw::Tsan::acquire(this);                // the receiver, first thing
//         ...
//     }, Qt::QueuedConnection);
//
// Everything the caller did before release(key) then happens before whatever follows a later
// acquire(key) with the same key. Both compile to nothing without TSan (the tsan preset).

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

namespace Mtw::Tsan {

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

} // namespace Mtw::Tsan
