// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QString>

namespace Mtw::Internal {

// The seam to other nodes of a cluster (a Redis broker comes in behind it). forward() gets
// every publish this node accepted, from a client or through ServerHandle::publish, once its
// local delivery is queued; what other nodes published comes back in through
// publishFromOutside(..., PublishOrigin::Broker) and is delivered here, never forwarded again.
// Called from I/O worker threads and the server's thread, concurrently: implementations must be
// thread-safe and must not block (queue the envelope and return).
class Broker
{
public:
    virtual ~Broker() = default;
    virtual void forward(const QString &channel, const QByteArray &envelope) = 0;
};

} // namespace Mtw::Internal
