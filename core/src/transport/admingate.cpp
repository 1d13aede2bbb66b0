// SPDX-License-Identifier: MIT
#include "transport/admingate.h"

#include "transport/httprequest.h"

#include <QUrl>
#include <QUrlQuery>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

QByteArray bearerToken(const HttpRequestHead &head)
{
    const QByteArray authorization = head.header("authorization");
    if (authorization.size() > 7
        && authorization.first(7).compare("bearer ", Qt::CaseInsensitive) == 0)
        return authorization.mid(7).trimmed();
    return {};
}

bool hasTokenInQuery(const HttpRequestHead &head)
{
    const QUrlQuery query(QUrl::fromEncoded(head.target).query(QUrl::FullyEncoded));
    return query.hasQueryItem(u"token"_s) || query.hasQueryItem(u"access_token"_s);
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

AdminGate::AdminGate(const AdminConfig &config, const QString &token)
    : m_token(token.toUtf8())
    , m_allowedOrigins(config.allowedOrigins)
{ }

AdminGate::Verdict
AdminGate::check(const HttpRequestHead &head, const QHostAddress &peer, qint64 nowMs)
{
    const QByteArray origin = head.header("origin");
    if (!origin.isEmpty() && !m_allowedOrigins.contains(QString::fromUtf8(origin)))
        return Verdict::ForbiddenOrigin;
    if (hasTokenInQuery(head))
        return Verdict::TokenInQuery;
    // An empty m_token never matches: the server always sets one when the admin API is on.
    if (!m_token.isEmpty() && constantTimeEquals(bearerToken(head), m_token))
        return Verdict::Allow;

    QMutexLocker lock(&m_mutex);
    Failures &failures = m_failures[peer];
    if (failures.blockedUntil > nowMs)
        return Verdict::Throttled;
    if (nowMs - failures.windowStart > WindowMs) {
        failures.windowStart = nowMs;
        failures.count = 0;
    }
    if (++failures.count >= MaxFailures)
        failures.blockedUntil = nowMs + WindowMs;
    // Bounded: an address that stopped failing is forgotten once its window is over.
    if (m_failures.size() > 4096) {
        m_failures.removeIf([nowMs](const auto &it) {
            return it.value().blockedUntil <= nowMs && nowMs - it.value().windowStart > WindowMs;
        });
    }
    return Verdict::Unauthorized;
}

} // namespace Mtw::Internal
