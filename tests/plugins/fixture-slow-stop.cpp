// SPDX-License-Identifier: MIT
// Stops asynchronously and never calls stopFinished(): the host must give up at its deadline.
// Config probe_ms: stop() also starts a timer that records "probe:fixture-slow-stop" after that
// many ms. Started before the host starts its deadline timer, a shorter one fires first, so
// what the host did before the probe it did before its deadline too.
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
        if (const int probe = setting("probe_ms").toInt(); probe > 0)
            QTimer::singleShot(probe, Qt::PreciseTimer, this, [this] {
                record(QStringLiteral("probe"));
            });
        return false;
    }
};

#include "fixture-slow-stop.moc"
