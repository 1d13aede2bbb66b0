// SPDX-License-Identifier: MIT
// A plugin built for module API 1: its interface id is "org.mtwserver.IModule/1". Refused from
// its metadata, before any of its code runs. It cannot be built against today's headers (their
// IModule is API 2), so it declares only what the server reads: the IID and the JSON.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-api1");
}

class FixtureApi1 : public QObject
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID "org.mtwserver.IModule/1" FILE "fixture-api1.json")
};

#include "fixture-api1.moc"
