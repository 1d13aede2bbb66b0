// SPDX-License-Identifier: MIT
// Throws from its constructor, which QPluginLoader::instance() runs: the host must catch it, fail
// this module with a message naming the file, and go on.
#include "fixture.h"

#include <stdexcept>

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-ctor-throws");
}

class FixtureCtorThrows : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-ctor-throws.json")
    Q_INTERFACES(Mtw::IModule)

public:
    FixtureCtorThrows() { throw std::runtime_error("licence file /etc/fixture.lic is missing"); }
};

#include "fixture-ctor-throws.moc"
