// SPDX-License-Identifier: MIT
// The template half of transport/cluster.h.
#pragma once

#include "transport/connection.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

namespace Mtw::Internal {

template<typename T>
BrokerCallback<T> onWorker(ProtocolContext &parts,
                           Connection &connection,
                           bool hold,
                           std::function<void(ProtocolContext &, Connection *, Result<T>)> then)
{
    if (hold)
        connection.deciding = true;
    auto mailbox = parts.server.workers.at(parts.state.index)->mailbox();
    return [mailbox, key = connection.key, hold, then = std::move(then)](Result<T> result) {
        Worker::postForConnection(
            mailbox,
            key,
            hold,
            [then, result = std::move(result)](ProtocolContext &context, Connection *current) {
                then(context, current, result);
            });
    };
}

} // namespace Mtw::Internal
