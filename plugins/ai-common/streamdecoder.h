// SPDX-License-Identifier: MIT
// What a provider's streaming format turns into (AgentStream calls); one per HTTP attempt.
#pragma once

#include "providersettings.h"
#include "sseparser.h"

#include <mtw/agent.h>
#include <mtw/result.h>

#include <memory>

namespace Mtw::Ai {

class StreamDecoder
{
public:
    virtual ~StreamDecoder() = default;
    // One event of a 200 response. An Error ends the call with it (502 for a malformed event,
    // the provider's own for an error event). Returns true once the answer is complete (the
    // decoder has called stream.complete()).
    virtual Result<bool> onEvent(const SseEvent &event, const AgentStream &stream) = 0;
    // The body ended (or was cut) before onEvent returned true: complete what can be completed
    // (true), or say why not.
    virtual Result<bool> onEnd(const AgentStream &stream) = 0;

protected:
    // Ends the answer with what the provider said of it.
    void complete(const AgentStream &stream) const;
    // A tool call's joined argument fragments as an object (empty text: no arguments).
    static Result<QJsonObject> parseArguments(const QByteArray &json, const QString &tool);

    QString m_model;
    QString m_stopReason;
    qint64 m_inputTokens = 0;
    qint64 m_outputTokens = 0;
};

// A provider's wire format: the request body and headers, and a decoder for its stream.
class ProviderFormat
{
public:
    virtual ~ProviderFormat() = default;
    virtual QByteArray body(const AgentRequest &request) const = 0;
    virtual QList<QPair<QByteArray, QByteArray>> headers() const = 0; // may hold the key
    virtual std::unique_ptr<StreamDecoder> decoder() const = 0;
    // The provider's error body ({"error":{"message"}} for both) as a sentence; empty if none.
    static QString errorMessage(const QByteArray &body);

protected:
    // {model, max_tokens, stream: true}: the request's or the module's defaults.
    static QJsonObject baseBody(const AgentRequest &request, const ProviderSettings &settings);
};

} // namespace Mtw::Ai
