// SPDX-License-Identifier: MIT
// counter-room: a shared counter per room, in the spirit of Stateroom's SharedCounter. The model
// module to copy when you write your own; docs/plugins.md walks through it line by line.
//
// Clients talk to it with plain protocol messages on the room's channel (default prefix
// "counter."):
//   subscribe   counter.lobby                          -> then an `event` {"room","value"}
//   publish     counter.lobby {"op":"increment"}       -> `response` {"room","value"}, and every
//               {"op":"decrement"} {"op":"add","by":n}    member gets the new value as an `event`
//   request     counter.lobby metadata.action = "counter.get" -> `response` {"room","value"}
#pragma once

#include <mtw/module.h>

#include <QHash>
#include <QMetaObject>
#include <QMutex>
#include <QObject>

namespace CounterRoom {

// The plugin's root object: Qt creates it when the library is loaded, in the server's main
// thread, and it lives there for the rest of the process (plugins are never unloaded).
//
// Threading: load(), start(), stop(), health() and the `subscribed` slot run in the main thread;
// beforeMessage() and handleRequest() run on the I/O worker threads, several at once. Everything
// the worker-thread calls may touch is either immutable after load() or guarded by m_mutex.
class CounterRoomModule : public QObject,
                          public Mtw::IModule,
                          public Mtw::IReconfigurable,
                          public Mtw::IMessageFilter,
                          public Mtw::IRequestHandler
{
    Q_OBJECT
    // The JSON is compiled into the library; the server reads it (and checks the IID, which
    // carries the module API major version) before any of our code runs.
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "counter-room.json")
    // IReconfigurable is optional: listed here, the server finds it with qobject_cast and a
    // reload that changes our table calls validateConfig(), then reconfigure().
    Q_INTERFACES(Mtw::IModule Mtw::IReconfigurable)

public:
    // Mtw::IModule (main thread)
    Mtw::Result<void> load(Mtw::ModuleContext &context) override;
    bool stop() override;
    Mtw::ModuleHealth health() const override;

    // Mtw::IReconfigurable (main thread): channel_prefix and require_auth change live.
    Mtw::Result<void> validateConfig(const QVariantMap &newConfig) override;
    Mtw::Result<void> reconfigure(const QVariantMap &newConfig) override;

    // Mtw::IMessageFilter (I/O threads, concurrently). Answers before returning: the work is a
    // few microseconds under a mutex.
    void beforeMessage(const Mtw::ClientInfo &client,
                       const Mtw::Message &message,
                       Mtw::FilterReply reply) override;

    // Mtw::IRequestHandler (I/O threads, concurrently), action "counter.get"
    void handleRequest(const Mtw::ClientInfo &client,
                       const Mtw::Message &request,
                       Mtw::RequestReply reply) override;

private:
    struct Settings
    {
        QString prefix;
        bool requireAuth = false;
    };
    static Mtw::Result<Settings> parse(const QVariantMap &config);
    void setSettings(const Settings &settings);
    Settings settings() const; // a copy, under m_settingsMutex: a reload may change it
    bool isRoom(const QString &channel) const;
    Mtw::Result<QJsonObject> decide(const Mtw::ClientInfo &client, const Mtw::Message &message);
    Mtw::Result<QJsonObject> currentValue(const Mtw::ClientInfo &client,
                                          const Mtw::Message &request) const;
    Mtw::Result<qint64> apply(const QString &room, qint64 delta);
    void sendCurrentValue(const QString &connId, const QString &room);

    // Set by load() and by a reload, read by the I/O threads: under its own mutex.
    mutable QMutex m_settingsMutex;
    Settings m_settings;
    // Set in load(), read-only afterwards: safe to read from any thread without a lock.
    Mtw::ServerHandle *m_server = nullptr; // thread-safe object owned by the server
    Mtw::SharedState *m_shared = nullptr;  // thread-safe object owned by the server
    Mtw::ServerEvents *m_events = nullptr; // main thread only
    QMetaObject::Connection m_subscription;

    // Shared by all I/O threads.
    mutable QMutex m_mutex;
    QHash<QString, qint64> m_counters; // room -> value
};

} // namespace CounterRoom
