// SPDX-License-Identifier: MIT
// agent_task: which agent is asked (metadata.agent). Agents arrive with the agents issue;
// until then ([[agents]] is refused at start) every agent is unknown: 404.
#include "transport/connection.h"
#include "transport/handlers/handlers.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

void handleAgentTask(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const QString agent = message.metadata.value(u"agent"_s).toString();
    if (agent.isEmpty()) {
        parts.out.send(connection,
                       Message::error(400, u"agent_task needs metadata.agent"_s, message.id));
        return;
    }
    parts.out.send(connection,
                   Message::error(404, u"agent '%1' not found"_s.arg(agent), message.id));
}

} // namespace Mtw::Internal
