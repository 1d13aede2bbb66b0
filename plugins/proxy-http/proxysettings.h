// SPDX-License-Identifier: MIT
// The [[modules]] config of mtw-proxy-http (plugins/proxy-http/README.md, docs/proxy.md).
#pragma once

#include <mtw/result.h>

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QSslCertificate>
#include <QStringList>
#include <QUrl>
#include <QVariantMap>

#include <array>

namespace Mtw::ProxyHttp {

// What the module asks the backend. The order is the order of ProxySettings::urls.
enum class ProxyKind { Connect, Subscribe, Publish, Rpc };
inline constexpr int ProxyKindCount = 4;

QString kindName(ProxyKind kind); // "connect", "subscribe", "publish", "rpc"

struct ProxySettings
{
    // connect_url, subscribe_url, publish_url, rpc_url; an empty URL turns that proxy off.
    std::array<QUrl, ProxyKindCount> urls;
    QStringList rpcActions; // `rpc_actions`: the request actions sent to rpc_url
    int timeoutMs = 0;      // `timeout_ms`: one backend call, queueing included
    int maxConcurrent = 32; // `max_concurrent`: backend calls in flight at most
    int maxQueue = 256;     // `max_queue`: calls waiting for a free slot at most; beyond, 503
    QList<QByteArray> forwardHeaders;                  // `headers`: lower-cased names
    QList<QPair<QByteArray, QByteArray>> extraHeaders; // `backend_headers`: never logged
    QList<QSslCertificate> caCertificates;             // `ca_file`: trusted besides the system's
    QString caFile;

    QUrl url(ProxyKind kind) const { return urls[size_t(kind)]; }
    bool enabled(ProxyKind kind) const { return !url(kind).isEmpty(); }

    // Every key acts; an unknown key or a bad value is an error naming both. The default
    // timeout is three quarters of `decisionTimeoutMs` (server.decision_timeout_ms), and an
    // explicit one must stay below it, so that the module's own "backend timed out" answer
    // reaches the client before the server gives up on the decision.
    static Result<ProxySettings> fromConfig(const QVariantMap &config, int decisionTimeoutMs);
};

// A URL as it may appear in a log: no user info, no query.
QString displayUrl(const QUrl &url);

} // namespace Mtw::ProxyHttp
