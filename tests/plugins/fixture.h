// SPDX-License-Identifier: MIT
// Shared by the fixture plugins of tst_modules and tst_hooks: a module that records its lifecycle
// calls in SharedState ("fixture.calls": "load:<id>", "start:<id>", "stop:<id>") and whose
// failures are driven by its [[modules]] config table.
#pragma once

#include <mtw/module.h>

#include <QMutex>
#include <QObject>
#include <QTimer>

namespace MtwFixture {

inline QString callsKey()
{
    return QStringLiteral("fixture.calls");
}

// Appends `entry` to the QStringList stored under `key`. The lock covers one plugin library,
// which is enough: lifecycle calls come from the main thread, filter calls from one plugin.
inline void append(Mtw::SharedState &shared, const QString &key, const QString &entry)
{
    static QMutex mutex;
    QMutexLocker lock(&mutex);
    QStringList list = shared.value(key).toStringList();
    list.append(entry);
    shared.insert(key, list);
}

// Run by a static initializer when the dynamic linker loads the library: lets the test prove
// that a plugin refused for its metadata never had its code run. Adds `id` to the
// comma-separated MTW_FIXTURE_LIBS environment variable.
inline bool markLibraryLoaded(const char *id)
{
    QByteArray loaded = qgetenv("MTW_FIXTURE_LIBS");
    loaded += QByteArray(id) + ',';
    qputenv("MTW_FIXTURE_LIBS", loaded);
    return true;
}

// Config keys: fail_load / fail_start (an error message: load() / start() return it),
// async_stop_ms (stop() returns false and calls stopFinished() after that many ms, recorded as
// "stopFinished:<id>").
// Every call is recorded; the config table is stored as "fixture.config.<id>".
class RecordingModule : public QObject, public Mtw::IModule
{
public:
    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        // The same root object serves every Server of the process: start afresh.
        m_context = &context;
        record(QStringLiteral("load"));
        context.shared().insert(QStringLiteral("fixture.config.") + context.moduleId(),
                                context.config());
        if (const QString error = setting("fail_load").toString(); !error.isEmpty())
            return Mtw::fail(500, error);
        return {};
    }

    Mtw::Result<void> start() override
    {
        record(QStringLiteral("start"));
        if (const QString error = setting("fail_start").toString(); !error.isEmpty())
            return Mtw::fail(503, error);
        return {};
    }

    bool stop() override
    {
        record(QStringLiteral("stop"));
        const int delay = setting("async_stop_ms").toInt();
        if (delay <= 0)
            return true;
        QTimer::singleShot(delay, this, [this] {
            record(QStringLiteral("stopFinished"));
            m_context->stopFinished();
        });
        return false;
    }

    // Unhealthy while the shared key "fixture.unhealthy.<id>" holds a reason (tests set it).
    Mtw::ModuleHealth health() const override
    {
        if (!m_context)
            return {};
        const QString reason =
            m_context->shared()
                .value(QStringLiteral("fixture.unhealthy.") + m_context->moduleId())
                .toString();
        if (reason.isEmpty())
            return {};
        return {Mtw::HealthStatus::Unhealthy, reason};
    }

protected:
    QVariant setting(const char *key) const
    {
        return m_context->config().value(QString::fromLatin1(key));
    }

    void record(const QString &call)
    {
        append(m_context->shared(), callsKey(), call + QLatin1Char(':') + m_context->moduleId());
    }

    Mtw::ModuleContext *m_context = nullptr;
};

} // namespace MtwFixture
