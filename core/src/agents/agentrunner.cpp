// SPDX-License-Identifier: MIT
// The agent runner: tasks, queues, provider rounds, tools and delivery (docs/agents.md).
#include "agents/agentrunner.h"

#include "agents/agenttask_p.h"
#include "channels/channelpattern.h"
#include "modules/agent_p.h"
#include "modules/modulehost.h"

#include <mtw/tsan.h>
#include <mtw/ulid.h>

#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSet>
#include <QThread>
#include <QTimer>

namespace Mtw::Internal {

Q_LOGGING_CATEGORY(lcAgents, "mtw.agents", QtInfoMsg)

using namespace Qt::StringLiterals;

namespace {

QJsonObject objectSchema(const QJsonObject &properties, const QStringList &required)
{
    return QJsonObject{{u"type"_s, u"object"_s},
                       {u"properties"_s, properties},
                       {u"required"_s, QJsonArray::fromStringList(required)}};
}

QJsonObject builtinDefinition(const QString &name)
{
    const QJsonObject stringType{{u"type"_s, u"string"_s}};
    if (name == u"channel_history") {
        return {{u"name"_s, name},
                {u"description"_s,
                 u"Reads the newest messages of a channel, oldest first, as JSON envelopes."_s},
                {u"input_schema"_s,
                 objectSchema({{u"channel"_s, stringType},
                               {u"limit"_s, QJsonObject{{u"type"_s, u"integer"_s}}}},
                              {u"channel"_s})}};
    }
    if (name == u"channel_presence") {
        return {{u"name"_s, name},
                {u"description"_s, u"Lists who is subscribed to a channel (conn_id, user_id)."_s},
                {u"input_schema"_s, objectSchema({{u"channel"_s, stringType}}, {u"channel"_s})}};
    }
    return {{u"name"_s, name},
            {u"description"_s, u"Reads one entry of a key-value bucket: its value and version."_s},
            {u"input_schema"_s,
             objectSchema({{u"bucket"_s, stringType}, {u"key"_s, stringType}},
                          {u"bucket"_s, u"key"_s})}};
}

} // namespace

QString compactJson(const QJsonValue &value)
{
    if (value.isString())
        return value.toString();
    if (value.isObject())
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact));
    if (value.isArray())
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact));
    return QString::fromUtf8(QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact))
        .mid(1)
        .chopped(1);
}

namespace {

// Consecutive turns of one role become one (providers want user and assistant to alternate),
// and the conversation starts with the user.
void appendTurn(QJsonArray &messages, const QString &role, const QString &content)
{
    if (content.isEmpty())
        return;
    if (messages.isEmpty() && role != u"user")
        return;
    if (!messages.isEmpty()) {
        QJsonObject last = messages.last().toObject();
        if (last.value(u"role"_s).toString() == role && !last.contains(u"tool_calls"_s)) {
            last.insert(u"content"_s, last.value(u"content"_s).toString() + u"\n"_s + content);
            messages.replace(messages.size() - 1, last);
            return;
        }
    }
    messages.append(QJsonObject{{u"role"_s, role}, {u"content"_s, content}});
}

} // namespace

QString promptText(const Payload &payload)
{
    switch (payload.kind) {
    case Payload::Kind::Text:
        return payload.text;
    case Payload::Kind::Json:
        if (payload.json.isObject()) {
            const QJsonObject object = payload.json.toObject();
            for (const auto &key : {u"prompt"_s, u"text"_s, u"content"_s, u"message"_s}) {
                if (object.value(key).isString())
                    return object.value(key).toString();
            }
        }
        return compactJson(payload.json);
    case Payload::Kind::Binary:
    case Payload::Kind::None:
        break;
    }
    return QString();
}

ProviderErrorKind providerErrorKind(int code)
{
    switch (code) {
    case 429:
        return ProviderErrorKind::RateLimited;
    case 502:
        return ProviderErrorKind::BadResponse;
    case 503:
        return ProviderErrorKind::Unavailable;
    case 504:
        return ProviderErrorKind::Timeout;
    default:
        return ProviderErrorKind::Other;
    }
}

const char *providerErrorKindName(ProviderErrorKind kind)
{
    switch (kind) {
    case ProviderErrorKind::RateLimited:
        return "rate_limited";
    case ProviderErrorKind::BadResponse:
        return "bad_response";
    case ProviderErrorKind::Unavailable:
        return "unavailable";
    case ProviderErrorKind::Timeout:
        return "timeout";
    case ProviderErrorKind::Other:
    case ProviderErrorKind::Count:
        break;
    }
    return "other";
}

qint64 AgentMetrics::providerErrorTotal() const
{
    qint64 total = 0;
    for (const auto &count : providerErrors)
        total += count.load(std::memory_order_relaxed);
    return total;
}

void AgentMetrics::observeDuration(qint64 microseconds)
{
    size_t bucket = 0;
    while (bucket < AgentDurationBuckets.size()
           && double(microseconds) / 1e6 > AgentDurationBuckets[bucket])
        ++bucket;
    durationBuckets[bucket].fetch_add(1, std::memory_order_relaxed);
    durationSumUs.fetch_add(microseconds, std::memory_order_relaxed);
    durationCount.fetch_add(1, std::memory_order_relaxed);
}

AgentRunner::AgentRunner(const QList<AgentConfig> &agents,
                         const OrchestratorConfig &orchestrator,
                         const ServiceDirectory &services,
                         AgentHost &host)
    : m_services(services)
    , m_host(host)
    , m_orchestrator(orchestrator)
{
    for (const AgentConfig &config : agents) {
        auto agent = std::make_shared<Agent>();
        agent->config = config;
        auto metrics = std::make_unique<AgentMetrics>();
        metrics->name = config.name;
        metrics->provider = config.provider;
        metrics->model = config.model;
        metrics->channels = config.channels;
        agent->metrics = metrics.get();
        m_metrics.push_back(std::move(metrics));
        m_agents.append(agent);
    }
    if (m_orchestrator.strategy == u"pipeline") {
        for (const QString &name : std::as_const(m_orchestrator.pipeline)) {
            if (Agent *agent = findAgent(name)) // the config checked that each exists
                m_pipeline.append(agent);
        }
    }
    m_thread = new QThread;
    m_thread->setObjectName(u"mtw-agents"_s);
    moveToThread(m_thread);
    m_thread->start();
}

AgentRunner::~AgentRunner()
{
    if (m_thread) {
        m_thread->quit();
        m_thread->wait();
        delete m_thread;
    }
}

AgentTotals AgentRunner::totals() const
{
    AgentTotals totals;
    for (const auto &m : m_metrics) {
        totals.running += m->running.load(std::memory_order_relaxed);
        totals.queued += m->queued.load(std::memory_order_relaxed);
        totals.completed += m->completed.load(std::memory_order_relaxed);
        totals.failed += m->failed.load(std::memory_order_relaxed);
        totals.providerErrors += m->providerErrorTotal();
        totals.tokensIn += m->tokensIn.load(std::memory_order_relaxed);
        totals.tokensOut += m->tokensOut.load(std::memory_order_relaxed);
    }
    return totals;
}

bool AgentRunner::answersOn(const QString &channel) const
{
    for (const auto &agent : m_agents) {
        for (const QString &pattern : agent->config.channels) {
            if (channelPatternMatches(pattern, channel))
                return true;
        }
    }
    return false;
}

AgentRunner::Agent *AgentRunner::findAgent(const QString &name)
{
    for (const auto &agent : std::as_const(m_agents)) {
        if (agent->config.name == name)
            return agent.get();
    }
    return nullptr;
}

QList<AgentRunner::Agent *> AgentRunner::agentsOn(const QString &channel) const
{
    QList<Agent *> matching;
    for (const auto &agent : m_agents) {
        for (const QString &pattern : agent->config.channels) {
            if (channelPatternMatches(pattern, channel)) {
                matching.append(agent.get());
                break;
            }
        }
    }
    return matching;
}

// The strategy (docs/agents.md#orchestrator): `named` is a direct task's metadata.agent (a
// client that names an agent gets it), else the agents whose channels match `channel` share it.
AgentRunner::Route AgentRunner::route(const QString &named, const QString &channel)
{
    QList<Agent *> matching;
    if (!named.isEmpty()) {
        if (Agent *agent = findAgent(named))
            matching.append(agent);
    } else if (!channel.isEmpty()) {
        matching = agentsOn(channel);
    }
    if (matching.isEmpty())
        return {};
    const QString &strategy = m_orchestrator.strategy;
    if (!m_pipeline.isEmpty() && matching.contains(m_pipeline.first()))
        return {m_pipeline, true};
    if (!named.isEmpty() || strategy == u"fan-out")
        return {matching, false};
    if (strategy == u"round-robin") {
        quint64 &turn = m_turns[channel];
        return {{matching.at(qsizetype(turn++ % quint64(matching.size())))}, false};
    }
    return {{matching.first()}, false}; // channel-based, and pipeline off its first agent
}

std::unique_ptr<AgentRunner::Task>
AgentRunner::makeTask(Agent &agent, const QString &id, const QString &connId)
{
    auto task = std::make_unique<Task>();
    task->serial = m_nextSerial++;
    task->agent = &agent;
    task->id = id;
    task->connId = connId;
    task->system = agent.config.system;
    return task;
}

void AgentRunner::submitTask(const QString &connId, const Message &message)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, message] {
            const QString name = message.metadata.value(u"agent"_s).toString();
            const Route target = route(name, message.channel);
            if (target.agents.isEmpty()) {
                m_host.sendTo(
                    connId,
                    Message::error(404,
                                   name.isEmpty()
                                       ? u"no agent answers on channel '%1'"_s.arg(message.channel)
                                       : u"agent '%1' not found"_s.arg(name),
                                   message.id));
                return;
            }
            QString extraSystem;
            QJsonArray messages;
            for (const QJsonValue &turn : message.metadata.value(u"context"_s).toArray()) {
                const QJsonObject object = turn.toObject();
                const QString role = object.value(u"role"_s).toString();
                const QString content = object.value(u"content"_s).toString();
                if (role == u"system")
                    extraSystem += u"\n"_s + content;
                else if (role == u"user" || role == u"assistant")
                    appendTurn(messages, role, content);
            }
            appendTurn(messages, u"user"_s, promptText(message.payload));
            if (messages.isEmpty()) {
                m_host.sendTo(connId,
                              Message::error(400, u"agent_task needs a prompt"_s, message.id));
                return;
            }
            std::shared_ptr<Group> group;
            if (target.pipeline || target.agents.size() > 1) {
                group = std::make_shared<Group>();
                group->kind = target.pipeline ? Group::Kind::Pipeline : Group::Kind::FanOut;
                group->id = message.id;
                group->connId = connId;
                group->agents = target.agents;
            }
            // A pipeline starts with its first step; a fan-out gives every member the task.
            const auto members = target.pipeline ? target.agents.mid(0, 1) : target.agents;
            std::vector<std::unique_ptr<Task>> tasks;
            for (Agent *agent : members) {
                auto task = makeTask(*agent, message.id, connId);
                QString system =
                    message.metadata.value(u"system_prompt"_s).toString(agent->config.system);
                if (!extraSystem.isEmpty())
                    system = system.isEmpty() ? extraSystem.mid(1) : system + extraSystem;
                task->system = system;
                task->messages = messages;
                task->clientTools = message.metadata.value(u"tools"_s).toArray();
                task->group = group;
                task->silent = target.pipeline && target.agents.size() > 1;
                if (group && !target.pipeline)
                    group->members.append(task->serial);
                tasks.push_back(std::move(task));
            }
            for (auto &task : tasks)
                enqueue(std::move(task));
        },
        Qt::QueuedConnection);
}

void AgentRunner::channelPublished(const QString &connId, const Message &stamped)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, stamped] {
            if (promptText(stamped.payload).isEmpty())
                return; // nothing to answer (a None or Binary payload)
            const Route target = route(QString(), stamped.channel);
            std::shared_ptr<Group> group;
            if (target.pipeline) {
                group = std::make_shared<Group>();
                group->kind = Group::Kind::Pipeline;
                group->id = stamped.id;
                group->connId = connId;
                group->agents = target.agents;
            }
            // Each agent answers on its own (fan-out) or the pipeline's first step starts.
            const auto members = target.pipeline ? target.agents.mid(0, 1) : target.agents;
            for (Agent *agent : members) {
                auto task = makeTask(*agent, stamped.id, connId);
                task->channel = stamped.channel;
                task->messages = channelContext(*task, agent->config.name, stamped);
                task->group = group;
                task->silent = target.pipeline && target.agents.size() > 1;
                enqueue(std::move(task));
            }
        },
        Qt::QueuedConnection);
}

// The channel's recent history as the conversation: the agent's own answers are the assistant's
// turns, everything else the users'.
QJsonArray
AgentRunner::channelContext(const Task &task, const QString &name, const Message &trigger) const
{
    QJsonArray messages;
    const int limit = task.agent->config.contextMessages;
    const auto history = limit > 0 ? m_host.history(task.channel, limit + 1)
                                   : Result<QList<Message>>(QList<Message>());
    const QString self = u"agent:"_s + name;
    QList<Message> earlier = history ? *history : QList<Message>();
    // The publish that made this a task comes last, whether or not the history has it yet (in a
    // cluster it arrives through the broker).
    earlier.removeIf([&](const Message &message) { return message.id == trigger.id; });
    while (earlier.size() > limit)
        earlier.removeFirst();
    earlier.append(trigger);
    for (const Message &message : std::as_const(earlier)) {
        const QString from = message.metadata.value(u"from"_s).toString();
        if (from.startsWith(u"agent:"_s) && from != self)
            appendTurn(messages,
                       u"user"_s,
                       u"[%1] "_s.arg(from.mid(6)) + promptText(message.payload));
        else
            appendTurn(messages,
                       from == self ? u"assistant"_s : u"user"_s,
                       promptText(message.payload));
    }
    return messages;
}

void AgentRunner::enqueue(std::unique_ptr<Task> owned)
{
    Agent &agent = *owned->agent;
    if (agent.running >= agent.config.maxConcurrent
        && agent.queue.size() >= agent.config.maxQueued) {
        refuse(*owned,
               Error{429,
                     u"agent '%1' is busy: %2 tasks running and %3 queued"_s.arg(agent.config.name)
                         .arg(agent.running)
                         .arg(agent.queue.size())});
        return;
    }
    const quint64 serial = owned->serial;
    m_tasks.insert(serial, std::shared_ptr<Task>(std::move(owned)));
    agent.queue.append(serial);
    agent.metrics->queued.fetch_add(1, std::memory_order_relaxed);
    startNext(agent);
}

namespace {
// "pipeline step 2 of 3: " for a pipeline's steps, so that the error names where it stopped.
QString stepPrefix(int step, int steps)
{
    return steps > 1 ? u"pipeline step %1 of %2: "_s.arg(step + 1).arg(steps) : QString();
}
} // namespace

// What a fan-out's agent_complete says of a member that failed.
QJsonObject AgentRunner::failureResult(const Task &task, const Error &error)
{
    return {{u"agent"_s, task.agent->config.name},
            {u"error"_s, QJsonObject{{u"code"_s, error.code}, {u"message"_s, error.message}}}};
}

// A task that never got a slot (its agent's queue is full).
void AgentRunner::refuse(Task &task, const Error &error)
{
    task.agent->metrics->failed.fetch_add(1, std::memory_order_relaxed);
    if (task.group && task.group->kind == Group::Kind::FanOut) {
        memberEnded(task, failureResult(task, error));
        return;
    }
    const QString prefix =
        task.group ? stepPrefix(task.group->step, int(task.group->agents.size())) : QString();
    sendToTask(task, Message::error(error.code, prefix + error.message, task.id));
}

void AgentRunner::startNext(Agent &agent)
{
    while (agent.running < agent.config.maxConcurrent && !agent.queue.isEmpty()) {
        const auto task = m_tasks.value(agent.queue.takeFirst());
        agent.metrics->queued.fetch_sub(1, std::memory_order_relaxed);
        if (!task)
            continue;
        ++agent.running;
        agent.metrics->running.fetch_add(1, std::memory_order_relaxed);
        task->running = true;
        task->clock.start();
        const auto services = m_services.snapshot();
        const QString wanted = agent.config.provider;
        for (auto it = services->agentProviders.cbegin(); it != services->agentProviders.cend();
             ++it) {
            if (it.key() == wanted || it.value().owner == wanted)
                task->provider = it.value().service;
        }
        if (!task->provider) {
            agent.metrics->providerErrors[size_t(ProviderErrorKind::Unavailable)].fetch_add(
                1,
                std::memory_order_relaxed);
            failTask(*task,
                     Error{503,
                           u"agent '%1': provider '%2' is not available (no started module "
                           u"registered it)"_s.arg(agent.config.name, wanted)});
            continue;
        }
        callProvider(*task);
    }
}

QJsonArray AgentRunner::toolDefinitions(const Task &task) const
{
    QJsonArray definitions;
    const auto services = m_services.snapshot();
    for (const QString &name : task.agent->config.tools) {
        if (builtinToolNames().contains(name)) {
            definitions.append(builtinDefinition(name));
        } else if (const auto it = services->agentTools.constFind(name);
                   it != services->agentTools.cend()) {
            IAgentTool *tool = it.value().service;
            definitions.append(QJsonObject{{u"name"_s, name},
                                           {u"description"_s, tool->description()},
                                           {u"input_schema"_s, tool->inputSchema()}});
        } else {
            // A client tool: the task's client may describe it (metadata.tools).
            QJsonObject definition{{u"name"_s, name},
                                   {u"description"_s, u"A tool the client serves."_s},
                                   {u"input_schema"_s, QJsonObject{{u"type"_s, u"object"_s}}}};
            for (const QJsonValue &given : task.clientTools) {
                const QJsonObject object = given.toObject();
                if (object.value(u"name"_s).toString() != name)
                    continue;
                if (object.value(u"description"_s).isString())
                    definition.insert(u"description"_s, object.value(u"description"_s));
                for (const auto &key : {u"input_schema"_s, u"parameters"_s, u"inputSchema"_s}) {
                    if (object.value(key).isObject())
                        definition.insert(u"input_schema"_s, object.value(key));
                }
            }
            definitions.append(definition);
        }
    }
    return definitions;
}

void AgentRunner::callProvider(Task &task)
{
    AgentRequest request;
    request.setModel(task.agent->config.model);
    request.setSystem(task.system);
    request.setMaxTokens(task.agent->config.maxTokens);
    request.setMessages(task.messages);
    request.setTools(toolDefinitions(task));
    const quint64 serial = task.serial;
    const quint64 round = ++task.round;
    task.roundText.clear();
    task.roundToolCalls = QJsonArray();
    task.stream = std::make_shared<AgentStreamPrivate>(
        u"%1-%2"_s.arg(generateUlid()).arg(round),
        [this, serial, round](AgentStreamEvent event) {
            QMetaObject::invokeMethod(
                this,
                [this, serial, round, event = std::move(event)] { onEvent(serial, round, event); },
                Qt::QueuedConnection);
        });
    try {
        task.provider->run(request, AgentStream(task.stream));
    } catch (...) {
        task.stream->close();
        task.agent->metrics->providerErrors[size_t(ProviderErrorKind::Other)].fetch_add(
            1,
            std::memory_order_relaxed);
        failTask(task,
                 Error{500, u"agent '%1': the provider threw"_s.arg(task.agent->config.name)});
    }
}

void AgentRunner::onEvent(quint64 serial, quint64 round, const AgentStreamEvent &event)
{
    const auto task = m_tasks.value(serial);
    if (!task || task->round != round)
        return; // cancelled, or a round that is over
    switch (event.kind) {
    case AgentStreamEvent::Kind::Text:
        onText(*task, event.text);
        break;
    case AgentStreamEvent::Kind::ToolCall:
        task->roundToolCalls.append(QJsonObject{{u"id"_s, event.toolId},
                                                {u"name"_s, event.toolName},
                                                {u"arguments"_s, event.object}});
        break;
    case AgentStreamEvent::Kind::Complete:
        onRoundComplete(*task, event.object);
        break;
    case AgentStreamEvent::Kind::Fail:
        task->agent->metrics->providerErrors[size_t(providerErrorKind(event.error.code))].fetch_add(
            1,
            std::memory_order_relaxed);
        failTask(*task,
                 Error{event.error.code,
                       u"agent '%1': %2"_s.arg(task->agent->config.name, event.error.message)});
        break;
    }
}

void AgentRunner::onText(Task &task, const QString &delta)
{
    if (delta.isEmpty())
        return;
    task.text += delta;
    task.roundText += delta;
    if (task.silent)
        return; // a pipeline's inner step: only the last one streams
    Message chunk = Message::create(MessageType::AgentChunk, Payload::fromText(delta));
    if (task.group && task.group->kind == Group::Kind::FanOut)
        fanOutChunk(task, chunk);
    else
        sendToTask(task, chunk);
}

void AgentRunner::onRoundComplete(Task &task, const QJsonObject &info)
{
    const QJsonObject usage = info.value(u"usage"_s).toObject();
    const qint64 in = usage.value(u"input_tokens"_s).toInteger();
    const qint64 out = usage.value(u"output_tokens"_s).toInteger();
    task.tokensIn += in;
    task.tokensOut += out;
    task.agent->metrics->tokensIn.fetch_add(in, std::memory_order_relaxed);
    task.agent->metrics->tokensOut.fetch_add(out, std::memory_order_relaxed);
    if (info.value(u"model"_s).isString())
        task.model = info.value(u"model"_s).toString();
    task.stopReason = info.value(u"stop_reason"_s).toString();
    if (task.roundToolCalls.isEmpty() || int(task.round) > task.agent->config.maxToolRounds) {
        finish(task);
        return;
    }
    runTools(task);
}

void AgentRunner::sendToTask(const Task &task, Message message)
{
    message.metadata.insert(u"agent"_s, task.agent->config.name);
    if (task.channel.isEmpty()) {
        message.refId = task.id;
        m_host.sendTo(task.connId, message);
        return;
    }
    message.channel = task.channel;
    message.metadata.insert(u"task"_s, task.id);
    message.metadata.insert(u"from"_s, u"agent:"_s + task.agent->config.name);
    if (message.type == MessageType::AgentToolCall) {
        // A client tool of a channel task is the publisher's to serve.
        message.channel.clear();
        message.refId = task.id;
        m_host.sendTo(task.connId, message);
        return;
    }
    m_host.sendToChannel(task.channel, message);
}

namespace {
QJsonObject completionInfo(const QString &model, const QString &stopReason, qint64 in, qint64 out)
{
    QJsonObject info{{u"usage"_s, QJsonObject{{u"input_tokens"_s, in}, {u"output_tokens"_s, out}}}};
    if (!model.isEmpty())
        info.insert(u"model"_s, model);
    if (!stopReason.isEmpty())
        info.insert(u"stop_reason"_s, stopReason);
    return info;
}
} // namespace

void AgentRunner::finish(Task &task)
{
    task.agent->metrics->completed.fetch_add(1, std::memory_order_relaxed);
    Group *group = task.group.get();
    if (group && group->kind == Group::Kind::Pipeline
        && group->step + 1 < int(group->agents.size())) {
        nextPipelineStep(task);
        return;
    }
    if (group && group->kind == Group::Kind::FanOut) {
        QJsonObject result =
            completionInfo(task.model, task.stopReason, task.tokensIn, task.tokensOut);
        result.insert(u"agent"_s, task.agent->config.name);
        memberEnded(task, result);
        release(task);
        return;
    }
    QJsonObject info = group
        ? completionInfo(task.model,
                         task.stopReason,
                         group->tokensIn + task.tokensIn,
                         group->tokensOut + task.tokensOut)
        : completionInfo(task.model, task.stopReason, task.tokensIn, task.tokensOut);
    if (group) { // the pipeline's last step: usage is the whole pipeline's
        QJsonArray steps = group->steps;
        steps.append(QJsonObject{{u"agent"_s, task.agent->config.name},
                                 {u"usage"_s,
                                  QJsonObject{{u"input_tokens"_s, task.tokensIn},
                                              {u"output_tokens"_s, task.tokensOut}}}});
        info.insert(u"pipeline"_s, steps);
    }
    if (task.channel.isEmpty()) {
        // After streamed chunks the payload is None: the TypeScript client would append a Text
        // payload to the streamed text a second time.
        Message done = Message::create(MessageType::AgentComplete);
        for (auto it = info.begin(); it != info.end(); ++it)
            done.metadata.insert(it.key(), it.value());
        sendToTask(task, done);
    } else {
        // One message in the channel's history, from the agent, with the whole answer.
        Message done = Message::create(MessageType::AgentComplete, Payload::fromText(task.text));
        for (auto it = info.begin(); it != info.end(); ++it)
            done.metadata.insert(it.key(), it.value());
        done.channel = task.channel;
        done.metadata.insert(u"agent"_s, task.agent->config.name);
        done.metadata.insert(u"task"_s, task.id);
        done.metadata.insert(u"from"_s, u"agent:"_s + task.agent->config.name);
        if (const auto published = m_host.publishRecorded(task.channel, done); !published) {
            qCWarning(lcAgents).noquote()
                << "agent" << task.agent->config.name << "could not publish its answer on"
                << task.channel << "-" << published.error().message;
        }
    }
    release(task);
}

// A pipeline step answered: its text is the next step's prompt (that agent's own system prompt,
// no other context), under the same task id.
void AgentRunner::nextPipelineStep(Task &task)
{
    Group &group = *task.group;
    if (task.text.trimmed().isEmpty()) {
        task.agent->metrics->completed.fetch_sub(1, std::memory_order_relaxed);
        failTask(
            task,
            Error{502, u"agent '%1' answered nothing to pass on"_s.arg(task.agent->config.name)});
        return;
    }
    group.tokensIn += task.tokensIn;
    group.tokensOut += task.tokensOut;
    group.steps.append(QJsonObject{
        {u"agent"_s, task.agent->config.name},
        {u"usage"_s,
         QJsonObject{{u"input_tokens"_s, task.tokensIn}, {u"output_tokens"_s, task.tokensOut}}}});
    ++group.step;
    auto next = makeTask(*group.agents.at(group.step), task.id, task.connId);
    next->channel = task.channel;
    appendTurn(next->messages, u"user"_s, task.text);
    next->clientTools = task.clientTools;
    next->group = task.group;
    next->silent = group.step + 1 < int(group.agents.size());
    release(task); // `task` is gone after this
    enqueue(std::move(next));
}

// A fan-out member's chunk: out now if its stream is the one the client is reading, else kept
// until the streams before it have ended.
void AgentRunner::fanOutChunk(Task &task, Message chunk)
{
    Group &group = *task.group;
    chunk.metadata.insert(u"agent"_s, task.agent->config.name);
    chunk.refId = task.id;
    if (group.live == 0)
        group.live = task.serial;
    if (group.live == task.serial)
        m_host.sendTo(group.connId, chunk);
    else
        group.held[task.serial].append(chunk);
}

// A fan-out member ended (answered or failed). The next member's stream goes out, then, once
// every member ended, one agent_complete with each agent's result (or one error if all failed).
void AgentRunner::memberEnded(Task &task, const QJsonObject &result)
{
    Group &group = *task.group;
    group.results.insert(task.serial, result);
    if (group.live == task.serial)
        group.live = 0;
    while (group.live == 0) {
        quint64 next = 0;
        for (const quint64 serial : std::as_const(group.members)) {
            if (group.held.contains(serial)) {
                next = serial;
                break;
            }
        }
        if (next == 0)
            break;
        for (const Message &chunk : group.held.take(next))
            m_host.sendTo(group.connId, chunk);
        if (!group.results.contains(next))
            group.live = next;
    }
    if (group.results.size() < group.members.size())
        return;
    QJsonArray agents;
    QStringList failures;
    QSet<int> codes;
    qint64 in = 0;
    qint64 out = 0;
    for (const quint64 serial : std::as_const(group.members)) {
        const QJsonObject member = group.results.value(serial);
        agents.append(member);
        const QJsonObject usage = member.value(u"usage"_s).toObject();
        in += usage.value(u"input_tokens"_s).toInteger();
        out += usage.value(u"output_tokens"_s).toInteger();
        const QJsonObject error = member.value(u"error"_s).toObject();
        if (!error.isEmpty()) {
            failures.append(error.value(u"message"_s).toString());
            codes.insert(error.value(u"code"_s).toInt());
        }
    }
    if (failures.size() == group.members.size()) {
        m_host.sendTo(
            group.connId,
            Message::error(codes.size() == 1 ? *codes.begin() : 502,
                           u"every agent of the fan-out failed: "_s + failures.join(u"; "_s),
                           group.id));
        return;
    }
    Message done = Message::create(MessageType::AgentComplete);
    done.refId = group.id;
    done.metadata.insert(u"agents"_s, agents);
    done.metadata.insert(u"usage"_s,
                         QJsonObject{{u"input_tokens"_s, in}, {u"output_tokens"_s, out}});
    m_host.sendTo(group.connId, done);
}

void AgentRunner::failTask(Task &task, const Error &error)
{
    qCInfo(lcAgents).noquote() << "task" << task.id << "of agent" << task.agent->config.name
                               << "failed:" << error.code << error.message;
    task.agent->metrics->failed.fetch_add(1, std::memory_order_relaxed);
    if (task.group && task.group->kind == Group::Kind::FanOut) {
        // The others go on; the client hears of it in the fan-out's agent_complete.
        memberEnded(task, failureResult(task, error));
        release(task);
        return;
    }
    const QString prefix =
        task.group ? stepPrefix(task.group->step, int(task.group->agents.size())) : QString();
    Message message = Message::error(error.code, prefix + error.message, task.id);
    if (task.channel.isEmpty()) {
        sendToTask(task, message);
    } else {
        // The publisher's publish was answered already; the channel hears that the answer ended.
        message.refId.clear();
        sendToTask(task, message);
    }
    release(task);
}

void AgentRunner::release(Task &task)
{
    const auto keep = m_tasks.take(task.serial); // task stays valid until the end of this call
    if (task.stream)
        task.stream->close();
    for (PendingTool &tool : task.tools) {
        if (tool.reply)
            tool.reply->close();
        if (tool.timer) {
            tool.timer->stop(); // deleted later, maybe only with the runner: stopped here
            tool.timer->deleteLater();
        }
    }
    task.tools.clear();
    Agent &agent = *task.agent;
    if (task.running) {
        task.running = false;
        --agent.running;
        agent.metrics->running.fetch_sub(1, std::memory_order_relaxed);
        agent.metrics->observeDuration(task.clock.nsecsElapsed() / 1000);
    } else if (agent.queue.removeOne(task.serial)) {
        agent.metrics->queued.fetch_sub(1, std::memory_order_relaxed);
    }
    startNext(agent);
}

void AgentRunner::cancel(Task &task)
{
    if (task.running && task.stream && task.stream->isOpen()) {
        const QString callId = task.stream->callId;
        task.stream->close();
        try {
            task.provider->cancel(callId);
        } catch (...) {
            qCWarning(lcAgents) << "a provider's cancel() threw";
        }
    }
    release(task);
}

void AgentRunner::connectionClosed(const QString &connId)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId] {
            QList<quint64> gone;
            for (const auto &task : std::as_const(m_tasks)) {
                // A channel answer is the channel's: it goes on without its publisher.
                if (task->connId == connId && task->channel.isEmpty())
                    gone.append(task->serial);
            }
            for (const quint64 serial : gone) {
                if (const auto task = m_tasks.value(serial)) {
                    qCInfo(lcAgents).noquote()
                        << "task" << task->id << "cancelled: its client disconnected";
                    cancel(*task);
                }
            }
        },
        Qt::QueuedConnection);
}

void AgentRunner::shutdown()
{
    QMetaObject::invokeMethod(
        this,
        [this] {
            const auto tasks = m_tasks.keys();
            for (const quint64 serial : tasks) {
                if (const auto task = m_tasks.value(serial)) {
                    if (task->channel.isEmpty())
                        sendToTask(*task,
                                   Message::error(503, u"server is shutting down"_s, task->id));
                    cancel(*task);
                }
            }
            // The caller goes on, and destroys what this thread used, once this returns: Qt's
            // semaphore for a blocking call orders it, invisibly to TSan (<mtw/tsan.h>).
            Mtw::Tsan::release(this);
        },
        Qt::BlockingQueuedConnection);
    Mtw::Tsan::acquire(this);
    m_thread->quit();
    m_thread->wait();
}

} // namespace Mtw::Internal
