// SPDX-License-Identifier: MIT
// The Anthropic Messages API with streaming: POST <base_url>/v1/messages, Server-Sent Events
// message_start, content_block_start/delta/stop (text_delta, input_json_delta), message_delta
// (stop_reason, usage), message_stop, ping, error.
#pragma once

#include "providersettings.h"
#include "streamdecoder.h"

namespace Mtw::Ai {

class AnthropicFormat final : public ProviderFormat
{
public:
    explicit AnthropicFormat(const ProviderSettings &settings);
    QByteArray body(const AgentRequest &request) const override;
    QList<QPair<QByteArray, QByteArray>> headers() const override;
    std::unique_ptr<StreamDecoder> decoder() const override;

private:
    const ProviderSettings m_settings;
};

ProviderDefaults anthropicDefaults();

} // namespace Mtw::Ai
