// SPDX-License-Identifier: MIT
// Throws from load(): the host must catch it and mark the module failed.
#include "fixture.h"

#include <stdexcept>

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-throws");
}

class FixtureThrows : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-throws.json")
    Q_INTERFACES(Mtw::IModule)

public:
    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        m_context = &context;
        record(QStringLiteral("load"));
        throw std::runtime_error("config key 'x' is missing");
    }
};

#include "fixture-throws.moc"
