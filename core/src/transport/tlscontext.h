// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/result.h>

#include <QDateTime>
#include <QMutex>
#include <QSslConfiguration>

namespace Mtw::Internal {

// The credentials new TLS connections handshake with ([server.tls]). Loaded and checked as a
// whole; a renewed pair replaces the old one for connections accepted afterwards, while open
// connections keep the one they started with. Thread-safe: workers read it for every TLS
// accept, the server thread replaces it.
class TlsContext
{
public:
    // Reads and checks the files `tls` names: certificate and key present and PEM, the key
    // matching the certificate, the certificate valid at `now`, the CA for client_auth. Every
    // error names the key and the file.
    static Result<QSslConfiguration> load(const TlsConfig &tls,
                                          const QDateTime &now = QDateTime::currentDateTimeUtc());
    // "CN=example.test, expires 2027-01-01T00:00:00Z": for the log.
    static QString describe(const QSslConfiguration &configuration);

    // Whether the port speaks TLS is fixed for the server's life (a restart changes it).
    explicit TlsContext(bool enabled)
        : m_enabled(enabled)
    { }

    bool enabled() const { return m_enabled; }
    QSslConfiguration current() const
    {
        QMutexLocker lock(&m_mutex);
        return m_current;
    }
    void replace(const QSslConfiguration &configuration)
    {
        QMutexLocker lock(&m_mutex);
        m_current = configuration;
    }

private:
    mutable QMutex m_mutex;
    QSslConfiguration m_current;
    const bool m_enabled;
};

} // namespace Mtw::Internal
