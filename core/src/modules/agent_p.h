// SPDX-License-Identifier: MIT
// The server's side of AgentStream and ToolReply (<mtw/agent.h>): one provider call or one tool
// call, answered from any thread, ended at most once.
#pragma once

#include <mtw/agent.h>

#include <QJsonObject>
#include <QMutex>
#include <QString>

#include <functional>

namespace Mtw::Internal {

// What a provider said, as the agent runner receives it.
struct AgentStreamEvent
{
    enum class Kind { Text, ToolCall, Complete, Fail };
    Kind kind = Kind::Text;
    QString text;       // Text: the delta
    QString toolId;     // ToolCall
    QString toolName;   // ToolCall
    QJsonObject object; // ToolCall: the arguments; Complete: the info
    Error error;        // Fail
};

class AgentStreamPrivate
{
public:
    AgentStreamPrivate(const QString &callId, std::function<void(AgentStreamEvent)> sink);
    // Hands `event` to the sink unless the stream is closed; a Complete or Fail closes it. The
    // sink runs under the stream's lock, so events arrive in the order they were given.
    void deliver(AgentStreamEvent event);
    void close(); // the server cancelled the call: nothing more is delivered
    bool isOpen() const;
    const QString callId;

private:
    mutable QMutex m_mutex;
    bool m_open = true;
    std::function<void(AgentStreamEvent)> m_sink;
};

class ToolReplyPrivate
{
public:
    explicit ToolReplyPrivate(std::function<void(QString content, bool isError)> onAnswer);
    void answer(const QString &content, bool isError);
    void close();
    bool isPending() const;

private:
    mutable QMutex m_mutex;
    std::function<void(QString, bool)> m_onAnswer; // empty once answered or closed
};

} // namespace Mtw::Internal
