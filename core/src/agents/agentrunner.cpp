// SPDX-License-Identifier: MIT
// The agent runner: tasks, queues, provider rounds, tools and delivery (docs/agents.md).
#include "agents/agentrunner.h"

#include "agents/agenttask_p.h"
#include "channels/channelpattern.h"
#include "modules/agent_p.h"
#include "modules/modulehost.h"

#include <mtw/ulid.h>

#include <QJsonDocument>
#include <QLoggingCategory>
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

AgentRunner::AgentRunner(const QList<AgentConfig> &agents,
                         const ServiceDirectory &services,
                         AgentHost &host)
    : m_services(services)
    , m_host(host)
{
    for (const AgentConfig &config : agents) {
        auto agent = std::make_shared<Agent>();
        agent->config = config;
        m_agents.append(agent);
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

void AgentRunner::submitTask(const QString &connId, const Message &message)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, message] {
            const QString name = message.metadata.value(u"agent"_s).toString();
            Agent *agent = findAgent(name);
            if (!agent) {
                m_host.sendTo(connId,
                              Message::error(404, u"agent '%1' not found"_s.arg(name), message.id));
                return;
            }
            auto task = std::make_unique<Task>();
            task->agent = agent;
            task->id = message.id;
            task->connId = connId;
            task->system =
                message.metadata.value(u"system_prompt"_s).toString(agent->config.system);
            for (const QJsonValue &turn : message.metadata.value(u"context"_s).toArray()) {
                const QJsonObject object = turn.toObject();
                const QString role = object.value(u"role"_s).toString();
                const QString content = object.value(u"content"_s).toString();
                if (role == u"system")
                    task->system += (task->system.isEmpty() ? QString() : u"\n"_s) + content;
                else if (role == u"user" || role == u"assistant")
                    appendTurn(task->messages, role, content);
            }
            appendTurn(task->messages, u"user"_s, promptText(message.payload));
            if (task->messages.isEmpty()) {
                m_host.sendTo(connId,
                              Message::error(400, u"agent_task needs a prompt"_s, message.id));
                return;
            }
            task->clientTools = message.metadata.value(u"tools"_s).toArray();
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
            for (const auto &agent : std::as_const(m_agents)) {
                bool matches = false;
                for (const QString &pattern : agent->config.channels)
                    matches = matches || channelPatternMatches(pattern, stamped.channel);
                if (!matches)
                    continue;
                auto task = std::make_unique<Task>();
                task->agent = agent.get();
                task->id = stamped.id;
                task->connId = connId;
                task->channel = stamped.channel;
                task->system = agent->config.system;
                task->messages = channelContext(*task, agent->config.name, stamped);
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
        const Error error{
            429,
            u"agent '%1' is busy: %2 tasks running and %3 queued"_s.arg(agent.config.name)
                .arg(agent.running)
                .arg(agent.queue.size())};
        Task &task = *owned;
        sendToTask(task, Message::error(error.code, error.message, task.id));
        m_counters.failed.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    owned->serial = m_nextSerial++;
    const quint64 serial = owned->serial;
    m_tasks.insert(serial, std::shared_ptr<Task>(std::move(owned)));
    agent.queue.append(serial);
    m_counters.queued.fetch_add(1, std::memory_order_relaxed);
    startNext(agent);
}

void AgentRunner::startNext(Agent &agent)
{
    while (agent.running < agent.config.maxConcurrent && !agent.queue.isEmpty()) {
        const auto task = m_tasks.value(agent.queue.takeFirst());
        m_counters.queued.fetch_sub(1, std::memory_order_relaxed);
        if (!task)
            continue;
        ++agent.running;
        m_counters.running.fetch_add(1, std::memory_order_relaxed);
        task->running = true;
        const auto services = m_services.snapshot();
        const QString wanted = agent.config.provider;
        for (auto it = services->agentProviders.cbegin(); it != services->agentProviders.cend();
             ++it) {
            if (it.key() == wanted || it.value().owner == wanted)
                task->provider = it.value().service;
        }
        if (!task->provider) {
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
        m_counters.providerErrors.fetch_add(1, std::memory_order_relaxed);
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
    Message chunk = Message::create(MessageType::AgentChunk, Payload::fromText(delta));
    sendToTask(task, chunk);
}

void AgentRunner::onRoundComplete(Task &task, const QJsonObject &info)
{
    const QJsonObject usage = info.value(u"usage"_s).toObject();
    const qint64 in = usage.value(u"input_tokens"_s).toInteger();
    const qint64 out = usage.value(u"output_tokens"_s).toInteger();
    task.tokensIn += in;
    task.tokensOut += out;
    m_counters.tokensIn.fetch_add(in, std::memory_order_relaxed);
    m_counters.tokensOut.fetch_add(out, std::memory_order_relaxed);
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
    const QJsonObject info =
        completionInfo(task.model, task.stopReason, task.tokensIn, task.tokensOut);
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
    m_counters.completed.fetch_add(1, std::memory_order_relaxed);
    release(task);
}

void AgentRunner::failTask(Task &task, const Error &error)
{
    qCInfo(lcAgents).noquote() << "task" << task.id << "of agent" << task.agent->config.name
                               << "failed:" << error.code << error.message;
    Message message = Message::error(error.code, error.message, task.id);
    if (task.channel.isEmpty()) {
        sendToTask(task, message);
    } else {
        // The publisher's publish was answered already; the channel hears that the answer ended.
        message.refId.clear();
        sendToTask(task, message);
    }
    m_counters.failed.fetch_add(1, std::memory_order_relaxed);
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
        m_counters.running.fetch_sub(1, std::memory_order_relaxed);
    } else if (agent.queue.removeOne(task.serial)) {
        m_counters.queued.fetch_sub(1, std::memory_order_relaxed);
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
        },
        Qt::BlockingQueuedConnection);
    m_thread->quit();
    m_thread->wait();
}

} // namespace Mtw::Internal
