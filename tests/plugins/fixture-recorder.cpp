// SPDX-License-Identifier: MIT
// The hooks fixture for tst_hooks: two message filters, a request action and a receiver for
// every ServerEvents signal, each recorded in SharedState. Its config table says what to do:
//   reject_channel       subscribe/publish/... there is rejected with 403
//   transform_channel    publishes there are upper-cased and get metadata.transformed = true
//   handled_channel      publishes there are consumed by the filter, which answers itself
//   slow_channel         the filter takes 300 ms (over the 100 ms decision budget)
//   throw_channel        the filter throws
//   unanswered_channel   the filter returns without answering
//   both_reject_channel  both filters reject: the higher priority one must win (each Error
//                        carries a detail for the log)
//   throwing_slot_channel  the subscribed slot throws (after recording) for this channel
//   action               a request action answering {"conn_id", "remote", "module"}
//   threads_action       a request action answering where it runs: {"thread", "dispatcher"} of
//                        the I/O worker and {"server_thread", "server_dispatcher"} of load()
// Records "recorder.events" (a QVariantList of QVariantMap, one per signal, in arrival order),
// "recorder.filtered" ("<filter>:<type>:<channel>") and "recorder.after" ("<type>:<channel>").
#include "fixture.h"

#include <QAbstractEventDispatcher>
#include <QJsonObject>
#include <QThread>

#include <stdexcept>

namespace {

[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-recorder");

QString describe(const Mtw::Message &message)
{
    return QString(Mtw::messageTypeName(message.type)) + QLatin1Char(':') + message.channel;
}

// Thread-safe from I/O workers: the config is read-only once loaded, recording takes a lock.
class RecorderFilter : public Mtw::IMessageFilter
{
public:
    RecorderFilter(const QString &name, bool decides)
        : m_name(name)
        , m_decides(decides)
    { }

    void configure(const QVariantMap &config, Mtw::SharedState *shared)
    {
        m_config = config;
        m_shared = shared;
    }

    void beforeMessage(const Mtw::ClientInfo &client,
                       const Mtw::Message &message,
                       Mtw::FilterReply reply) override
    {
        Q_UNUSED(client);
        MtwFixture::append(*m_shared,
                           QStringLiteral("recorder.filtered"),
                           m_name + QLatin1Char(':') + describe(message));
        const QString &channel = message.channel;
        if (channel.isEmpty())
            return reply.accept();
        if (channel == setting("both_reject_channel")) {
            return reply.reject({m_decides ? 403 : 409,
                                 QStringLiteral("rejected by the %1 filter").arg(m_name),
                                 QStringLiteral("detail of the %1 filter").arg(m_name)});
        }
        if (!m_decides)
            return reply.accept();
        if (channel == setting("reject_channel")) {
            return reply.reject(
                {403, QStringLiteral("channel '%1' is closed by fixture-recorder").arg(channel)});
        }
        if (channel == setting("slow_channel"))
            QThread::msleep(300);
        if (channel == setting("throw_channel"))
            throw std::runtime_error("fixture-recorder: filter exploded");
        if (channel == setting("unanswered_channel"))
            return; // neither answers nor keeps the reply
        if (message.type == Mtw::MessageType::Publish && channel == setting("transform_channel")) {
            Mtw::Message transformed = message;
            transformed.payload = Mtw::Payload::fromText(message.payload.text.toUpper());
            transformed.metadata.insert(QStringLiteral("transformed"), true);
            return reply.accept(transformed);
        }
        if (message.type == Mtw::MessageType::Publish && channel == setting("handled_channel")) {
            return reply.handled(
                QJsonObject{{QStringLiteral("handled_by"), QStringLiteral("fixture-recorder")},
                            {QStringLiteral("channel"), channel}});
        }
        reply.accept();
    }

    void afterMessage(const Mtw::ClientInfo &client, const Mtw::Message &message) override
    {
        Q_UNUSED(client);
        if (m_decides)
            MtwFixture::append(*m_shared, QStringLiteral("recorder.after"), describe(message));
    }

private:
    QString setting(const char *key) const
    {
        return m_config.value(QString::fromLatin1(key)).toString();
    }

    const QString m_name;
    const bool m_decides; // the high-priority filter does everything; the low one only rejects
    QVariantMap m_config;
    Mtw::SharedState *m_shared = nullptr;
};

class WhoAmI : public Mtw::IRequestHandler
{
public:
    void handleRequest(const Mtw::ClientInfo &client,
                       const Mtw::Message &request,
                       Mtw::RequestReply reply) override
    {
        Q_UNUSED(request);
        reply.respond(QJsonObject{{QStringLiteral("conn_id"), client.connId()},
                                  {QStringLiteral("remote"), client.remoteAddress().toString()},
                                  {QStringLiteral("module"), QStringLiteral("fixture-recorder")}});
    }
};

// Which thread and event dispatcher serve a request, and which ones the module was loaded on:
// lets the tests check what each thread of a server runs, whatever the process set up.
class ThreadReport : public Mtw::IRequestHandler
{
public:
    static QJsonObject describeCurrentThread(const QString &prefix)
    {
        const QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
        return {
            {prefix + QStringLiteral("thread"), QThread::currentThread()->objectName()},
            {prefix + QStringLiteral("dispatcher"),
             dispatcher ? QString::fromLatin1(dispatcher->metaObject()->className()) : QString()}};
    }

    void recordLoad() { m_loadedOn = describeCurrentThread(QStringLiteral("server_")); }

    void handleRequest(const Mtw::ClientInfo &client,
                       const Mtw::Message &request,
                       Mtw::RequestReply reply) override
    {
        Q_UNUSED(client);
        Q_UNUSED(request);
        QJsonObject report = describeCurrentThread(QString());
        for (auto it = m_loadedOn.constBegin(); it != m_loadedOn.constEnd(); ++it)
            report.insert(it.key(), it.value());
        reply.respond(report);
    }

private:
    QJsonObject m_loadedOn; // written in load(), before any request can arrive
};

} // namespace

// Lives in the main thread; its event receivers run there (queued from the I/O workers).
class FixtureRecorder : public MtwFixture::RecordingModule
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-recorder.json")
    Q_INTERFACES(Mtw::IModule)

public:
    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        if (auto loaded = RecordingModule::load(context); !loaded)
            return loaded;
        m_high.configure(context.config(), &context.shared());
        m_low.configure(context.config(), &context.shared());
        // Registered lowest priority first: the host must sort them.
        context.registerMessageFilter(&m_low, -10);
        context.registerMessageFilter(&m_high, 10);
        if (const QString action = setting("action").toString(); !action.isEmpty())
            context.registerRequestHandler(action, &m_whoAmI);
        if (const QString action = setting("threads_action").toString(); !action.isEmpty()) {
            m_threadReport.recordLoad();
            context.registerRequestHandler(action, &m_threadReport);
        }
        connectEvents(context.events());
        return {};
    }

private:
    void recordEvent(const QString &name, QVariantMap fields)
    {
        fields.insert(QStringLiteral("event"), name);
        static QMutex mutex;
        QMutexLocker lock(&mutex);
        QVariantList events = m_context->shared().value(QStringLiteral("recorder.events")).toList();
        events.append(fields);
        m_context->shared().insert(QStringLiteral("recorder.events"), events);
    }

    void connectEvents(Mtw::ServerEvents *events)
    {
        using Mtw::ServerEvents;
        connect(events, &ServerEvents::clientConnected, this, [this](const Mtw::ClientInfo &c) {
            recordEvent(QStringLiteral("connected"),
                        {{QStringLiteral("conn_id"), c.connId()},
                         {QStringLiteral("remote"), c.remoteAddress().toString()},
                         {QStringLiteral("user_agent"), c.userAgent()},
                         {QStringLiteral("connected_at"), c.connectedAt()},
                         {QStringLiteral("authenticated"), c.isAuthenticated()}});
        });
        connect(events,
                &ServerEvents::clientDisconnected,
                this,
                [this](const Mtw::ClientInfo &c, const Mtw::DisconnectReason &reason) {
                    recordEvent(QStringLiteral("disconnected"),
                                {{QStringLiteral("conn_id"), c.connId()},
                                 {QStringLiteral("reason"), reason.toString()}});
                });
        connect(events,
                &ServerEvents::subscribed,
                this,
                [this](const Mtw::ClientInfo &c, const QString &channel) {
                    recordEvent(QStringLiteral("subscribed"),
                                {{QStringLiteral("conn_id"), c.connId()},
                                 {QStringLiteral("channel"), channel}});
                    if (channel == setting("throwing_slot_channel").toString())
                        throw std::runtime_error("fixture-recorder: slot exploded");
                });
        connect(events,
                &ServerEvents::unsubscribed,
                this,
                [this](const Mtw::ClientInfo &c, const QString &channel) {
                    recordEvent(QStringLiteral("unsubscribed"),
                                {{QStringLiteral("conn_id"), c.connId()},
                                 {QStringLiteral("channel"), channel}});
                });
        connect(events,
                &ServerEvents::messagePublished,
                this,
                [this](const Mtw::ClientInfo &c, const Mtw::Message &message, int recipients) {
                    recordEvent(QStringLiteral("published"),
                                {{QStringLiteral("conn_id"), c.connId()},
                                 {QStringLiteral("channel"), message.channel},
                                 {QStringLiteral("text"), message.payload.text},
                                 {QStringLiteral("from"),
                                  message.metadata.value(QStringLiteral("from")).toString()},
                                 {QStringLiteral("recipients"), recipients}});
                });
        connect(events,
                &ServerEvents::error,
                this,
                [this](const QString &connId, const Mtw::Error &error) {
                    recordEvent(QStringLiteral("error"),
                                {{QStringLiteral("conn_id"), connId},
                                 {QStringLiteral("code"), error.code},
                                 {QStringLiteral("message"), error.message}});
                });
        connect(events, &ServerEvents::aboutToShutdown, this, [this] {
            recordEvent(QStringLiteral("aboutToShutdown"), {});
        });
    }

    RecorderFilter m_high{QStringLiteral("high"), true};
    RecorderFilter m_low{QStringLiteral("low"), false};
    WhoAmI m_whoAmI;
    ThreadReport m_threadReport;
};

#include "fixture-recorder.moc"
