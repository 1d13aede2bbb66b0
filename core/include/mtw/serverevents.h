// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/disconnectreason.h>
#include <mtw/global.h>
#include <mtw/message.h>
#include <mtw/result.h>
#include <mtw/services.h>

#include <QMetaMethod>
#include <QObject>

namespace Mtw {

// Notifications about what clients do. Lives in the server's thread, but most signals are
// emitted from I/O worker threads: connect with a context object (the default AutoConnection then
// queues the call into the receiver's thread) and never block a worker in a DirectConnection.
// With nobody connected, emitting costs a check and nothing else.
class MTW_CORE_EXPORT ServerEvents : public QObject
{
    Q_OBJECT

public:
    using QObject::QObject;

    // True when a receiver listens to `signal`; the server builds arguments only then.
    template<typename Signal>
    bool isListened(Signal signal) const
    {
        return isSignalConnected(QMetaMethod::fromSignal(signal));
    }

Q_SIGNALS:
    void clientConnected(const Mtw::ClientInfo &client);
    void clientDisconnected(const Mtw::ClientInfo &client, const Mtw::DisconnectReason &reason);
    void subscribed(const Mtw::ClientInfo &client, const QString &channel);
    void unsubscribed(const Mtw::ClientInfo &client, const QString &channel);
    void
    messagePublished(const Mtw::ClientInfo &client, const Mtw::Message &message, int recipients);
    void error(const QString &connId, const Mtw::Error &error);
    void aboutToShutdown();
};

} // namespace Mtw
