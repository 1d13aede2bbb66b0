// SPDX-License-Identifier: MIT
// Declares module API 2: refused before its code runs.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-api2");
}

class FixtureApi2 : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-api2.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-api2.moc"
