// SPDX-License-Identifier: MIT
// Loads, then refuses to start.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-start-fails");
}

class FixtureStartFails : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-start-fails.json")
    Q_INTERFACES(Mtw::IModule)

public:
    Mtw::Result<void> start() override
    {
        record(QStringLiteral("start"));
        return Mtw::fail(503, QStringLiteral("cannot reach its backend at 127.0.0.1:9"));
    }
};

#include "fixture-start-fails.moc"
