// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>
#include <mtw/module.h>
#include <mtw/result.h>

#include <QJsonObject>
#include <QList>
#include <QString>

namespace Mtw {

enum class ModuleState { Discovered, Resolved, Loaded, Started, Stopping, Stopped, Failed };

MTW_CORE_EXPORT QString moduleStateName(ModuleState state); // "started", "failed", ...

struct ModuleDependency
{
    QString id;
    QString versionRange; // e.g. ">=1.0 <2", "^1.2", "1.2"; empty = any
    friend bool operator==(const ModuleDependency &, const ModuleDependency &) = default;
};

// The JSON compiled into a plugin (Q_PLUGIN_METADATA FILE), read before any plugin code runs:
// {"id", "name", "version", "apiVersion", "kind", "description", "license",
//  "dependencies": [{"id", "version"}]}
struct MTW_CORE_EXPORT ModuleMetadata
{
    QString id;
    QString name;
    QString version;
    int apiVersion = ModuleApiVersion;
    QString kind; // auth, storage, broker, agent, service ...
    QString description;
    QString license;
    QList<ModuleDependency> dependencies;

    // Validates the fields; errors name the field and the value.
    static Result<ModuleMetadata> fromJson(const QJsonObject &object);
    friend bool operator==(const ModuleMetadata &, const ModuleMetadata &) = default;
};

// One module as the host sees it, for the admin view and logs.
struct ModuleStatus
{
    ModuleMetadata metadata;
    QString path; // the plugin file; empty for modules compiled into the program
    ModuleState state = ModuleState::Discovered;
    QString error; // why it failed, in words a user can act on
    ModuleHealth health;
    bool required = false;
};

} // namespace Mtw
