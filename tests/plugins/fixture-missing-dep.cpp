// SPDX-License-Identifier: MIT
// Depends on a module that does not exist.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-missing-dep");
}

class FixtureMissingDep : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-missing-dep.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-missing-dep.moc"
