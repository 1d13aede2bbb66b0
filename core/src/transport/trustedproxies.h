// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArrayView>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QStringList>

namespace Mtw::Internal {

// Reverse proxies whose X-Forwarded-For is believed (server.trusted_proxies). Immutable.
class TrustedProxies
{
public:
    explicit TrustedProxies(const QStringList &ranges);
    bool isEmpty() const { return m_ranges.isEmpty(); }
    bool contains(const QHostAddress &address) const;
    // The client a request came from: `peer` itself unless it is a trusted proxy; then the
    // rightmost X-Forwarded-For address that is not a trusted proxy (proxies append the peer
    // they saw). A malformed header leaves `peer`.
    QHostAddress clientAddress(const QHostAddress &peer, QByteArrayView forwardedFor) const;

private:
    QList<QPair<QHostAddress, int>> m_ranges;
};

} // namespace Mtw::Internal
