// SPDX-License-Identifier: MIT
// Depends on fixture-cycle-a: fails because its dependency does, not as part of the cycle.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-needs-cycle");
}

class FixtureNeedsCycle : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-needs-cycle.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-needs-cycle.moc"
