// SPDX-License-Identifier: MIT
#include "modules/moduleevents.h"

#include <QLoggingCategory>

#include <exception>
#include <type_traits>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

Q_DECLARE_LOGGING_CATEGORY(lcModules)

ModuleEvents::ModuleEvents(ServerEvents *source, const QString &moduleId, QObject *parent)
    : ServerEvents(parent)
    , m_source(source)
    , m_moduleId(moduleId)
{ }

void ModuleEvents::syncForwards()
{
    m_syncQueued.store(false, std::memory_order_relaxed);
    sync(&ServerEvents::clientConnected);
    sync(&ServerEvents::clientDisconnected);
    sync(&ServerEvents::subscribed);
    sync(&ServerEvents::unsubscribed);
    sync(&ServerEvents::messagePublished);
    sync(&ServerEvents::error);
    sync(&ServerEvents::aboutToShutdown);
}

template<typename... Args>
void ModuleEvents::sync(void (ServerEvents::*signal)(Args...))
{
    const QMetaMethod method = QMetaMethod::fromSignal(signal);
    const bool listened = isSignalConnected(method);
    const auto forward = m_forwards.constFind(method.methodIndex());
    if (listened && forward == m_forwards.cend()) {
        // `this` as the context: queued from the I/O workers, direct from the server's thread.
        m_forwards.insert(method.methodIndex(),
                          connect(m_source, signal, this, [this, signal](Args... args) {
                              relay(signal, args...);
                          }));
    } else if (!listened && forward != m_forwards.cend()) {
        disconnect(*forward);
        m_forwards.remove(method.methodIndex());
    }
}

template<typename... Args>
void ModuleEvents::relay(void (ServerEvents::*signal)(Args...), std::type_identity_t<Args>... args)
{
    QString what;
    try {
        (this->*signal)(args...);
        return;
    } catch (const std::exception &e) {
        what = u": "_s + QString::fromLocal8Bit(e.what());
    } catch (...) {
    }
    qCWarning(lcModules).noquote()
        << u"module %1 threw an exception from its slot for "
           "ServerEvents::%2%3; the server goes on"_s
               .arg(m_moduleId, QString::fromLatin1(QMetaMethod::fromSignal(signal).name()), what);
}

// Qt may call these with an internal mutex held and from any thread: they only post.
void ModuleEvents::connectNotify(const QMetaMethod &signal)
{
    Q_UNUSED(signal);
    queueSync();
}

void ModuleEvents::disconnectNotify(const QMetaMethod &signal)
{
    Q_UNUSED(signal);
    queueSync();
}

void ModuleEvents::queueSync()
{
    if (m_syncQueued.exchange(true, std::memory_order_relaxed))
        return;
    QMetaObject::invokeMethod(this, &ModuleEvents::syncForwards, Qt::QueuedConnection);
}

} // namespace Mtw::Internal
