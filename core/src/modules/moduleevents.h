// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/serverevents.h>

#include <QHash>

#include <atomic>
#include <type_traits>

namespace Mtw::Internal {

// One module's ServerEvents: what its ModuleContext::events() returns. It re-emits the server's
// signals in the server's thread inside a guard, so that a slot of the module that throws is
// caught and logged with the module's name instead of unwinding through Qt's event loop, whether
// the module connected with a context object (queued) or directly.
//
// It forwards only the signals someone is connected to, so that the server's
// ServerEvents::isListened() stays false for the others and their arguments are never built.
// Lives in the server's thread.
class ModuleEvents : public ServerEvents
{
    Q_OBJECT

public:
    ModuleEvents(ServerEvents *source, const QString &moduleId, QObject *parent = nullptr);

    // Connects or drops the forwards to match what is connected to this object now. The host
    // calls it after each call into the module; connects made at other times (from a slot, from
    // another thread) queue a call.
    void syncForwards();

protected:
    void connectNotify(const QMetaMethod &signal) override;
    void disconnectNotify(const QMetaMethod &signal) override;

private:
    template<typename... Args>
    void sync(void (ServerEvents::*signal)(Args...));
    template<typename... Args>
    void relay(void (ServerEvents::*signal)(Args...), std::type_identity_t<Args>... args);
    void queueSync();

    ServerEvents *const m_source;
    const QString m_moduleId;
    QHash<int, QMetaObject::Connection> m_forwards; // by signal index; server thread only
    std::atomic<bool> m_syncQueued{false};
};

} // namespace Mtw::Internal
