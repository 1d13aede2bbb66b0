// SPDX-License-Identifier: MIT
#include "transport/trustedproxies.h"

namespace Mtw::Internal {

TrustedProxies::TrustedProxies(const QStringList &ranges)
{
    for (const QString &text : ranges) {
        const QString range = text.trimmed();
        if (range.contains(QLatin1Char('/'))) {
            const auto subnet = QHostAddress::parseSubnet(range);
            if (subnet.second >= 0)
                m_ranges.append(subnet);
            continue;
        }
        const QHostAddress address(range);
        if (!address.isNull())
            m_ranges.append(
                {address, address.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32});
    }
}

bool TrustedProxies::contains(const QHostAddress &address) const
{
    // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d; compare it as IPv4.
    bool mapped = false;
    const quint32 ipv4 = address.toIPv4Address(&mapped);
    const QHostAddress plain = mapped ? QHostAddress(ipv4) : address;
    for (const auto &range : m_ranges) {
        if (plain.isInSubnet(range))
            return true;
    }
    return false;
}

QHostAddress TrustedProxies::clientAddress(const QHostAddress &peer,
                                           QByteArrayView forwardedFor) const
{
    if (m_ranges.isEmpty() || forwardedFor.isEmpty() || !contains(peer))
        return peer;
    const QList<QByteArray> hops = forwardedFor.toByteArray().split(',');
    for (qsizetype i = hops.size() - 1; i >= 0; --i) {
        const QHostAddress hop(QString::fromLatin1(hops.at(i).trimmed()));
        if (hop.isNull())
            return peer; // not an address list we understand: believe only the socket
        if (!contains(hop))
            return hop;
    }
    return peer; // every hop is one of our proxies
}

} // namespace Mtw::Internal
