// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

#include <QByteArrayView>
#include <QHash>
#include <QHostAddress>
#include <QMutex>

namespace Mtw::Internal {

struct HttpRequestHead;

// Decides whether an upgrade on admin.path may reach the admin API. The admin API always needs
// its token (admin.token, or the one the server generated), in an Authorization: Bearer header
// only: URLs end up in logs. Browsers are kept out by Origin (admin.allowed_origins): every web
// page's request carries one, tools do not send it. Repeated failures from one address are
// throttled, but a correct token is always let in, so nobody is locked out by somebody else's
// failures from the same address (a NAT, a proxy, loopback). Thread-safe: every worker asks it.
class AdminGate
{
public:
    enum class Verdict { Allow, Unauthorized, Throttled, ForbiddenOrigin, TokenInQuery };

    static constexpr int MaxFailures = 5;
    static constexpr qint64 WindowMs = 60'000;

    AdminGate(const AdminConfig &config, const QString &token);

    Verdict check(const HttpRequestHead &head, const QHostAddress &peer, qint64 nowMs);

private:
    struct Failures
    {
        int count = 0;
        qint64 windowStart = 0;
        qint64 blockedUntil = 0;
    };

    const QByteArray m_token;
    const QStringList m_allowedOrigins;
    QMutex m_mutex;
    QHash<QHostAddress, Failures> m_failures;
};

// Equal length and bytes, in time that depends only on the lengths.
bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

} // namespace Mtw::Internal
