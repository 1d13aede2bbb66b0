// SPDX-License-Identifier: MIT
// Depends on fixture-bad-metadata, whose metadata is refused: fails because its dependency does.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-needs-broken");
}

class FixtureNeedsBroken : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-needs-broken.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-needs-broken.moc"
