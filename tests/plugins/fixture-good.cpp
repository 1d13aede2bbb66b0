// SPDX-License-Identifier: MIT
// A well-behaved module: records load, start and stop.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-good");
}

class FixtureGood : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-good.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-good.moc"
