// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/serversettings.h>

#include <QHash>
#include <QSharedData>

namespace Mtw::Internal {

class ServerSettingsPrivate : public QSharedData
{
public:
    // The view modules get of `config`: every key of the tables of today's Config, by dotted
    // TOML name, except the secrets.
    static ServerSettings fromConfig(const Config &config);

    QHash<QString, QVariant> values;
};

} // namespace Mtw::Internal
