// SPDX-License-Identifier: MIT
#include "providersettings.h"

#include <QSet>

namespace Mtw::Ai {

using namespace Qt::StringLiterals;

namespace {

Result<int> integerKey(const QVariantMap &config,
                       const ProviderDefaults &defaults,
                       const QString &key,
                       int fallback,
                       int min,
                       int max)
{
    if (!config.contains(key))
        return fallback;
    const QVariant value = config.value(key);
    bool ok = false;
    const qlonglong number = value.toLongLong(&ok);
    const bool integral = value.typeId() == QMetaType::LongLong || value.typeId() == QMetaType::Int
        || value.typeId() == QMetaType::ULongLong;
    if (!ok || !integral || number < min || number > max) {
        return fail(400,
                    u"%1: %2 must be an integer %3-%4, got \"%5\""_s.arg(defaults.moduleId, key)
                        .arg(min)
                        .arg(max)
                        .arg(value.toString()));
    }
    return int(number);
}

Result<QString> stringKey(const QVariantMap &config,
                          const ProviderDefaults &defaults,
                          const QString &key,
                          const QString &fallback)
{
    if (!config.contains(key))
        return fallback;
    const QVariant value = config.value(key);
    if (value.typeId() != QMetaType::QString)
        return fail(400, u"%1: %2 must be a string"_s.arg(defaults.moduleId, key));
    return value.toString();
}

} // namespace

Result<ProviderSettings> ProviderSettings::fromConfig(const QVariantMap &config,
                                                      const ProviderDefaults &defaults)
{
    static const QSet<QString> known{u"name"_s,
                                     u"api_key"_s,
                                     u"base_url"_s,
                                     u"default_model"_s,
                                     u"max_tokens"_s,
                                     u"timeout"_s,
                                     u"retries"_s,
                                     u"retry_backoff_ms"_s,
                                     u"max_retry_after"_s};
    for (auto it = config.cbegin(); it != config.cend(); ++it) {
        if (!known.contains(it.key())) {
            return fail(400,
                        u"%1: unknown config key '%2' (known: api_key, base_url, default_model, "
                        u"max_tokens, timeout, retries, retry_backoff_ms, max_retry_after, name)"_s
                            .arg(defaults.moduleId, it.key()));
        }
    }
    ProviderSettings settings;
    const auto name = stringKey(config, defaults, u"name"_s, defaults.name);
    const auto apiKey = stringKey(config, defaults, u"api_key"_s, QString());
    const auto baseUrl = stringKey(config, defaults, u"base_url"_s, defaults.baseUrl);
    const auto model = stringKey(config, defaults, u"default_model"_s, defaults.defaultModel);
    const auto maxTokens = integerKey(config, defaults, u"max_tokens"_s, 1024, 1, 1000000);
    const auto timeout = integerKey(config, defaults, u"timeout"_s, 60, 1, 3600);
    const auto retries = integerKey(config, defaults, u"retries"_s, 2, 0, 10);
    const auto backoff = integerKey(config, defaults, u"retry_backoff_ms"_s, 500, 0, 60000);
    const auto maxRetryAfter = integerKey(config, defaults, u"max_retry_after"_s, 60, 0, 3600);
    for (const auto *text : {&name, &apiKey, &baseUrl, &model}) {
        if (!*text)
            return tl::unexpected(text->error());
    }
    for (const auto *number : {&maxTokens, &timeout, &retries, &backoff, &maxRetryAfter}) {
        if (!*number)
            return tl::unexpected(number->error());
    }
    if (name->isEmpty())
        return fail(400, u"%1: name must not be empty"_s.arg(defaults.moduleId));
    if (defaults.apiKeyRequired && apiKey->isEmpty()) {
        return fail(400,
                    u"%1: api_key is empty (set it, e.g. api_key = \"${ANTHROPIC_API_KEY}\", and "
                    u"export the variable)"_s.arg(defaults.moduleId));
    }
    const QUrl base(*baseUrl, QUrl::StrictMode);
    if (!base.isValid() || (base.scheme() != u"http" && base.scheme() != u"https")
        || base.host().isEmpty() || base.hasQuery() || base.hasFragment()) {
        return fail(400,
                    u"%1: base_url must be an http:// or https:// URL without query, got \"%2\""_s
                        .arg(defaults.moduleId, *baseUrl));
    }
    QString joined = *baseUrl;
    while (joined.endsWith(u'/'))
        joined.chop(1);
    settings.name = *name;
    settings.apiKey = *apiKey;
    settings.url = QUrl(joined + defaults.path);
    settings.defaultModel = *model;
    settings.maxTokens = *maxTokens;
    settings.timeoutMs = *timeout * 1000;
    settings.retries = *retries;
    settings.retryBackoffMs = *backoff;
    settings.maxRetryAfterMs = *maxRetryAfter * 1000;
    if (settings.defaultModel.isEmpty())
        return fail(400, u"%1: default_model must not be empty"_s.arg(defaults.moduleId));
    return settings;
}

} // namespace Mtw::Ai
