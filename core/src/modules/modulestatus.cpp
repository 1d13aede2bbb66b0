// SPDX-License-Identifier: MIT
// The values of <mtw/modulestatus.h> and ModuleHealth. Their members live here, not in the
// headers, so that adding one changes nothing for a compiled plugin.
#include "modules/sharedvalue_p.h"
#include "modules/version.h"

#include <mtw/modulestatus.h>

#include <QJsonArray>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace Internal {

class ModuleHealthPrivate : public QSharedData
{
public:
    HealthStatus status = HealthStatus::Healthy;
    QString reason;
};

class ModuleDependencyPrivate : public QSharedData
{
public:
    QString id;
    QString versionRange;
};

class ModuleMetadataPrivate : public QSharedData
{
public:
    QString id;
    QString name;
    QString version;
    int apiVersion = ModuleApiVersion;
    QString kind;
    QString description;
    QString license;
    QList<ModuleDependency> dependencies;
};

class ModuleStatusPrivate : public QSharedData
{
public:
    ModuleMetadata metadata;
    QString path;
    ModuleState state = ModuleState::Discovered;
    QString error;
    ModuleHealth health;
    bool required = false;
};

} // namespace Internal

using DependencyList = QList<ModuleDependency>;

MTW_DEFINE_SHARED_VALUE(ModuleHealth)
MTW_SHARED_SCALAR_PROPERTY(ModuleHealth, HealthStatus, status, setStatus, status)
MTW_SHARED_PROPERTY(ModuleHealth, QString, reason, setReason, reason)

ModuleHealth::ModuleHealth(HealthStatus status, const QString &reason)
    : ModuleHealth()
{
    d->status = status;
    d->reason = reason;
}

MTW_DEFINE_SHARED_VALUE(ModuleDependency)
MTW_SHARED_PROPERTY(ModuleDependency, QString, id, setId, id)
MTW_SHARED_PROPERTY(ModuleDependency, QString, versionRange, setVersionRange, versionRange)

ModuleDependency::ModuleDependency(const QString &id, const QString &versionRange)
    : ModuleDependency()
{
    d->id = id;
    d->versionRange = versionRange;
}

bool operator==(const ModuleDependency &a, const ModuleDependency &b)
{
    return a.id() == b.id() && a.versionRange() == b.versionRange();
}

MTW_DEFINE_SHARED_VALUE(ModuleMetadata)
MTW_SHARED_PROPERTY(ModuleMetadata, QString, id, setId, id)
MTW_SHARED_PROPERTY(ModuleMetadata, QString, name, setName, name)
MTW_SHARED_PROPERTY(ModuleMetadata, QString, version, setVersion, version)
MTW_SHARED_SCALAR_PROPERTY(ModuleMetadata, int, apiVersion, setApiVersion, apiVersion)
MTW_SHARED_PROPERTY(ModuleMetadata, QString, kind, setKind, kind)
MTW_SHARED_PROPERTY(ModuleMetadata, QString, description, setDescription, description)
MTW_SHARED_PROPERTY(ModuleMetadata, QString, license, setLicense, license)
MTW_SHARED_PROPERTY(ModuleMetadata, DependencyList, dependencies, setDependencies, dependencies)

bool operator==(const ModuleMetadata &a, const ModuleMetadata &b)
{
    const Internal::ModuleMetadataPrivate &x = *a.d;
    const Internal::ModuleMetadataPrivate &y = *b.d;
    return std::tie(x.id, x.name, x.version, x.apiVersion, x.kind, x.description, x.license)
        == std::tie(y.id, y.name, y.version, y.apiVersion, y.kind, y.description, y.license)
        && x.dependencies == y.dependencies;
}

MTW_DEFINE_SHARED_VALUE(ModuleStatus)
MTW_SHARED_PROPERTY(ModuleStatus, ModuleMetadata, metadata, setMetadata, metadata)
MTW_SHARED_PROPERTY(ModuleStatus, QString, path, setPath, path)
MTW_SHARED_SCALAR_PROPERTY(ModuleStatus, ModuleState, state, setState, state)
MTW_SHARED_PROPERTY(ModuleStatus, QString, error, setError, error)
MTW_SHARED_PROPERTY(ModuleStatus, ModuleHealth, health, setHealth, health)
MTW_SHARED_SCALAR_PROPERTY(ModuleStatus, bool, isRequired, setRequired, required)

Result<ModuleMetadata> ModuleMetadata::fromJson(const QJsonObject &object)
{
    if (object.isEmpty())
        return fail(400,
                    u"no metadata: add Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE \"<id>.json\")"_s);
    ModuleMetadata metadata;
    Internal::ModuleMetadataPrivate &m = *metadata.d;
    const auto text = [&](QLatin1String key, QString &out, bool required) -> Result<void> {
        const QJsonValue value = object.value(key);
        if (value.isUndefined() && !required)
            return {};
        if (!value.isString() || (required && value.toString().isEmpty()))
            return fail(400, u"\"%1\" must be a non-empty string"_s.arg(key));
        out = value.toString();
        return {};
    };
    for (const auto &[key, out, required] : {std::tuple{"id"_L1, &m.id, true},
                                             std::tuple{"version"_L1, &m.version, true},
                                             std::tuple{"name"_L1, &m.name, false},
                                             std::tuple{"kind"_L1, &m.kind, false},
                                             std::tuple{"description"_L1, &m.description, false},
                                             std::tuple{"license"_L1, &m.license, false}}) {
        if (const auto ok = text(key, *out, required); !ok)
            return tl::unexpected(ok.error());
    }
    if (const auto version = Internal::Version::parse(m.version); !version)
        return fail(400, u"\"version\": "_s + version.error().message);
    const QJsonValue api = object.value("apiVersion"_L1);
    if (!api.isDouble() || api.toDouble() != double(api.toInt()) || api.toInt() < 1)
        return fail(400, u"\"apiVersion\" must be a positive integer"_s);
    m.apiVersion = api.toInt();
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
        m.dependencies.append(ModuleDependency(id, range));
    }
    if (m.name.isEmpty())
        m.name = m.id;
    return metadata;
}

} // namespace Mtw
