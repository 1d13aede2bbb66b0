// SPDX-License-Identifier: MIT
#include "anthropicformat.h"

#include <QHash>
#include <QJsonDocument>

namespace Mtw::Ai {

using namespace Qt::StringLiterals;

ProviderDefaults anthropicDefaults()
{
    return {u"mtw-ai-anthropic"_s,
            u"anthropic"_s,
            u"https://api.anthropic.com"_s,
            u"/v1/messages"_s,
            u"claude-sonnet-4-5"_s,
            true};
}

AnthropicFormat::AnthropicFormat(const ProviderSettings &settings)
    : m_settings(settings)
{ }

namespace {

// The neutral conversation (<mtw/agent.h>) as Messages API turns: tool calls become tool_use
// blocks of the assistant's turn, results tool_result blocks of one user turn.
QJsonArray toMessages(const QJsonArray &messages)
{
    QJsonArray out;
    for (const QJsonValue &value : messages) {
        const QJsonObject message = value.toObject();
        const QString role = message.value(u"role"_s).toString();
        if (role == u"tool") {
            const QJsonObject block{{u"type"_s, u"tool_result"_s},
                                    {u"tool_use_id"_s, message.value(u"tool_call_id"_s)},
                                    {u"content"_s, message.value(u"content"_s).toString()},
                                    {u"is_error"_s, message.value(u"is_error"_s).toBool()}};
            QJsonObject last = out.isEmpty() ? QJsonObject() : out.last().toObject();
            if (last.value(u"role"_s) == u"user"_s && last.value(u"content"_s).isArray()) {
                QJsonArray blocks = last.value(u"content"_s).toArray();
                blocks.append(block);
                last.insert(u"content"_s, blocks);
                out.replace(out.size() - 1, last);
            } else {
                out.append(QJsonObject{{u"role"_s, u"user"_s}, {u"content"_s, QJsonArray{block}}});
            }
            continue;
        }
        const QJsonArray calls = message.value(u"tool_calls"_s).toArray();
        if (role == u"assistant" && !calls.isEmpty()) {
            QJsonArray blocks;
            const QString text = message.value(u"content"_s).toString();
            if (!text.isEmpty())
                blocks.append(QJsonObject{{u"type"_s, u"text"_s}, {u"text"_s, text}});
            for (const QJsonValue &call : calls) {
                const QJsonObject c = call.toObject();
                blocks.append(QJsonObject{{u"type"_s, u"tool_use"_s},
                                          {u"id"_s, c.value(u"id"_s)},
                                          {u"name"_s, c.value(u"name"_s)},
                                          {u"input"_s, c.value(u"arguments"_s).toObject()}});
            }
            out.append(QJsonObject{{u"role"_s, role}, {u"content"_s, blocks}});
            continue;
        }
        out.append(QJsonObject{{u"role"_s, role}, {u"content"_s, message.value(u"content"_s)}});
    }
    return out;
}

class AnthropicDecoder final : public StreamDecoder
{
public:
    Result<bool> onEvent(const SseEvent &event, const AgentStream &stream) override
    {
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(event.data, &parseError);
        if (!document.isObject()) {
            return fail(
                502,
                u"malformed event from the provider (%1: %2)"_s.arg(QString::fromUtf8(event.event),
                                                                    parseError.errorString()));
        }
        const QJsonObject data = document.object();
        const QString type = data.value(u"type"_s).toString(QString::fromUtf8(event.event));
        if (type == u"message_start") {
            const QJsonObject message = data.value(u"message"_s).toObject();
            m_model = message.value(u"model"_s).toString();
            m_inputTokens =
                message.value(u"usage"_s).toObject().value(u"input_tokens"_s).toInteger();
            m_outputTokens =
                message.value(u"usage"_s).toObject().value(u"output_tokens"_s).toInteger();
        } else if (type == u"content_block_start") {
            const QJsonObject block = data.value(u"content_block"_s).toObject();
            if (block.value(u"type"_s) == u"tool_use"_s) {
                m_tools.insert(data.value(u"index"_s).toInt(),
                               Tool{block.value(u"id"_s).toString(),
                                    block.value(u"name"_s).toString(),
                                    QByteArray()});
            } else if (block.value(u"type"_s) == u"text"_s) {
                const QString text = block.value(u"text"_s).toString();
                if (!text.isEmpty())
                    stream.text(text);
            }
        } else if (type == u"content_block_delta") {
            const QJsonObject delta = data.value(u"delta"_s).toObject();
            const QString kind = delta.value(u"type"_s).toString();
            if (kind == u"text_delta") {
                stream.text(delta.value(u"text"_s).toString());
            } else if (kind == u"input_json_delta") {
                const int index = data.value(u"index"_s).toInt();
                if (!m_tools.contains(index))
                    return fail(502,
                                u"malformed event from the provider (input_json_delta for "
                                u"block %1, which is no tool_use)"_s.arg(index));
                m_tools[index].json.append(delta.value(u"partial_json"_s).toString().toUtf8());
            }
        } else if (type == u"content_block_stop") {
            const int index = data.value(u"index"_s).toInt();
            if (const auto it = m_tools.find(index); it != m_tools.end()) {
                const auto arguments = parseArguments(it->json, it->name);
                if (!arguments)
                    return tl::unexpected(arguments.error());
                stream.toolCall(it->id, it->name, *arguments);
                m_tools.erase(it);
            }
        } else if (type == u"message_delta") {
            m_stopReason = data.value(u"delta"_s).toObject().value(u"stop_reason"_s).toString();
            const QJsonObject usage = data.value(u"usage"_s).toObject();
            if (usage.contains(u"output_tokens"_s))
                m_outputTokens = usage.value(u"output_tokens"_s).toInteger();
            if (usage.contains(u"input_tokens"_s))
                m_inputTokens = usage.value(u"input_tokens"_s).toInteger();
        } else if (type == u"message_stop") {
            complete(stream);
            return true;
        } else if (type == u"error") {
            const QJsonObject error = data.value(u"error"_s).toObject();
            const QString kind = error.value(u"type"_s).toString();
            return fail(
                kind == u"overloaded_error" ? 503 : 502,
                u"the provider reported %1: %2"_s.arg(kind, error.value(u"message"_s).toString()));
        }
        return false; // ping and event types added later
    }

    Result<bool> onEnd(const AgentStream &) override
    {
        return fail(502, u"the provider's stream ended before message_stop (cut in the middle)"_s);
    }

private:
    struct Tool
    {
        QString id;
        QString name;
        QByteArray json; // input_json_delta fragments, joined
    };
    QHash<int, Tool> m_tools; // by content block index
};

} // namespace

QByteArray AnthropicFormat::body(const AgentRequest &request) const
{
    QJsonObject body = baseBody(request, m_settings);
    body.insert(u"messages"_s, toMessages(request.messages()));
    if (!request.system().isEmpty())
        body.insert(u"system"_s, request.system());
    if (!request.tools().isEmpty())
        body.insert(u"tools"_s, request.tools()); // already {name, description, input_schema}
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

QList<QPair<QByteArray, QByteArray>> AnthropicFormat::headers() const
{
    return {{"content-type", "application/json"},
            {"accept", "text/event-stream"},
            {"anthropic-version", "2023-06-01"},
            {"x-api-key", m_settings.apiKey.toUtf8()}};
}

std::unique_ptr<StreamDecoder> AnthropicFormat::decoder() const
{
    return std::make_unique<AnthropicDecoder>();
}

} // namespace Mtw::Ai
