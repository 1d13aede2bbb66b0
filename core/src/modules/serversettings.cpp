// SPDX-License-Identifier: MIT
#include "modules/serversettings_p.h"
#include "modules/sharedvalue_p.h"

#include <mtw/configschema.h>

#include <algorithm>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace Internal {

// Every top-level key of the config schema (entries of [[channels]] and [[modules]] are not
// settings of the server), so a key the schema gains is here too. The admin secret stays out: a
// module has no business with it.
ServerSettings ServerSettingsPrivate::fromConfig(const Config &config)
{
    ServerSettings settings;
    QHash<QString, QVariant> &v = settings.d->values;
    for (const ConfigKey &key : ConfigSchema::keys()) {
        if (key.isEntryKey() || key.name == "admin.token"_L1 || key.name == "admin.token_file"_L1)
            continue;
        v.insert(key.name, ConfigSchema::value(config, key.name));
    }
    return settings;
}

} // namespace Internal

MTW_DEFINE_SHARED_VALUE(ServerSettings)

QVariant ServerSettings::value(QStringView dottedKey) const
{
    return d->values.value(dottedKey.toString());
}

bool ServerSettings::contains(QStringView dottedKey) const
{
    return d->values.contains(dottedKey.toString());
}

QStringList ServerSettings::keys() const
{
    QStringList keys = d->values.keys();
    std::sort(keys.begin(), keys.end());
    return keys;
}

QString ServerSettings::host() const
{
    return value(u"server.host").toString();
}

int ServerSettings::port() const
{
    return value(u"server.port").toInt();
}

int ServerSettings::workers() const
{
    return value(u"server.workers").toInt();
}

} // namespace Mtw
