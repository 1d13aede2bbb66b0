// SPDX-License-Identifier: MIT
// The runner's per-task state, shared by agentrunner.cpp and agenttools.cpp. Agent thread only.
#pragma once

#include "agents/agentrunner.h"
#include "modules/agent_p.h"

#include <QStringList>

namespace Mtw::Internal {

// The tools the server serves itself (docs/agents.md#tools).
const QStringList &builtinToolNames();

struct AgentRunner::Agent
{
    AgentConfig config;
    int running = 0;
    QList<quint64> queue; // serials, oldest first
};

struct AgentRunner::PendingTool
{
    QString id;
    QString name;
    QJsonObject arguments;
    bool answered = false;
    QString content;
    bool isError = false;
    std::shared_ptr<ToolReplyPrivate> reply;
    QTimer *timer = nullptr;
};

struct AgentRunner::Task
{
    quint64 serial = 0;
    Agent *agent = nullptr;
    QString id;      // the task message's id: ref_id of everything sent for it
    QString connId;  // the client that asked (channel tasks: the publisher)
    QString channel; // channel tasks: where the answer goes
    QString system;
    QJsonArray messages;
    QJsonArray clientTools; // definitions a direct task's client sent (metadata.tools)
    IAgentProvider *provider = nullptr;
    std::shared_ptr<AgentStreamPrivate> stream;
    quint64 round = 0;
    bool running = false;
    QString text;      // everything the model said, all rounds
    QString roundText; // this round's
    QJsonArray roundToolCalls;
    QList<PendingTool> tools;
    QString model;
    QString stopReason;
    qint64 tokensIn = 0;
    qint64 tokensOut = 0;
};

} // namespace Mtw::Internal
