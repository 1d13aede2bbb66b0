// SPDX-License-Identifier: MIT
#include "streamdecoder.h"

#include <QJsonDocument>

namespace Mtw::Ai {

using namespace Qt::StringLiterals;

void StreamDecoder::complete(const AgentStream &stream) const
{
    stream.complete(QJsonObject{
        {u"model"_s, m_model},
        {u"stop_reason"_s, m_stopReason},
        {u"usage"_s,
         QJsonObject{{u"input_tokens"_s, m_inputTokens}, {u"output_tokens"_s, m_outputTokens}}}});
}

Result<QJsonObject> StreamDecoder::parseArguments(const QByteArray &json, const QString &tool)
{
    if (json.trimmed().isEmpty())
        return QJsonObject();
    QJsonParseError parseError;
    const QJsonDocument input = QJsonDocument::fromJson(json, &parseError);
    if (!input.isObject()) {
        return fail(502,
                    u"malformed tool arguments from the provider for '%1' (%2)"_s.arg(
                        tool,
                        input.isNull() ? parseError.errorString() : u"not an object"_s));
    }
    return input.object();
}

QJsonObject ProviderFormat::baseBody(const AgentRequest &request, const ProviderSettings &settings)
{
    return {{u"model"_s, request.model().isEmpty() ? settings.defaultModel : request.model()},
            {u"max_tokens"_s, request.maxTokens() > 0 ? request.maxTokens() : settings.maxTokens},
            {u"stream"_s, true}};
}

} // namespace Mtw::Ai
