// SPDX-License-Identifier: MIT
// The values and handles of <mtw/agent.h>.
#include "modules/agent_p.h"
#include "modules/sharedvalue_p.h"

namespace Mtw {

namespace Internal {

class AgentRequestPrivate : public QSharedData
{
public:
    QString model;
    QString system;
    int maxTokens = 0;
    QJsonArray messages;
    QJsonArray tools;
};

AgentStreamPrivate::AgentStreamPrivate(const QString &id,
                                       std::function<void(AgentStreamEvent)> sink)
    : callId(id)
    , m_sink(std::move(sink))
{ }

void AgentStreamPrivate::deliver(AgentStreamEvent event)
{
    QMutexLocker lock(&m_mutex);
    if (!m_open)
        return;
    const bool terminal = event.kind == AgentStreamEvent::Kind::Complete
        || event.kind == AgentStreamEvent::Kind::Fail;
    m_sink(std::move(event));
    if (terminal) {
        m_open = false;
        m_sink = nullptr; // what the sink captured does not live on in a provider's copy
    }
}

void AgentStreamPrivate::close()
{
    QMutexLocker lock(&m_mutex);
    m_open = false;
    m_sink = nullptr;
}

bool AgentStreamPrivate::isOpen() const
{
    QMutexLocker lock(&m_mutex);
    return m_open;
}

ToolReplyPrivate::ToolReplyPrivate(std::function<void(QString, bool)> onAnswer)
    : m_onAnswer(std::move(onAnswer))
{ }

void ToolReplyPrivate::answer(const QString &content, bool isError)
{
    std::function<void(QString, bool)> onAnswer;
    {
        QMutexLocker lock(&m_mutex);
        onAnswer.swap(m_onAnswer);
    }
    if (onAnswer)
        onAnswer(content, isError);
}

void ToolReplyPrivate::close()
{
    QMutexLocker lock(&m_mutex);
    m_onAnswer = nullptr;
}

bool ToolReplyPrivate::isPending() const
{
    QMutexLocker lock(&m_mutex);
    return bool(m_onAnswer);
}

} // namespace Internal

MTW_DEFINE_SHARED_VALUE(AgentRequest)
MTW_SHARED_PROPERTY(AgentRequest, QString, model, setModel, model)
MTW_SHARED_PROPERTY(AgentRequest, QString, system, setSystem, system)
MTW_SHARED_SCALAR_PROPERTY(AgentRequest, int, maxTokens, setMaxTokens, maxTokens)
MTW_SHARED_PROPERTY(AgentRequest, QJsonArray, messages, setMessages, messages)
MTW_SHARED_PROPERTY(AgentRequest, QJsonArray, tools, setTools, tools)

using Internal::AgentStreamEvent;

AgentStream::AgentStream(std::shared_ptr<Internal::AgentStreamPrivate> dd)
    : d(std::move(dd))
{ }

QString AgentStream::callId() const
{
    return d->callId;
}

bool AgentStream::isOpen() const
{
    return d->isOpen();
}

void AgentStream::text(const QString &delta) const
{
    AgentStreamEvent event;
    event.text = delta;
    d->deliver(std::move(event));
}

void AgentStream::toolCall(const QString &id,
                           const QString &name,
                           const QJsonObject &arguments) const
{
    AgentStreamEvent event;
    event.kind = AgentStreamEvent::Kind::ToolCall;
    event.toolId = id;
    event.toolName = name;
    event.object = arguments;
    d->deliver(std::move(event));
}

void AgentStream::complete(const QJsonObject &info) const
{
    AgentStreamEvent event;
    event.kind = AgentStreamEvent::Kind::Complete;
    event.object = info;
    d->deliver(std::move(event));
}

void AgentStream::fail(const Error &error) const
{
    AgentStreamEvent event;
    event.kind = AgentStreamEvent::Kind::Fail;
    event.error = error;
    d->deliver(std::move(event));
}

ToolReply::ToolReply(std::shared_ptr<Internal::ToolReplyPrivate> dd)
    : d(std::move(dd))
{ }

void ToolReply::result(const QString &content) const
{
    d->answer(content, false);
}

void ToolReply::fail(const QString &message) const
{
    d->answer(message, true);
}

bool ToolReply::isPending() const
{
    return d->isPending();
}

} // namespace Mtw
