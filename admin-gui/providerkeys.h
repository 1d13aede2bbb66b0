// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

#include <QMap>
#include <QObject>
#include <QString>
#include <QStringList>

namespace Mtw {

// Provider API keys for the server mtwadmin runs in-process, kept in the OS keychain through
// TokenStore: service "<application name>-provider-keys" ("mtwadmin-provider-keys"), one entry
// per module id ("mtw-ai-anthropic"). A stored key reaches the server only as the `api_key` of
// that module's [[modules]] table in the in-memory Config (withKeys()): never mtw.toml, the log
// or an environment variable, so child processes never inherit it. Lives in the GUI thread;
// every call is asynchronous and answers with exactly one signal.
class ProviderKeyStore : public QObject
{
    Q_OBJECT

public:
    enum class State { Stored, NotStored, Failed };
    Q_ENUM(State)

    explicit ProviderKeyStore(QObject *parent = nullptr);

    QString service() const { return m_service; }

    // The provider modules that ship with mtwserver.
    static QStringList shippedProviders();
    // The module ids of `config` a key can be stored for: enabled [[modules]] entries that are
    // shipped providers or have an `api_key` in their table, each once, in file order.
    static QStringList modulesTakingKeys(const Config &config);
    // `config` with each key as the `api_key` of every enabled [[modules]] entry of its module
    // (whatever the file said there). Modules without a key keep their table.
    static Config withKeys(Config config, const QMap<QString, QString> &keys);

    // Stores (replacing), checks or removes one module's key; stateChanged() answers with the
    // number returned here (every listener hears every answer: a dialog tells its own by it).
    // `check` reads the entry to tell whether it exists; the key never leaves this class.
    quint64 store(const QString &module, const QString &key);
    quint64 check(const QString &module);
    quint64 remove(const QString &module);
    // Reads the keys of `modules`; keysLoaded() answers once with the keys found and one
    // sentence per module that could not be read (not stored is no error).
    void loadKeys(const QStringList &modules);

Q_SIGNALS:
    // `error` is empty unless Failed.
    void stateChanged(quint64 request,
                      const QString &module,
                      Mtw::ProviderKeyStore::State state,
                      const QString &error);
    void keysLoaded(const QMap<QString, QString> &keys, const QStringList &errors);

private:
    class TokenStore *newStore();

    QString m_service;
    quint64 m_lastRequest = 0;
};

} // namespace Mtw
