// SPDX-License-Identifier: MIT
#pragma once

// Orders that Qt guarantees through its own synchronisation, told to ThreadSanitizer
// (mtw/tsan.h has the two annotations; this adds the server's own helpers).
//
// Debian's Qt is not built with -fsanitize=thread, so TSan cannot see the QMutex, QWaitCondition
// handshakes and atomics *inside* libQt6Core: a posted event handed from one thread to another,
// or QThread::wait() returning after the thread finished, looks unordered, and everything on
// either side of such a hand-over looks like a race. These annotations state the hand-over at
// the one place of ours on each side (see EpollEventDispatcher and ServerPrivate::stopWorkers).
// They compile to nothing without TSan (the tsan preset, MTW_TSAN).

#include <mtw/tsan.h>

namespace Mtw::Internal::Tsan {

using Mtw::Tsan::acquire;
using Mtw::Tsan::release;

// A value captured by a queued call. Qt deletes the call's functor in whichever thread drops
// the last reference to it (a reference count inside libQt6Core): the receiver's after the
// call, or the caller's when the receiver was done first. In the second case the caller frees
// what the value shares (a QByteArray's data, say) after the receiver read it, with nothing
// TSan can see in between. The receiver calls done() after its last use; the destructor, in
// whichever thread, acquires before the value goes. Just the value without TSan.
template<typename T>
class HandedOver
{
public:
    explicit HandedOver(T value)
        : m_value(std::move(value))
    { }
    HandedOver(const HandedOver &) = default;
    HandedOver(HandedOver &&) = default;
    HandedOver &operator=(const HandedOver &) = default;
    HandedOver &operator=(HandedOver &&) = default;
    ~HandedOver() { acquire(this); }

    const T &operator*() const { return m_value; }
    void done() const { release(this); }

private:
    T m_value;
};

} // namespace Mtw::Internal::Tsan
