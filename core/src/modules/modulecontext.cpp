// SPDX-License-Identifier: MIT
#include "modules/modulehost.h"
#include "modules/version.h"

#include <mtw/module.h>
#include <mtw/modulestatus.h>

#include <QJsonArray>

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

const Config &ModuleContext::serverConfig() const
{
    return d->host->config();
}

ServerEvents *ModuleContext::events() const
{
    return d->host->events();
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

Result<ModuleMetadata> ModuleMetadata::fromJson(const QJsonObject &object)
{
    if (object.isEmpty())
        return fail(400,
                    u"no metadata: add Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE \"<id>.json\")"_s);
    ModuleMetadata metadata;
    const auto text = [&](QLatin1String key, QString &out, bool required) -> Result<void> {
        const QJsonValue value = object.value(key);
        if (value.isUndefined() && !required)
            return {};
        if (!value.isString() || (required && value.toString().isEmpty()))
            return fail(400, u"\"%1\" must be a non-empty string"_s.arg(key));
        out = value.toString();
        return {};
    };
    for (const auto &[key, out, required] :
         {std::tuple{"id"_L1, &metadata.id, true},
          std::tuple{"version"_L1, &metadata.version, true},
          std::tuple{"name"_L1, &metadata.name, false},
          std::tuple{"kind"_L1, &metadata.kind, false},
          std::tuple{"description"_L1, &metadata.description, false},
          std::tuple{"license"_L1, &metadata.license, false}}) {
        if (const auto ok = text(key, *out, required); !ok)
            return tl::unexpected(ok.error());
    }
    if (const auto version = Internal::Version::parse(metadata.version); !version)
        return fail(400, u"\"version\": "_s + version.error().message);
    const QJsonValue api = object.value("apiVersion"_L1);
    if (!api.isDouble() || api.toDouble() != double(api.toInt()) || api.toInt() < 1)
        return fail(400, u"\"apiVersion\" must be a positive integer"_s);
    metadata.apiVersion = api.toInt();
    const QJsonValue dependencies = object.value("dependencies"_L1);
    if (!dependencies.isUndefined() && !dependencies.isArray())
        return fail(400, u"\"dependencies\" must be an array of {\"id\", \"version\"}"_s);
    for (const QJsonValue &item : dependencies.toArray()) {
        const QJsonObject dependency = item.toObject();
        const QString id = dependency.value("id"_L1).toString();
        if (id.isEmpty())
            return fail(400, u"each dependency needs a non-empty \"id\""_s);
        const QString range = dependency.value("version"_L1).toString();
        if (const auto parsed = Internal::VersionRange::parse(range); !parsed)
            return fail(400, u"dependency '%1': %2"_s.arg(id, parsed.error().message));
        metadata.dependencies.append({id, range});
    }
    if (metadata.name.isEmpty())
        metadata.name = metadata.id;
    return metadata;
}

} // namespace Mtw
