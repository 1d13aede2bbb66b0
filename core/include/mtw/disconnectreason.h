// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QMetaType>
#include <QString>

namespace Mtw {

// Why a connection ended; recorded for every closed connection and shown to hooks and the admin.
struct MTW_CORE_EXPORT DisconnectReason
{
    enum class Kind {
        Normal,         // close frame or EOF from the client
        Timeout,        // no pong for two ping intervals
        Error,          // protocol, I/O or size violation; `detail` says which
        Kicked,         // an admin or a module disconnected it; `detail` says why
        ServerShutdown, // close 1001 during graceful shutdown
    };

    Kind kind = Kind::Normal;
    QString detail;

    static DisconnectReason normal() { return {Kind::Normal, {}}; }
    static DisconnectReason timeout() { return {Kind::Timeout, {}}; }
    static DisconnectReason error(const QString &detail) { return {Kind::Error, detail}; }
    static DisconnectReason kicked(const QString &detail) { return {Kind::Kicked, detail}; }
    static DisconnectReason serverShutdown() { return {Kind::ServerShutdown, {}}; }

    // "Normal", "Timeout", "Error(message too large)", "Kicked(by admin)", "ServerShutdown"
    QString toString() const;

    friend bool operator==(const DisconnectReason &, const DisconnectReason &) = default;
};

} // namespace Mtw

Q_DECLARE_METATYPE(Mtw::DisconnectReason)
