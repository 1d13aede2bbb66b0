// SPDX-License-Identifier: MIT
#pragma once

#include "transport/metrics.h"

#include <QElapsedTimer>

namespace Mtw::Internal {

// What every part of one worker reads: its index, its clock and where it is in its life.
// Worker thread only.
struct WorkerState
{
    explicit WorkerState(int workerIndex)
        : index(workerIndex)
    {
        clock.start();
    }

    qint64 now() const { return clock.elapsed(); }

    const int index;
    QElapsedTimer clock;            // lastSeen, closingSince, pending handshakes: ms
    bool refusingPublishes = false; // shutdown, first step: publishes get 503
    bool shuttingDown = false;      // second step: connections close, nothing new is accepted
    // Written by this worker only (also through the parts that hold the state const); /metrics
    // sums the workers'.
    mutable WorkerMetrics metrics;
};

} // namespace Mtw::Internal
