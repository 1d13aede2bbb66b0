// SPDX-License-Identifier: MIT
// The [[modules]] config both AI provider modules read (docs/agents.md#providers).
#pragma once

#include <mtw/result.h>

#include <QString>
#include <QUrl>
#include <QVariantMap>

namespace Mtw::Ai {

struct ProviderDefaults
{
    QString moduleId;     // for messages: "mtw-ai-anthropic"
    QString name;         // the provider name agents use: "anthropic"
    QString baseUrl;      // "https://api.anthropic.com"
    QString path;         // appended to base_url: "/v1/messages"
    QString defaultModel; // "claude-sonnet-4-5"
    bool apiKeyRequired = true;
};

struct ProviderSettings
{
    QString name;   // `name`: what [[agents]] provider names
    QString apiKey; // never logged
    QUrl url;       // base_url + the API path
    QString defaultModel;
    int maxTokens = 1024;
    int timeoutMs = 60000;       // `timeout` seconds without a byte from the provider
    int retries = 2;             // further attempts after a 429, 5xx, 529 or a refused connection
    int retryBackoffMs = 500;    // the first wait; doubled for each further attempt
    int maxRetryAfterMs = 60000; // `max_retry_after` seconds: a longer retry-after fails at once

    // Every key acts, and a bad value or an unknown key is an error naming both.
    static Result<ProviderSettings> fromConfig(const QVariantMap &config,
                                               const ProviderDefaults &defaults);
};

} // namespace Mtw::Ai
