// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

#include <QByteArrayView>
#include <QHash>
#include <QHostAddress>
#include <QMutex>

namespace Mtw::Internal {

struct HttpRequestHead;

// Decides whether an upgrade on admin.path may reach the admin API: the configured token
// (Authorization: Bearer or ?token=, compared in constant time) or, with no token configured, a
// loopback peer. Repeated failures from one address are throttled. Thread-safe: every I/O worker
// asks it.
class AdminGate
{
public:
    enum class Verdict { Allow, Unauthorized, Forbidden, Throttled };

    static constexpr int MaxFailures = 5;
    static constexpr qint64 WindowMs = 60'000;

    explicit AdminGate(const AdminConfig &config);

    Verdict check(const HttpRequestHead &head, const QHostAddress &peer, qint64 nowMs);

private:
    struct Failures
    {
        int count = 0;
        qint64 windowStart = 0;
        qint64 blockedUntil = 0;
    };

    const QByteArray m_token;
    QMutex m_mutex;
    QHash<QHostAddress, Failures> m_failures;
};

// Equal length and bytes, in time that depends only on the lengths.
bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

} // namespace Mtw::Internal
