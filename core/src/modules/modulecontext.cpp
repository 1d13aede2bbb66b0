// SPDX-License-Identifier: MIT
#include "modules/moduleevents.h"
#include "modules/modulehost.h"

#include <mtw/module.h>
#include <mtw/modulestatus.h>

namespace Mtw {

using namespace Qt::StringLiterals;

ModuleContext::ModuleContext(std::unique_ptr<Internal::ModuleContextPrivate> dd)
    : d(std::move(dd))
{ }

ModuleContext::~ModuleContext() = default;

QString ModuleContext::moduleId() const
{
    return d->id;
}

const QVariantMap &ModuleContext::config() const
{
    return d->config;
}

ServerSettings ModuleContext::serverConfig() const
{
    return d->host->settings();
}

ServerEvents *ModuleContext::events() const
{
    return d->events;
}

SharedState &ModuleContext::shared() const
{
    return *d->host->shared();
}

ServerHandle &ModuleContext::server() const
{
    return *d->host->handle();
}

void ModuleContext::registerAuthenticator(IAuthenticator *authenticator, int priority)
{
    d->host->registerAuthenticator(d->entry, authenticator, priority);
}

void ModuleContext::registerMessageFilter(IMessageFilter *filter, int priority)
{
    d->host->registerMessageFilter(d->entry, filter, priority);
}

void ModuleContext::registerRequestHandler(const QString &action, IRequestHandler *handler)
{
    d->host->registerRequestHandler(d->entry, action, handler);
}

void ModuleContext::registerRawFrameHandler(IRawFrameHandler *handler, int priority)
{
    d->host->registerRawFrameHandler(d->entry, handler, priority);
}

void ModuleContext::registerStore(IStore *store, int priority)
{
    d->host->registerStore(d->entry, store, priority);
}

void ModuleContext::registerBroker(IBroker *broker, int priority)
{
    d->host->registerBroker(d->entry, broker, priority);
}

void ModuleContext::registerAgentProvider(const QString &name, IAgentProvider *provider)
{
    d->host->registerAgentProvider(d->entry, name, provider);
}

void ModuleContext::registerAgentTool(IAgentTool *tool)
{
    d->host->registerAgentTool(d->entry, tool);
}

void ModuleContext::stopFinished()
{
    // May be called from any thread; the host runs in its own.
    QMetaObject::invokeMethod(
        d->host,
        [host = d->host, entry = d->entry] { host->stopFinished(entry); },
        Qt::QueuedConnection);
}

QVariant SharedState::value(const QString &key, const QVariant &fallback) const
{
    QMutexLocker lock(&m_lock);
    return m_values.value(key, fallback);
}

void SharedState::insert(const QString &key, const QVariant &value)
{
    QMutexLocker lock(&m_lock);
    m_values.insert(key, value);
}

bool SharedState::remove(const QString &key)
{
    QMutexLocker lock(&m_lock);
    return m_values.remove(key) > 0;
}

bool SharedState::contains(const QString &key) const
{
    QMutexLocker lock(&m_lock);
    return m_values.contains(key);
}

QStringList SharedState::keys() const
{
    QMutexLocker lock(&m_lock);
    return m_values.keys();
}

QString moduleStateName(ModuleState state)
{
    switch (state) {
    case ModuleState::Discovered:
        return u"discovered"_s;
    case ModuleState::Resolved:
        return u"resolved"_s;
    case ModuleState::Loaded:
        return u"loaded"_s;
    case ModuleState::Started:
        return u"started"_s;
    case ModuleState::Stopping:
        return u"stopping"_s;
    case ModuleState::Stopped:
        return u"stopped"_s;
    case ModuleState::Failed:
        return u"failed"_s;
    }
    return u"unknown"_s;
}

} // namespace Mtw
