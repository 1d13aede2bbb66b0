// SPDX-License-Identifier: MIT
// Depends on fixture-cycle-a, which depends on it.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-cycle-b");
}

class FixtureCycleB : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-cycle-b.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-cycle-b.moc"
