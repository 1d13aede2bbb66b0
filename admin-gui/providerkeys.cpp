// SPDX-License-Identifier: MIT
#include "providerkeys.h"

#include "tokenstore.h"

#include <QCoreApplication>

#include <memory>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace {

const auto ApiKey = "api_key"_L1;

} // namespace

ProviderKeyStore::ProviderKeyStore(QObject *parent)
    : QObject(parent)
    // The application's name keeps a test's entries apart from mtwadmin's own.
    , m_service(QCoreApplication::applicationName() + u"-provider-keys"_s)
{ }

QStringList ProviderKeyStore::shippedProviders()
{
    return {u"mtw-ai-anthropic"_s, u"mtw-ai-openai"_s};
}

QStringList ProviderKeyStore::modulesTakingKeys(const Config &config)
{
    const QStringList shipped = shippedProviders();
    QStringList modules;
    for (const ModuleConfig &module : config.modules) {
        if (!module.enabled || modules.contains(module.name))
            continue;
        if (shipped.contains(module.name) || module.config.contains(ApiKey))
            modules.append(module.name);
    }
    return modules;
}

Config ProviderKeyStore::withKeys(Config config, const QMap<QString, QString> &keys)
{
    for (ModuleConfig &module : config.modules) {
        const auto key = keys.constFind(module.name);
        if (module.enabled && key != keys.cend() && !key->isEmpty())
            module.config.insert(ApiKey, *key);
    }
    return config;
}

TokenStore *ProviderKeyStore::newStore()
{
    // One TokenStore per call: its signals answer that call only, and it goes with its answer.
    return new TokenStore(m_service, this, tr("API key"));
}

quint64 ProviderKeyStore::store(const QString &module, const QString &key)
{
    const quint64 request = ++m_lastRequest;
    TokenStore *tokens = newStore();
    connect(tokens,
            &TokenStore::saved,
            this,
            [this, tokens, request](const QString &name, bool ok, const QString &error) {
                tokens->deleteLater();
                Q_EMIT stateChanged(request, name, ok ? State::Stored : State::Failed, error);
            });
    tokens->save(module, key);
    return request;
}

quint64 ProviderKeyStore::check(const QString &module)
{
    const quint64 request = ++m_lastRequest;
    TokenStore *tokens = newStore();
    connect(tokens,
            &TokenStore::loaded,
            this,
            [this, tokens, request](const QString &name,
                                    const QString &,
                                    bool ok,
                                    const QString &error,
                                    bool missing) {
                tokens->deleteLater();
                const State state = ok ? State::Stored : missing ? State::NotStored : State::Failed;
                Q_EMIT stateChanged(request, name, state, ok || missing ? QString() : error);
            });
    tokens->load(module);
    return request;
}

quint64 ProviderKeyStore::remove(const QString &module)
{
    const quint64 request = ++m_lastRequest;
    TokenStore *tokens = newStore();
    connect(tokens,
            &TokenStore::removed,
            this,
            [this, tokens, request](const QString &name, bool ok, const QString &error) {
                tokens->deleteLater();
                // Removing what is not there leaves it not stored: that is what was asked.
                Q_EMIT stateChanged(request, name, ok ? State::NotStored : State::Failed, error);
            });
    tokens->remove(module);
    return request;
}

void ProviderKeyStore::loadKeys(const QStringList &modules)
{
    if (modules.isEmpty()) {
        Q_EMIT keysLoaded({}, {});
        return;
    }
    struct Pending
    {
        qsizetype left = 0;
        QMap<QString, QString> keys;
        QStringList errors;
    };
    auto pending = std::make_shared<Pending>();
    pending->left = modules.size();
    TokenStore *tokens = newStore();
    connect(tokens,
            &TokenStore::loaded,
            this,
            [this, tokens, pending](const QString &name,
                                    const QString &key,
                                    bool ok,
                                    const QString &error,
                                    bool missing) {
                if (ok)
                    pending->keys.insert(name, key);
                else if (!missing)
                    pending->errors.append(tr("%1: %2").arg(name, error));
                if (--pending->left > 0)
                    return;
                tokens->deleteLater();
                Q_EMIT keysLoaded(pending->keys, pending->errors);
            });
    for (const QString &module : modules)
        tokens->load(module);
}

} // namespace Mtw
