// SPDX-License-Identifier: MIT
// Its metadata has no "version": refused before its code runs.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-bad-metadata");
}

class FixtureBadMetadata : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-bad-metadata.json")
    Q_INTERFACES(Mtw::IModule)
};

#include "fixture-bad-metadata.moc"
