// SPDX-License-Identifier: MIT
// Stops asynchronously and never calls stopFinished(): the host must give up at its deadline.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-slow-stop");
}

class FixtureSlowStop : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-slow-stop.json")
    Q_INTERFACES(Mtw::IModule)

public:
    bool stop() override
    {
        record(QStringLiteral("stop"));
        return false;
    }
};

#include "fixture-slow-stop.moc"
