// SPDX-License-Identifier: MIT
#include "providermodule.h"

#include "providerlog.h"

namespace Mtw::Ai {

Q_LOGGING_CATEGORY(lcProvider, "mtw.ai", QtInfoMsg)

using namespace Qt::StringLiterals;

ProviderModule::ProviderModule(ProviderDefaults defaults)
    : m_defaults(std::move(defaults))
{ }

ProviderModule::~ProviderModule() = default;

Result<void> ProviderModule::load(ModuleContext &context)
{
    try {
        const auto settings = ProviderSettings::fromConfig(context.config(), m_defaults);
        if (!settings)
            return tl::unexpected(settings.error());
        auto engine = std::make_shared<ProviderEngine>(*settings, makeFormat(*settings));
        {
            std::lock_guard lock(m_mutex);
            m_engine = engine;
        }
        // The URL and model only: the key stays out of every log line.
        qCInfo(lcProvider).noquote() << m_defaults.moduleId << "serves provider" << settings->name
                                     << "at" << settings->url.toString(QUrl::RemoveUserInfo)
                                     << "(default model" << settings->defaultModel + u')';
        context.registerAgentProvider(settings->name, this);
        return {};
    } catch (...) {
        return fail(500, u"%1: load failed"_s.arg(m_defaults.moduleId));
    }
}

bool ProviderModule::stop()
{
    std::shared_ptr<ProviderEngine> engine;
    {
        std::lock_guard lock(m_mutex);
        engine.swap(m_engine);
    }
    engine.reset(); // aborts what runs, stops the thread
    return true;
}

ModuleHealth ProviderModule::health() const
{
    std::lock_guard lock(m_mutex);
    if (!m_engine)
        return {HealthStatus::Unhealthy, u"not running"_s};
    return {};
}

void ProviderModule::run(const AgentRequest &request, const AgentStream &stream)
{
    std::shared_ptr<ProviderEngine> engine;
    {
        std::lock_guard lock(m_mutex);
        engine = m_engine;
    }
    if (!engine) {
        stream.fail(Error{503, u"%1 is not running"_s.arg(m_defaults.moduleId)});
        return;
    }
    engine->start(request, stream);
}

void ProviderModule::cancel(const QString &callId)
{
    std::lock_guard lock(m_mutex);
    if (m_engine)
        m_engine->cancel(callId);
}

} // namespace Mtw::Ai
