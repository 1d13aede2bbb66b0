// SPDX-License-Identifier: MIT
// Depends on fixture-good ^1.0: must load and start after it and stop before it.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-dependent");
}

class FixtureDependent : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-dependent.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-dependent.moc"
