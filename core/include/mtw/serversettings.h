// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QSharedDataPointer>
#include <QStringList>
#include <QStringView>
#include <QVariant>

namespace Mtw {

namespace Internal {
class ServerSettingsPrivate;
}

// The server's own settings (the tables of mtw.toml other than [[modules]]) as a module sees
// them: read-only, by dotted key, with the defaults filled in. An implicitly shared value, safe to
// keep and to read from any thread. ModuleContext::serverConfig() hands one out.
//
// Keys are the TOML ones: "server.port", "server.trusted_proxies",
// "transport.websocket.max_queue_size". Sizes are bytes (qint64), durations what the key's name
// says (seconds unless it ends in _ms), lists QStringList. Secrets (admin.token) are not
// readable. New keys may appear in any release; a key is never renamed within a module API.
class MTW_CORE_EXPORT ServerSettings
{
public:
    MTW_DECLARE_SHARED_VALUE(ServerSettings) // empty: no keys

    // The value of `dottedKey`; an invalid QVariant for a key the server does not have.
    QVariant value(QStringView dottedKey) const;
    bool contains(QStringView dottedKey) const;
    QStringList keys() const; // sorted

    // The ones modules ask for most.
    QString host() const; // server.host
    int port() const;     // server.port as configured (0 = any free port)
    int workers() const;  // server.workers (0 = one per CPU core)

private:
    friend class Internal::ServerSettingsPrivate;
    QSharedDataPointer<Internal::ServerSettingsPrivate> d;
};

} // namespace Mtw
