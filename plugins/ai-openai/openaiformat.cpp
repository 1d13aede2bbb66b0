// SPDX-License-Identifier: MIT
#include "openaiformat.h"

#include <QJsonDocument>
#include <QMap>

namespace Mtw::Ai {

using namespace Qt::StringLiterals;

ProviderDefaults openAiDefaults()
{
    // A local server (Ollama, llama.cpp) needs no key: api_key may be empty.
    return {u"mtw-ai-openai"_s,
            u"openai"_s,
            u"https://api.openai.com/v1"_s,
            u"/chat/completions"_s,
            u"gpt-4o-mini"_s,
            false};
}

OpenAiFormat::OpenAiFormat(const ProviderSettings &settings)
    : m_settings(settings)
{ }

namespace {

QJsonArray toMessages(const QString &system, const QJsonArray &messages)
{
    QJsonArray out;
    if (!system.isEmpty())
        out.append(QJsonObject{{u"role"_s, u"system"_s}, {u"content"_s, system}});
    for (const QJsonValue &value : messages) {
        const QJsonObject message = value.toObject();
        const QString role = message.value(u"role"_s).toString();
        if (role == u"tool") {
            out.append(QJsonObject{{u"role"_s, u"tool"_s},
                                   {u"tool_call_id"_s, message.value(u"tool_call_id"_s)},
                                   {u"content"_s, message.value(u"content"_s).toString()}});
            continue;
        }
        QJsonObject turn{{u"role"_s, role}, {u"content"_s, message.value(u"content"_s)}};
        const QJsonArray calls = message.value(u"tool_calls"_s).toArray();
        if (!calls.isEmpty()) {
            QJsonArray toolCalls;
            for (const QJsonValue &call : calls) {
                const QJsonObject c = call.toObject();
                const QByteArray arguments = QJsonDocument(c.value(u"arguments"_s).toObject())
                                                 .toJson(QJsonDocument::Compact);
                toolCalls.append(
                    QJsonObject{{u"id"_s, c.value(u"id"_s)},
                                {u"type"_s, u"function"_s},
                                {u"function"_s,
                                 QJsonObject{{u"name"_s, c.value(u"name"_s)},
                                             {u"arguments"_s, QString::fromUtf8(arguments)}}}});
            }
            turn.insert(u"tool_calls"_s, toolCalls);
        }
        out.append(turn);
    }
    return out;
}

class OpenAiDecoder final : public StreamDecoder
{
public:
    Result<bool> onEvent(const SseEvent &event, const AgentStream &stream) override
    {
        if (event.data.trimmed() == "[DONE]")
            return finish(stream);
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(event.data, &parseError);
        if (!document.isObject()) {
            return fail(502,
                        u"malformed chunk from the provider (%1)"_s.arg(parseError.errorString()));
        }
        const QJsonObject chunk = document.object();
        if (chunk.value(u"error"_s).isObject()) {
            return fail(502,
                        u"the provider reported an error: %1"_s.arg(
                            chunk.value(u"error"_s).toObject().value(u"message"_s).toString()));
        }
        if (chunk.value(u"model"_s).isString())
            m_model = chunk.value(u"model"_s).toString();
        if (chunk.value(u"usage"_s).isObject()) {
            const QJsonObject usage = chunk.value(u"usage"_s).toObject();
            m_inputTokens = usage.value(u"prompt_tokens"_s).toInteger();
            m_outputTokens = usage.value(u"completion_tokens"_s).toInteger();
        }
        const QJsonArray choices = chunk.value(u"choices"_s).toArray();
        if (choices.isEmpty())
            return false;
        const QJsonObject choice = choices.first().toObject();
        const QJsonObject delta = choice.value(u"delta"_s).toObject();
        if (delta.value(u"content"_s).isString())
            stream.text(delta.value(u"content"_s).toString());
        for (const QJsonValue &value : delta.value(u"tool_calls"_s).toArray()) {
            const QJsonObject call = value.toObject();
            if (!call.value(u"index"_s).isDouble())
                return fail(
                    502,
                    u"malformed chunk from the provider (a tool_calls entry has no index)"_s);
            Tool &tool = m_tools[call.value(u"index"_s).toInt()];
            if (call.value(u"id"_s).isString())
                tool.id = call.value(u"id"_s).toString();
            const QJsonObject function = call.value(u"function"_s).toObject();
            if (function.value(u"name"_s).isString())
                tool.name += function.value(u"name"_s).toString();
            tool.arguments += function.value(u"arguments"_s).toString().toUtf8();
        }
        if (choice.value(u"finish_reason"_s).isString())
            m_stopReason = choice.value(u"finish_reason"_s).toString();
        return false;
    }

    // Some servers end without [DONE]: a finish_reason says the answer was whole.
    Result<bool> onEnd(const AgentStream &stream) override
    {
        if (m_stopReason.isEmpty())
            return fail(
                502,
                u"the provider's stream ended before finish_reason or [DONE] (cut in the middle)"_s);
        return finish(stream);
    }

private:
    Result<bool> finish(const AgentStream &stream)
    {
        for (auto it = m_tools.cbegin(); it != m_tools.cend(); ++it) {
            const auto arguments = parseArguments(it->arguments, it->name);
            if (!arguments)
                return tl::unexpected(arguments.error());
            stream.toolCall(it->id.isEmpty() ? u"call_%1"_s.arg(it.key()) : it->id,
                            it->name,
                            *arguments);
        }
        complete(stream);
        return true;
    }

    struct Tool
    {
        QString id;
        QString name;
        QByteArray arguments; // fragments, joined
    };
    QMap<int, Tool> m_tools; // by index, in index order
};

} // namespace

QByteArray OpenAiFormat::body(const AgentRequest &request) const
{
    QJsonObject body = baseBody(request, m_settings);
    body.insert(u"stream_options"_s, QJsonObject{{u"include_usage"_s, true}});
    body.insert(u"messages"_s, toMessages(request.system(), request.messages()));
    if (!request.tools().isEmpty()) {
        QJsonArray tools;
        for (const QJsonValue &value : request.tools()) {
            const QJsonObject tool = value.toObject();
            tools.append(
                QJsonObject{{u"type"_s, u"function"_s},
                            {u"function"_s,
                             QJsonObject{{u"name"_s, tool.value(u"name"_s)},
                                         {u"description"_s, tool.value(u"description"_s)},
                                         {u"parameters"_s, tool.value(u"input_schema"_s)}}}});
        }
        body.insert(u"tools"_s, tools);
    }
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

QList<QPair<QByteArray, QByteArray>> OpenAiFormat::headers() const
{
    QList<QPair<QByteArray, QByteArray>> headers{{"content-type", "application/json"},
                                                 {"accept", "text/event-stream"}};
    if (!m_settings.apiKey.isEmpty())
        headers.append({"authorization", "Bearer " + m_settings.apiKey.toUtf8()});
    return headers;
}

std::unique_ptr<StreamDecoder> OpenAiFormat::decoder() const
{
    return std::make_unique<OpenAiDecoder>();
}

} // namespace Mtw::Ai
