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

#include <atomic>
#include <memory>

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

// Counters of the agent runner, read by metrics and the admin view.
struct AgentCounters
{
    std::atomic<qint64> running{0};
    std::atomic<qint64> queued{0};
    std::atomic<qint64> completed{0};
    std::atomic<qint64> failed{0};
    std::atomic<qint64> providerErrors{0};
    std::atomic<qint64> tokensIn{0};
    std::atomic<qint64> tokensOut{0};
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

    const AgentCounters &counters() const { return m_counters; }

private:
    struct Agent;
    struct Task;
    struct PendingTool;

    Agent *findAgent(const QString &name);
    void enqueue(std::unique_ptr<Task> task);
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
    AgentCounters m_counters;
};

// The prompt of a task or a channel message as text: a Text payload, a Json string, a Json
// object's "prompt", "text" or "content" string, or else the compact JSON.
QString promptText(const Payload &payload);
// A JSON value as text: a string as it is, anything else compact JSON.
QString compactJson(const QJsonValue &value);

} // namespace Mtw::Internal
