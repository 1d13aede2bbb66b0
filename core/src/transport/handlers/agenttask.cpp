// SPDX-License-Identifier: MIT
// agent_task and agent_tool_result: handed to the agent runner (docs/agents.md), which answers
// through the server's handle. Without any [[agents]] every agent is unknown: 404.
#include "agents/agentrunner.h"
#include "transport/connection.h"
#include "transport/handlers/handlers.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

void handleAgentTask(ProtocolContext &parts, Connection &connection, const Message &message)
{
    // An agent by name, or else the agents of a channel, as [orchestrator] strategy picks them.
    const QString agent = message.metadata.value(u"agent"_s).toString();
    if (agent.isEmpty() && message.channel.isEmpty()) {
        parts.out.send(connection,
                       Message::error(400,
                                      u"agent_task needs metadata.agent (or a channel whose "
                                      u"agents answer it)"_s,
                                      message.id));
        return;
    }
    if (!parts.server.agents) {
        parts.out.send(connection,
                       Message::error(404,
                                      agent.isEmpty() ? u"no agent answers on channel '%1'"_s.arg(
                                          message.channel)
                                                      : u"agent '%1' not found"_s.arg(agent),
                                      message.id));
        return;
    }
    parts.server.agents->submitTask(connection.connId, message);
}

void handleAgentToolResult(ProtocolContext &parts, Connection &connection, const Message &message)
{
    if (message.refId.isEmpty()) {
        parts.out.send(
            connection,
            Message::error(400, u"agent_tool_result needs ref_id = the task's id"_s, message.id));
        return;
    }
    if (!parts.server.agents) {
        parts.out.send(
            connection,
            Message::error(404, u"no running agent task '%1'"_s.arg(message.refId), message.id));
        return;
    }
    parts.server.agents->submitToolResult(connection.connId, message);
}

void startChannelAgents(ProtocolContext &parts,
                        const Connection &connection,
                        const Message &message)
{
    if (parts.server.agents && parts.server.agents->answersOn(message.channel))
        parts.server.agents->channelPublished(connection.connId, message);
}

} // namespace Mtw::Internal
