// SPDX-License-Identifier: MIT
#include "transport/servercontext.h"

#include <QMutexLocker>

namespace Mtw::Internal {

bool PendingHandshakeLimiter::tryAcquire(const QHostAddress &address, int maxPerAddress)
{
    QMutexLocker lock(&m_mutex);
    int &count = m_pending[address];
    if (maxPerAddress > 0 && count >= maxPerAddress)
        return false;
    ++count;
    return true;
}

void PendingHandshakeLimiter::release(const QHostAddress &address)
{
    QMutexLocker lock(&m_mutex);
    auto it = m_pending.find(address);
    if (it == m_pending.end())
        return;
    if (--it.value() <= 0)
        m_pending.erase(it);
}

int PendingHandshakeLimiter::pending(const QHostAddress &address) const
{
    QMutexLocker lock(&m_mutex);
    return m_pending.value(address);
}

} // namespace Mtw::Internal
