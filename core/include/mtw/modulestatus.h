// SPDX-License-Identifier: MIT
// What the server knows about a module: its metadata (from the plugin's JSON or given in code)
// and its state, for the admin view, logs and Server::modules(). All implicitly shared values.
#pragma once

#include <mtw/global.h>
#include <mtw/module.h>
#include <mtw/result.h>

#include <QJsonObject>
#include <QList>
#include <QSharedDataPointer>
#include <QString>

namespace Mtw {

enum class ModuleState { Discovered, Resolved, Loaded, Started, Stopping, Stopped, Failed };

MTW_CORE_EXPORT QString moduleStateName(ModuleState state); // "started", "failed", ...

namespace Internal {
class ModuleDependencyPrivate;
class ModuleMetadataPrivate;
class ModuleStatusPrivate;
} // namespace Internal

// A module that must be loaded and started before this one.
class MTW_CORE_EXPORT ModuleDependency
{
public:
    MTW_DECLARE_SHARED_VALUE(ModuleDependency)
    ModuleDependency(const QString &id, const QString &versionRange);

    QString id() const;
    void setId(const QString &id);
    QString versionRange() const; // e.g. ">=1.0 <2", "^1.2", "1.2"; empty = any
    void setVersionRange(const QString &range);

    friend MTW_CORE_EXPORT bool operator==(const ModuleDependency &a, const ModuleDependency &b);

private:
    QSharedDataPointer<Internal::ModuleDependencyPrivate> d;
};

// The JSON compiled into a plugin (Q_PLUGIN_METADATA FILE), read before any plugin code runs:
// {"id", "name", "version", "apiVersion", "kind", "description", "license",
//  "dependencies": [{"id", "version"}]}
class MTW_CORE_EXPORT ModuleMetadata
{
public:
    MTW_DECLARE_SHARED_VALUE(ModuleMetadata) // apiVersion = ModuleApiVersion, the rest empty

    QString id() const;
    void setId(const QString &id);
    QString name() const; // for people; fromJson() defaults it to the id
    void setName(const QString &name);
    QString version() const; // major.minor.patch
    void setVersion(const QString &version);
    int apiVersion() const;
    void setApiVersion(int version);
    QString kind() const; // auth, storage, broker, agent, service ...
    void setKind(const QString &kind);
    QString description() const;
    void setDescription(const QString &description);
    QString license() const;
    void setLicense(const QString &license);
    QList<ModuleDependency> dependencies() const;
    void setDependencies(const QList<ModuleDependency> &dependencies);

    // Validates the fields; errors name the field and the value.
    static Result<ModuleMetadata> fromJson(const QJsonObject &object);
    friend MTW_CORE_EXPORT bool operator==(const ModuleMetadata &a, const ModuleMetadata &b);

private:
    QSharedDataPointer<Internal::ModuleMetadataPrivate> d;
};

// One module as the host sees it, for the admin view and logs.
class MTW_CORE_EXPORT ModuleStatus
{
public:
    MTW_DECLARE_SHARED_VALUE(ModuleStatus)

    ModuleMetadata metadata() const;
    void setMetadata(const ModuleMetadata &metadata);
    QString path() const; // the plugin file; empty for modules compiled into the program
    void setPath(const QString &path);
    ModuleState state() const;
    void setState(ModuleState state);
    QString error() const; // why it failed, in words a user can act on
    void setError(const QString &error);
    ModuleHealth health() const;
    void setHealth(const ModuleHealth &health);
    bool isRequired() const;
    void setRequired(bool required);

private:
    QSharedDataPointer<Internal::ModuleStatusPrivate> d;
};

} // namespace Mtw
