// SPDX-License-Identifier: MIT
// The runner's per-task state, shared by agentrunner.cpp and agenttools.cpp. Agent thread only.
#pragma once

#include "agents/agentrunner.h"
#include "modules/agent_p.h"

#include <QElapsedTimer>
#include <QHash>
#include <QStringList>

namespace Mtw::Internal {

// The tools the server serves itself (docs/agents.md#tools).
const QStringList &builtinToolNames();

struct AgentRunner::Agent
{
    AgentConfig config;
    AgentMetrics *metrics = nullptr; // owned by the runner's m_metrics
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

// The agents the strategy gives a task to (docs/agents.md#orchestrator).
struct AgentRunner::Route
{
    QList<Agent *> agents; // pipeline: its steps
    bool pipeline = false;
};

// One task that several agent runs answer: a pipeline's steps (one after the other), or the
// members of a direct task's fan-out (at once). Shared by those runs.
struct AgentRunner::Group
{
    enum class Kind { FanOut, Pipeline };
    Kind kind = Kind::FanOut;
    QString id;     // the task's id
    QString connId; // the client that asked
    QList<Agent *> agents;
    QJsonArray steps; // pipeline: what each finished step said of itself
    int step = 0;     // pipeline: the running step
    qint64 tokensIn = 0;
    qint64 tokensOut = 0;
    // Fan-out of a direct task: the client gets one agent's stream at a time, whole, so that a
    // client reading the task's chunks as one text (the TypeScript client) gets the answers one
    // after the other instead of interleaved. The others' chunks wait here.
    QList<quint64> members; // serials, in the agents' order
    quint64 live = 0;       // whose chunks go out as they come; 0 = the next to speak
    QHash<quint64, QList<Message>> held;
    QHash<quint64, QJsonObject> results; // ended members: {agent, usage, ...} or {agent, error}
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
    std::shared_ptr<Group> group; // a pipeline or fan-out it is part of
    bool silent = false;          // a pipeline's inner step: its text is the next step's input
    QElapsedTimer clock;          // since it started running
};

} // namespace Mtw::Internal
