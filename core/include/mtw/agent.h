// SPDX-License-Identifier: MIT
// The AI services a module may register: a model provider (IAgentProvider, what
// mtw-ai-anthropic and mtw-ai-openai implement) and tools an agent may call (IAgentTool).
// The server's agent runner owns the tasks, queues, tool rounds and delivery; a provider only
// turns one request into one streamed answer. See docs/agents.md and docs/plugins.md.
#pragma once

#include <mtw/global.h>
#include <mtw/result.h>

#include <QJsonArray>
#include <QJsonObject>
#include <QSharedDataPointer>
#include <QString>

#include <functional>
#include <memory>

namespace Mtw {

namespace Internal {
class AgentRequestPrivate;
class AgentStreamPrivate;
class ToolReplyPrivate;
} // namespace Internal

// One call to a model, in a provider-neutral shape that each provider translates to its API.
// An implicitly shared value, safe to pass between threads.
//
// messages() holds the conversation, oldest first, each an object of one of these shapes:
//   {"role":"user","content":"..."}
//   {"role":"assistant","content":"...","tool_calls":[{"id","name","arguments":{...}}]}
//   {"role":"tool","tool_call_id":"...","name":"...","content":"...","is_error":false}
// tools() holds what the model may call: [{"name","description","input_schema":{JSON Schema}}].
class MTW_CORE_EXPORT AgentRequest
{
public:
    MTW_DECLARE_SHARED_VALUE(AgentRequest)

    QString model() const; // empty: the provider's default_model
    void setModel(const QString &model);
    QString system() const; // the system prompt; empty: none
    void setSystem(const QString &system);
    int maxTokens() const; // 0: the provider's max_tokens
    void setMaxTokens(int maxTokens);
    QJsonArray messages() const;
    void setMessages(const QJsonArray &messages);
    QJsonArray tools() const;
    void setTools(const QJsonArray &tools);

private:
    QSharedDataPointer<Internal::AgentRequestPrivate> d;
};

// Where a provider streams one answer. Copyable, thread-safe: call it from any thread. The first
// complete() or fail() ends the stream; calls after it (and after the server cancelled the call)
// are ignored. Every call must end with exactly one of them, unless the server cancelled it.
class MTW_CORE_EXPORT AgentStream
{
public:
    QString callId() const; // what IAgentProvider::cancel() names
    bool isOpen() const;    // false once ended or cancelled

    void text(const QString &delta) const;
    // A complete tool call (the provider joins the argument fragments first).
    void toolCall(const QString &id, const QString &name, const QJsonObject &arguments) const;
    // `info`: {"model", "stop_reason", "usage":{"input_tokens","output_tokens"}}, what the
    // provider knows of them.
    void complete(const QJsonObject &info) const;
    // Error codes: 503 the provider cannot be reached, 504 timed out, 502 it answered something
    // that is not a valid stream, 429 still rate limited after the retries, otherwise its HTTP
    // status. The message says what happened and never contains a key.
    void fail(const Error &error) const;

    // internal: constructed by the server only
    explicit AgentStream(std::shared_ptr<Internal::AgentStreamPrivate> d);

private:
    std::shared_ptr<Internal::AgentStreamPrivate> d;
};

// A model provider. run() and cancel() are called from the server's agent thread and must
// return at once: do the HTTP on a thread of the module's own (never block the caller), answer
// through `stream` from there. cancel() aborts the request (the stream is already closed).
class IAgentProvider
{
public:
    virtual ~IAgentProvider() = default;
    virtual void run(const AgentRequest &request, const AgentStream &stream) = 0;
    virtual void cancel(const QString &callId) = 0;
};

// How a tool answers: once, from any thread. Copyable; later answers are ignored.
class MTW_CORE_EXPORT ToolReply
{
public:
    void result(const QString &content) const;
    void fail(const QString &message) const; // the model sees it as an error result
    bool isPending() const;
    // internal: constructed by the server only
    explicit ToolReply(std::shared_ptr<Internal::ToolReplyPrivate> d);

private:
    std::shared_ptr<Internal::ToolReplyPrivate> d;
};

// A tool served by a module: an agent whose `tools` names it may call it. name(), description()
// and inputSchema() are read once, when the module registers the tool. call() runs in the
// server's agent thread and must not block: answer through `reply`, now or later.
class IAgentTool
{
public:
    virtual ~IAgentTool() = default;
    virtual QString name() const = 0;
    virtual QString description() const = 0;
    virtual QJsonObject inputSchema() const = 0; // JSON Schema of the arguments object
    virtual void call(const QJsonObject &arguments, ToolReply reply) = 0;
};

} // namespace Mtw
