// SPDX-License-Identifier: MIT
// The mtw-ai-anthropic module: the provider "anthropic" (docs/agents.md#providers).
#include "anthropicformat.h"
#include "providermodule.h"

#include <QObject>

namespace Mtw::Ai {

// The plugin's root object; lives in the server's thread, its engine in "mtw-ai-anthropic".
class AnthropicModule : public QObject, public ProviderModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "mtw-ai-anthropic.json")
    Q_INTERFACES(Mtw::IModule)

public:
    AnthropicModule()
        : ProviderModule(anthropicDefaults())
    { }

protected:
    std::shared_ptr<const ProviderFormat>
    makeFormat(const ProviderSettings &settings) const override
    {
        return std::make_shared<AnthropicFormat>(settings);
    }
};

} // namespace Mtw::Ai

#include "anthropicmodule.moc"
