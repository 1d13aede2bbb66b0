// SPDX-License-Identifier: MIT
#include "counterroommodule.h"

#include <QJsonObject>
#include <QLoggingCategory>
#include <QMutexLocker>
#include <QtNumeric>

#include <cmath>

namespace CounterRoom {

using namespace Qt::StringLiterals;

// One logging category per area, named after the module; enable with
// logging.rules = "mtw.counter-room.debug=true".
Q_LOGGING_CATEGORY(lcCounterRoom, "mtw.counter-room", QtInfoMsg)

namespace {

const QString ActionGet = u"counter.get"_s;

// Where other modules can read a room's value: SharedState key "counter-room/<room>".
QString stateKey(const QString &room)
{
    return u"counter-room/"_s + room;
}

// The payload every reply and event carries.
QJsonObject roomValue(const QString &room, qint64 value)
{
    return QJsonObject{{u"room"_s, room}, {u"value"_s, value}};
}

// What a publish asks for, as a delta. Errors are 400s with a message the client sees verbatim,
// so they say what to send instead.
Mtw::Result<qint64> parseOp(const Mtw::Payload &payload)
{
    if (payload.kind != Mtw::Payload::Kind::Json || !payload.json.isObject()) {
        return Mtw::fail(400,
                         u"counter-room: expected a Json payload such as {\"op\":\"increment\"}"_s);
    }
    const QJsonObject body = payload.json.toObject();
    const QString op = body.value("op"_L1).toString();
    if (op == "increment"_L1)
        return 1;
    if (op == "decrement"_L1)
        return -1;
    if (op == "add"_L1) {
        // JSON numbers are doubles: accept only whole numbers that a double holds exactly.
        const QJsonValue by = body.value("by"_L1);
        const double amount = by.toDouble(0.5);
        if (!by.isDouble() || amount != std::floor(amount) || std::abs(amount) > 9007199254740992.0)
            return Mtw::fail(400, u"counter-room: op 'add' needs an integer 'by'"_s);
        return qint64(amount);
    }
    return Mtw::fail(400, u"counter-room: unknown op '%1' (use increment or decrement)"_s.arg(op));
}

} // namespace

// The whole [[modules]] config table, checked: load() and a reload use the same rules.
Mtw::Result<CounterRoomModule::Settings> CounterRoomModule::parse(const QVariantMap &config)
{
    const QVariant prefix = config.value(u"channel_prefix"_s, u"counter."_s);
    if (prefix.typeId() != QMetaType::QString || prefix.toString().isEmpty()) {
        return Mtw::fail(400,
                         u"counter-room: channel_prefix must be a non-empty string such as "
                         "\"counter.\""_s);
    }
    const QVariant requireAuth = config.value(u"require_auth"_s, false);
    if (requireAuth.typeId() != QMetaType::Bool)
        return Mtw::fail(400, u"counter-room: require_auth must be true or false"_s);
    return Settings{prefix.toString(), requireAuth.toBool()};
}

Mtw::Result<void> CounterRoomModule::load(Mtw::ModuleContext &context)
{
    // Validate the whole [[modules]] config table first: an Error here marks the module failed
    // with this message (logged, shown in the admin view) and the server goes on without it.
    const auto settings = parse(context.config());
    if (!settings)
        return tl::unexpected(settings.error());

    // Plugin objects live as long as the process, and a process may run a server more than once
    // (tests, the admin GUI restarting one): start from a clean slate on every load().
    setSettings(*settings);
    m_server = &context.server();
    m_shared = &context.shared();
    m_events = context.events();
    disconnect(m_subscription); // from an earlier load(), if any
    {
        QMutexLocker lock(&m_mutex);
        m_counters.clear();
    }

    // Decision services: the server calls them from its I/O threads. Registration is only
    // possible during load() and start().
    context.registerMessageFilter(this);
    context.registerRequestHandler(ActionGet, this);

    // A newcomer gets the current value right after its subscribe response. `subscribed` is
    // emitted from an I/O thread; the context object (third argument) makes Qt queue the call
    // into that object's thread. We pass the ServerEvents object rather than `this`: it is in the
    // same (main) thread but dies with the server, so a call still queued when the server is
    // destroyed is dropped, whereas our own object outlives every server.
    m_subscription = connect(m_events,
                             &Mtw::ServerEvents::subscribed,
                             m_events,
                             [this](const Mtw::ClientInfo &client, const QString &channel) {
                                 if (isRoom(channel))
                                     sendCurrentValue(client.connId(), channel);
                             });
    qCDebug(lcCounterRoom).noquote() << "serving rooms" << settings->prefix + u'*';
    return {};
}

// A configuration reload (Mtw::IReconfigurable): both keys apply to the next message. Rooms
// that no longer match the prefix keep their values (a later prefix may match them again).
Mtw::Result<void> CounterRoomModule::validateConfig(const QVariantMap &newConfig)
{
    const auto settings = parse(newConfig);
    if (!settings)
        return tl::unexpected(settings.error());
    return {};
}

Mtw::Result<void> CounterRoomModule::reconfigure(const QVariantMap &newConfig)
{
    const auto settings = parse(newConfig);
    if (!settings)
        return tl::unexpected(settings.error());
    setSettings(*settings);
    qCInfo(lcCounterRoom).noquote() << "reconfigured: serving rooms" << settings->prefix + u'*'
                                    << (settings->requireAuth ? "to authenticated clients" : "");
    return {};
}

void CounterRoomModule::setSettings(const Settings &settings)
{
    QMutexLocker lock(&m_settingsMutex);
    m_settings = settings;
}

CounterRoomModule::Settings CounterRoomModule::settings() const
{
    QMutexLocker lock(&m_settingsMutex);
    return m_settings;
}

bool CounterRoomModule::stop()
{
    // Connections are closed by now. Stop reacting to events and withdraw what we published in
    // SharedState, so that no other module reads a value that is no longer maintained.
    disconnect(m_subscription);
    QMutexLocker lock(&m_mutex);
    for (auto it = m_counters.cbegin(); it != m_counters.cend(); ++it)
        m_shared->remove(stateKey(it.key()));
    return true; // stopped synchronously; see docs/plugins.md for asynchronous stops
}

Mtw::ModuleHealth CounterRoomModule::health() const
{
    QMutexLocker lock(&m_mutex);
    const qsizetype rooms = m_counters.size();
    return {Mtw::HealthStatus::Healthy, rooms == 1 ? u"1 room"_s : u"%1 rooms"_s.arg(rooms)};
}

void CounterRoomModule::beforeMessage(const Mtw::ClientInfo &client,
                                      const Mtw::Message &message,
                                      Mtw::FilterReply reply)
{
    // Every subscribe, unsubscribe, publish, request and agent_task of every client passes here,
    // so the common case (not ours) must be cheap and must leave the message alone.
    if (message.type != Mtw::MessageType::Publish || !isRoom(message.channel)) {
        reply.accept();
        return;
    }
    // Answered before returning. A module that must wait for something (a database, another
    // service) keeps `reply` instead and answers from wherever the result arrives.
    const auto value = decide(client, message);
    if (!value) {
        reply.reject(value.error());
        return;
    }
    // Handled: the publish is consumed (no ordinary fan-out of {"op":...}) and the sender gets a
    // `response` with this value and ref_id = its message id.
    reply.handled(*value);
}

Mtw::Result<QJsonObject> CounterRoomModule::decide(const Mtw::ClientInfo &client,
                                                   const Mtw::Message &message)
{
    // A message we handle never reaches the core's publish path, so the core's channel checks
    // (such as [[channels]] auth) do not apply to it: enforce our own.
    if (settings().requireAuth && !client.isAuthenticated()) {
        return Mtw::fail(401,
                         u"counter-room: room '%1' requires authentication"_s.arg(message.channel));
    }
    const auto delta = parseOp(message.payload);
    if (!delta)
        return tl::unexpected(delta.error());
    const auto value = apply(message.channel, *delta);
    if (!value)
        return tl::unexpected(value.error());
    return roomValue(message.channel, *value);
}

void CounterRoomModule::handleRequest(const Mtw::ClientInfo &client,
                                      const Mtw::Message &request,
                                      Mtw::RequestReply reply)
{
    const auto value = currentValue(client, request);
    if (value)
        reply.respond(*value);
    else
        reply.fail(value.error());
}

Mtw::Result<QJsonObject> CounterRoomModule::currentValue(const Mtw::ClientInfo &client,
                                                         const Mtw::Message &request) const
{
    const Settings current = settings();
    if (!isRoom(request.channel)) {
        return Mtw::fail(
            400,
            u"counter-room: %1 needs a room channel starting with '%2'"_s.arg(ActionGet,
                                                                              current.prefix));
    }
    if (current.requireAuth && !client.isAuthenticated()) {
        return Mtw::fail(401,
                         u"counter-room: room '%1' requires authentication"_s.arg(request.channel));
    }
    QMutexLocker lock(&m_mutex);
    return roomValue(request.channel, m_counters.value(request.channel, 0));
}

bool CounterRoomModule::isRoom(const QString &channel) const
{
    const QString prefix = settings().prefix;
    return channel.size() > prefix.size() && channel.startsWith(prefix);
}

Mtw::Result<qint64> CounterRoomModule::apply(const QString &room, qint64 delta)
{
    QMutexLocker lock(&m_mutex);
    qint64 &value = m_counters[room]; // a room springs into existence at 0, as in Stateroom
    qint64 next = 0;
    if (qAddOverflow(value, delta, &next))
        return Mtw::fail(400, u"counter-room: counter '%1' would overflow"_s.arg(room));
    value = next;
    m_shared->insert(stateKey(room), next);

    // Broadcast while still holding the lock. publish() only queues the delivery to each worker,
    // in call order, so doing it under the lock keeps every member's view in counter order
    // (nobody sees 6 and then 5). The sender is a member like any other; metadata.from is
    // "server". A room nobody ever joined does not exist as a channel (404): nobody to tell.
    Mtw::Message event = Mtw::Message::create(Mtw::MessageType::Event,
                                              Mtw::Payload::fromJson(roomValue(room, next)));
    if (const auto sent = m_server->publish(room, event); !sent && sent.error().code != 404) {
        qCWarning(lcCounterRoom).noquote()
            << "cannot broadcast" << room << "=" << next << ":" << sent.error().message;
    }
    return next;
}

void CounterRoomModule::sendCurrentValue(const QString &connId, const QString &room)
{
    // Under the lock for the same reason as apply(): this value and the broadcasts reach the
    // client in counter order.
    QMutexLocker lock(&m_mutex);
    auto it = m_counters.find(room);
    if (it == m_counters.end()) {
        it = m_counters.insert(room, 0);
        m_shared->insert(stateKey(room), qint64(0));
    }
    Mtw::Message event =
        Mtw::Message::create(Mtw::MessageType::Event, Mtw::Payload::fromJson(roomValue(room, *it)));
    event.channel = room;
    m_server->sendTo(connId, event); // false when the client has already gone: nothing to do
}

} // namespace CounterRoom
