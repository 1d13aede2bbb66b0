// SPDX-License-Identifier: MIT
#include "transport/admingate.h"

#include "transport/httprequest.h"

#include <QUrl>
#include <QUrlQuery>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

QByteArray presentedToken(const HttpRequestHead &head)
{
    const QByteArray authorization = head.header("authorization");
    if (authorization.size() > 7
        && authorization.first(7).compare("bearer ", Qt::CaseInsensitive) == 0)
        return authorization.mid(7).trimmed();
    const QUrlQuery query(QUrl::fromEncoded(head.target).query(QUrl::FullyEncoded));
    return query.queryItemValue(u"token"_s, QUrl::FullyDecoded).toUtf8();
}

} // namespace

bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    const qsizetype length = std::max(a.size(), b.size());
    unsigned difference = unsigned(a.size() != b.size());
    for (qsizetype i = 0; i < length; ++i) {
        const auto x = i < a.size() ? uchar(a[i]) : uchar(0);
        const auto y = i < b.size() ? uchar(b[i]) : uchar(0);
        difference |= unsigned(x ^ y);
    }
    return difference == 0;
}

AdminGate::AdminGate(const AdminConfig &config)
    : m_token(config.token.toUtf8())
{ }

AdminGate::Verdict
AdminGate::check(const HttpRequestHead &head, const QHostAddress &peer, qint64 nowMs)
{
    QMutexLocker lock(&m_mutex);
    Failures &failures = m_failures[peer];
    if (failures.blockedUntil > nowMs)
        return Verdict::Throttled;

    Verdict verdict = Verdict::Allow;
    if (m_token.isEmpty())
        verdict = peer.isLoopback() ? Verdict::Allow : Verdict::Forbidden;
    else if (!constantTimeEquals(presentedToken(head), m_token))
        verdict = Verdict::Unauthorized;

    if (verdict == Verdict::Allow) {
        m_failures.remove(peer);
        return verdict;
    }
    if (nowMs - failures.windowStart > WindowMs) {
        failures.windowStart = nowMs;
        failures.count = 0;
    }
    if (++failures.count >= MaxFailures)
        failures.blockedUntil = nowMs + WindowMs;
    return verdict;
}

} // namespace Mtw::Internal
