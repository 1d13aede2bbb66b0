// SPDX-License-Identifier: MIT
#pragma once

#include "providerengine.h"

#include <mtw/module.h>

#include <memory>
#include <mutex>
#include <vector>

namespace Mtw::Ai {

// What both provider modules do: read ProviderSettings, run a ProviderEngine, register
// themselves as an IAgentProvider under `name`. The plugin's root object derives from QObject
// and this, and supplies its format (makeFormat). IModule calls come from the server's thread;
// run() and cancel() from the agent thread.
class ProviderModule : public IModule, public IAgentProvider
{
public:
    explicit ProviderModule(ProviderDefaults defaults);
    ~ProviderModule() override;

    Result<void> load(ModuleContext &context) override;
    bool stop() override;
    ModuleHealth health() const override;

    void run(const AgentRequest &request, const AgentStream &stream) override;
    void cancel(const QString &callId) override;

protected:
    virtual std::shared_ptr<const ProviderFormat>
    makeFormat(const ProviderSettings &settings) const = 0;

private:
    const ProviderDefaults m_defaults;
    mutable std::mutex m_mutex;
    std::shared_ptr<ProviderEngine> m_engine; // null before load and after stop
};

} // namespace Mtw::Ai
