// SPDX-License-Identifier: MIT
// Depends on fixture-cycle-b, which depends on it.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-cycle-a");
}

class FixtureCycleA : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-cycle-a.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-cycle-a.moc"
