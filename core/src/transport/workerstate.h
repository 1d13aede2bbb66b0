// SPDX-License-Identifier: MIT
#pragma once

#include "transport/metrics.h"
#include "transport/trustedproxies.h"

#include <mtw/config.h>

#include <QElapsedTimer>

#include <memory>

namespace Mtw::Internal {

// The settings a configuration reload changes in a running worker (the limits, allowed
// origins, trusted proxies: the keys configkeys.cpp marks live). Immutable: the server makes
// one per reload and posts it to every worker, which swaps it between two events, so nothing
// on a worker locks or loads an atomic to read it (docs/architecture.md#configuration-reload).
struct LiveSettings
{
    explicit LiveSettings(const Config &running)
        : config(running)
        , trustedProxies(running.server.trustedProxies)
    { }

    const Config config;
    const TrustedProxies trustedProxies;
};

// What every part of one worker reads: its index, its clock and where it is in its life.
// Worker thread only.
struct WorkerState
{
    WorkerState(int workerIndex, std::shared_ptr<const LiveSettings> settings)
        : index(workerIndex)
        , live(std::move(settings))
    {
        clock.start();
    }

    qint64 now() const { return clock.elapsed(); }
    // The running configuration as of the last reload this worker took. Keys that need a
    // restart are read from ServerContext::config, which never changes.
    const Config &config() const { return live->config; }
    const TrustedProxies &trustedProxies() const { return live->trustedProxies; }

    const int index;
    std::shared_ptr<const LiveSettings> live; // replaced by Worker::postReconfigure
    QElapsedTimer clock;                      // lastSeen, closingSince, pending handshakes: ms
    bool refusingPublishes = false;           // shutdown, first step: publishes get 503
    bool shuttingDown = false; // second step: connections close, nothing new is accepted
    // Written by this worker only (also through the parts that hold the state const); /metrics
    // sums the workers'.
    mutable WorkerMetrics metrics;
};

} // namespace Mtw::Internal
