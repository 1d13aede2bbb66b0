// SPDX-License-Identifier: MIT
// OpenAI-compatible Chat Completions with streaming (OpenAI, Ollama, LM Studio, vLLM,
// llama.cpp's server): POST <base_url>/chat/completions, `data:` chunks with choices[0].delta
// (content, tool_calls fragments by index), finish_reason, usage, then `data: [DONE]`.
#pragma once

#include "providersettings.h"
#include "streamdecoder.h"

namespace Mtw::Ai {

class OpenAiFormat final : public ProviderFormat
{
public:
    explicit OpenAiFormat(const ProviderSettings &settings);
    QByteArray body(const AgentRequest &request) const override;
    QList<QPair<QByteArray, QByteArray>> headers() const override;
    std::unique_ptr<StreamDecoder> decoder() const override;

private:
    const ProviderSettings m_settings;
};

ProviderDefaults openAiDefaults();

} // namespace Mtw::Ai
