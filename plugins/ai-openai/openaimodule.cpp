// SPDX-License-Identifier: MIT
// The mtw-ai-openai module: the provider "openai" (docs/agents.md#providers).
#include "openaiformat.h"
#include "providermodule.h"

#include <QObject>

namespace Mtw::Ai {

// The plugin's root object; lives in the server's thread, its engine in "mtw-ai-openai".
class OpenAiModule : public QObject, public ProviderModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "mtw-ai-openai.json")
    Q_INTERFACES(Mtw::IModule)

public:
    OpenAiModule()
        : ProviderModule(openAiDefaults())
    { }

protected:
    std::shared_ptr<const ProviderFormat>
    makeFormat(const ProviderSettings &settings) const override
    {
        return std::make_shared<OpenAiFormat>(settings);
    }
};

} // namespace Mtw::Ai

#include "openaimodule.moc"
