// SPDX-License-Identifier: MIT
// Tool rounds of the agent runner: the model asked for tools; each is run (built-in, a module's,
// or the client's through agent_tool_call / agent_tool_result), and when every one has answered
// the conversation goes back to the provider with the results (docs/agents.md#tools).
#include "agents/agentrunner.h"
#include "agents/agenttask_p.h"
#include "modules/agent_p.h"
#include "modules/modulehost.h"

#include <QTimer>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

const QStringList &builtinToolNames()
{
    static const QStringList names{u"channel_history"_s, u"channel_presence"_s, u"kv_get"_s};
    return names;
}

void AgentRunner::runTools(Task &task)
{
    QJsonObject assistant{{u"role"_s, u"assistant"_s},
                          {u"content"_s, task.roundText},
                          {u"tool_calls"_s, task.roundToolCalls}};
    task.messages.append(assistant);
    task.tools.clear();
    for (const QJsonValue &value : std::as_const(task.roundToolCalls)) {
        const QJsonObject call = value.toObject();
        PendingTool pending;
        pending.id = call.value(u"id"_s).toString();
        pending.name = call.value(u"name"_s).toString();
        pending.arguments = call.value(u"arguments"_s).toObject();
        task.tools.append(pending);
    }
    // Started after the list is complete: a tool that answers at once (built-in) must not find
    // the round finished before its siblings exist.
    for (int i = 0; i < task.tools.size(); ++i)
        startTool(task, task.tools[i]);
}

void AgentRunner::startTool(Task &task, PendingTool &pending)
{
    const quint64 serial = task.serial;
    const QString toolCallId = pending.id;
    pending.reply = std::make_shared<ToolReplyPrivate>(
        [this, serial, toolCallId](const QString &content, bool isError) {
            QMetaObject::invokeMethod(
                this,
                [=, this] { toolAnswered(serial, toolCallId, content, isError); },
                Qt::QueuedConnection);
        });
    const ToolReply reply(pending.reply);
    const int timeoutS = task.agent->config.toolTimeout;
    pending.timer = new QTimer(this);
    pending.timer->setSingleShot(true);
    connect(pending.timer, &QTimer::timeout, this, [reply, name = pending.name, timeoutS] {
        reply.fail(u"tool '%1' did not answer within %2 s"_s.arg(name).arg(timeoutS));
    });
    pending.timer->start(timeoutS * 1000);

    if (!task.agent->config.tools.contains(pending.name)) {
        reply.fail(u"tool '%1' is not one this agent may call"_s.arg(pending.name));
        return;
    }
    if (builtinToolNames().contains(pending.name)) {
        runBuiltinTool(pending.name, pending.arguments, reply);
        return;
    }
    const auto services = m_services.snapshot();
    if (const auto it = services->agentTools.constFind(pending.name);
        it != services->agentTools.cend()) {
        try {
            it.value().service->call(pending.arguments, reply);
        } catch (...) {
            reply.fail(u"tool '%1' failed"_s.arg(pending.name));
        }
        return;
    }
    // The client's: both key names, since the TypeScript client reads `params` and the Rust
    // structs `arguments`.
    Message call =
        Message::create(MessageType::AgentToolCall,
                        Payload::fromJson(QJsonObject{{u"id"_s, pending.id},
                                                      {u"name"_s, pending.name},
                                                      {u"params"_s, pending.arguments},
                                                      {u"arguments"_s, pending.arguments}}));
    sendToTask(task, call);
}

void AgentRunner::runBuiltinTool(const QString &name,
                                 const QJsonObject &arguments,
                                 const ToolReply &reply)
{
    if (name == u"kv_get") {
        const auto entry = m_host.kvGet(arguments.value(u"bucket"_s).toString(),
                                        arguments.value(u"key"_s).toString());
        if (entry)
            reply.result(compactJson(*entry));
        else
            reply.fail(entry.error().message);
        return;
    }
    const QString channel = arguments.value(u"channel"_s).toString();
    if (name == u"channel_presence") {
        const auto members = m_host.presence(channel);
        if (members)
            reply.result(compactJson(*members));
        else
            reply.fail(members.error().message);
        return;
    }
    const int limit = std::clamp(int(arguments.value(u"limit"_s).toInteger(20)), 1, 100);
    const auto history = m_host.history(channel, limit);
    if (!history) {
        reply.fail(history.error().message);
        return;
    }
    QJsonArray messages;
    for (const Message &message : *history)
        messages.append(messageToJson(message));
    reply.result(compactJson(messages));
}

void AgentRunner::toolAnswered(quint64 serial,
                               const QString &toolCallId,
                               const QString &content,
                               bool isError)
{
    const auto task = m_tasks.value(serial);
    if (!task)
        return;
    bool all = true;
    for (PendingTool &tool : task->tools) {
        if (tool.id == toolCallId && !tool.answered) {
            tool.answered = true;
            tool.content = content;
            tool.isError = isError;
            if (tool.timer) {
                tool.timer->stop();
                tool.timer->deleteLater();
                tool.timer = nullptr;
            }
        }
        all = all && tool.answered;
    }
    if (all && !task->tools.isEmpty())
        continueAfterTools(*task);
}

void AgentRunner::continueAfterTools(Task &task)
{
    for (const PendingTool &tool : std::as_const(task.tools)) {
        task.messages.append(QJsonObject{{u"role"_s, u"tool"_s},
                                         {u"tool_call_id"_s, tool.id},
                                         {u"name"_s, tool.name},
                                         {u"content"_s, tool.content},
                                         {u"is_error"_s, tool.isError}});
    }
    task.tools.clear();
    callProvider(task);
}

void AgentRunner::submitToolResult(const QString &connId, const Message &result)
{
    QMetaObject::invokeMethod(
        this,
        [this, connId, result] {
            std::shared_ptr<Task> task;
            for (const auto &candidate : std::as_const(m_tasks)) {
                if (candidate->id == result.refId && candidate->connId == connId)
                    task = candidate;
            }
            if (!task) {
                m_host.sendTo(connId,
                              Message::error(404,
                                             u"no running agent task '%1' of this connection"_s.arg(
                                                 result.refId),
                                             result.id));
                return;
            }
            // Either shape: {toolCallId, content, isError} (TypeScript) or
            // {tool_call_id, name, result, is_error} (Rust).
            const QJsonObject data = result.payload.json.toObject();
            QString id =
                data.value(u"toolCallId"_s).toString(data.value(u"tool_call_id"_s).toString());
            const QJsonValue content =
                data.contains(u"content"_s) ? data.value(u"content"_s) : data.value(u"result"_s);
            const bool isError =
                data.value(u"isError"_s).toBool(data.value(u"is_error"_s).toBool());
            PendingTool *target = nullptr;
            for (PendingTool &tool : task->tools) {
                if (!tool.answered && tool.reply && tool.reply->isPending()
                    && (tool.id == id
                        || (id.isEmpty() && tool.name == data.value(u"name"_s).toString())))
                    target = &tool;
            }
            if (!target) {
                m_host.sendTo(
                    connId,
                    Message::error(
                        404,
                        u"task '%1' is not waiting for tool call '%2'"_s.arg(result.refId, id),
                        result.id));
                return;
            }
            QString text =
                content.isUndefined() || content.isNull() ? QString() : compactJson(content);
            if (result.payload.kind == Payload::Kind::Text)
                text = result.payload.text;
            target->reply->answer(text, isError);
        },
        Qt::QueuedConnection);
}

} // namespace Mtw::Internal
