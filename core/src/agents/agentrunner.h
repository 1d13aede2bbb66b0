// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/agent.h>
#include <mtw/config.h>
#include <mtw/message.h>
#include <mtw/result.h>

#include <QHash>
#include <QJsonArray>
#include <QObject>
#include <QPointer>

#include <array>
#include <atomic>
#include <memory>
#include <vector>

class QThread;
class QTimer;

namespace Mtw::Internal {

class AgentStreamPrivate;
struct AgentStreamEvent;
class ServiceDirectory;
class ToolReplyPrivate;

// What the runner asks of the server. Thread-safe (the server's implementation takes its handle
// lock); every call returns at once.
class AgentHost
{
public:
    virtual ~AgentHost() = default;
    virtual bool sendTo(const QString &connId, const Message &message) = 0;
    // To the channel's current members, not recorded (the chunks of a channel answer).
    virtual void sendToChannel(const QString &channel, const Message &message) = 0;
    // Recorded in the channel's history and delivered (the complete answer).
    virtual Result<int> publishRecorded(const QString &channel, const Message &message) = 0;
    // The channel's newest `limit` stored messages, oldest first.
    virtual Result<QList<Message>> history(const QString &channel, int limit) = 0;
    virtual Result<QJsonArray> presence(const QString &channel) = 0;
    // Json {"key","value","version"} of a key-value entry; 404 when absent.
    virtual Result<QJsonObject> kvGet(const QString &bucket, const QString &key) = 0;
};

// Upper bounds of the task duration histogram, in seconds (Prometheus `le`), then +Inf: a task
// is a provider's answer, from a fraction of a second to minutes.
inline constexpr std::array<double, 11>
    AgentDurationBuckets{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

// What a provider failure was, from the code the task failed with.
enum class ProviderErrorKind { RateLimited, BadResponse, Unavailable, Timeout, Other, Count };
ProviderErrorKind providerErrorKind(int code);
const char *providerErrorKindName(ProviderErrorKind kind); // "rate_limited", ...

// One agent's numbers (docs/metrics.md, the admin API's `agents`). Written only by the runner's
// thread, read by any thread (a scrape, the admin API): relaxed atomics, no lock. The agents are
// fixed at start, so these live as long as the runner.
struct AgentMetrics
{
    QString name; // fixed at start
    QString provider;
    QString model; // as configured; empty = the provider's default_model
    QStringList channels;
    std::atomic<qint64> running{0};
    std::atomic<qint64> queued{0};
    std::atomic<qint64> completed{0};
    std::atomic<qint64> failed{0};
    std::atomic<qint64> tokensIn{0};
    std::atomic<qint64> tokensOut{0};
    std::array<std::atomic<qint64>, size_t(ProviderErrorKind::Count)> providerErrors{};
    std::array<std::atomic<qint64>, AgentDurationBuckets.size() + 1> durationBuckets{}; // +Inf last
    std::atomic<qint64> durationSumUs{0};
    std::atomic<qint64> durationCount{0};

    qint64 providerErrorTotal() const;
    void observeDuration(qint64 microseconds);
};

// Every agent together (the admin API's counters).
struct AgentTotals
{
    qint64 running = 0;
    qint64 queued = 0;
    qint64 completed = 0;
    qint64 failed = 0;
    qint64 providerErrors = 0;
    qint64 tokensIn = 0;
    qint64 tokensOut = 0;
};

// Runs the `[[agents]]` (docs/agents.md): takes direct tasks (agent_task) and channel tasks (a
// client's publish on an agent's channel), keeps each agent within max_concurrent and its queue,
// calls the provider, streams what it says to the client or the channel, runs tool rounds and
// cancels a task whose client went away. Lives in a thread of its own ("mtw-agents"); the
// public functions are thread-safe and return at once.
class AgentRunner : public QObject
{
    Q_OBJECT

public:
    AgentRunner(const QList<AgentConfig> &agents,
                const OrchestratorConfig &orchestrator,
                const ServiceDirectory &services,
                AgentHost &host);
    ~AgentRunner() override;

    // Whether any agent answers on `channel`; from any thread, no lock (the list is fixed).
    bool answersOn(const QString &channel) const;
    bool hasAgents() const { return !m_agents.isEmpty(); }

    void submitTask(const QString &connId, const Message &task);
    void submitToolResult(const QString &connId, const Message &result);
    void channelPublished(const QString &connId, const Message &stamped);
    void connectionClosed(const QString &connId);
    // Cancels every task and stops the thread; blocks until it has stopped. Server thread.
    void shutdown();

    // One per agent, in file order; from any thread.
    const std::vector<std::unique_ptr<AgentMetrics>> &agentMetrics() const { return m_metrics; }
    AgentTotals totals() const;

private:
    struct Agent;
    struct Task;
    struct PendingTool;
    struct Group;
    struct Route;

    Agent *findAgent(const QString &name);
    QList<Agent *> agentsOn(const QString &channel) const;
    Route route(const QString &named, const QString &channel);
    std::unique_ptr<Task> makeTask(Agent &agent, const QString &id, const QString &connId);
    void enqueue(std::unique_ptr<Task> task);
    void refuse(Task &task, const Error &error);
    void nextPipelineStep(Task &task);
    void fanOutChunk(Task &task, Message chunk);
    void memberEnded(Task &task, const QJsonObject &result);
    static QJsonObject failureResult(const Task &task, const Error &error);
    void startNext(Agent &agent);
    void callProvider(Task &task);
    void onEvent(quint64 serial, quint64 round, const AgentStreamEvent &event);
    void onText(Task &task, const QString &delta);
    void onRoundComplete(Task &task, const QJsonObject &info);
    void runTools(Task &task);
    void startTool(Task &task, PendingTool &pending);
    void
    toolAnswered(quint64 serial, const QString &toolCallId, const QString &content, bool isError);
    void continueAfterTools(Task &task);
    void finish(Task &task);
    void failTask(Task &task, const Error &error);
    void release(Task &task); // ends the task: its slot goes to the next queued one
    void cancel(Task &task);
    void sendToTask(const Task &task, Message message);
    QJsonArray toolDefinitions(const Task &task) const;
    QJsonArray channelContext(const Task &task, const QString &name, const Message &trigger) const;
    void runBuiltinTool(const QString &name, const QJsonObject &arguments, const ToolReply &reply);

    QList<std::shared_ptr<Agent>> m_agents;
    const ServiceDirectory &m_services;
    AgentHost &m_host;
    QThread *m_thread = nullptr;
    QHash<quint64, std::shared_ptr<Task>> m_tasks; // by serial, running and queued
    quint64 m_nextSerial = 1;
    OrchestratorConfig m_orchestrator;
    QList<Agent *> m_pipeline;       // strategy "pipeline": its steps
    QHash<QString, quint64> m_turns; // strategy "round-robin": the next turn, by channel
    std::vector<std::unique_ptr<AgentMetrics>> m_metrics;
};

// The prompt of a task or a channel message as text: a Text payload, a Json string, a Json
// object's "prompt", "text" or "content" string, or else the compact JSON.
QString promptText(const Payload &payload);
// A JSON value as text: a string as it is, anything else compact JSON.
QString compactJson(const QJsonValue &value);

} // namespace Mtw::Internal
