// SPDX-License-Identifier: MIT
#include "admin/adminservice.h"

#include "agents/agentrunner.h"
#include "channels/channeljson.h"
#include "transport/clientsocket.h"
#include "transport/cluster.h"
#include "transport/logging.h"
#include "transport/metrics.h"
#include "transport/servercontext.h"
#include "transport/tsanannotations.h"
#include "transport/worker.h"

#include <mtw/buildinfo.h>
#include <mtw/logbus.h>
#include <mtw/server.h>

#include <QCoreApplication>
#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSaveFile>
#include <QTcpSocket>
#include <QTimer>
#include <QWebSocket>
#include <QWebSocketServer>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcAdmin, "mtw.admin", QtInfoMsg)

namespace {

// The largest admin message read: a config file is a few KiB. Larger ones close with 1009. What
// may wait for an admin client is bounded where its socket is accepted (the worker).
constexpr quint64 AdminMaxMessageSize = 1024 * 1024;

QJsonObject connectionRow(const ConnectionSummary &row)
{
    return QJsonObject{
        {u"conn_id"_s, row.connId},
        {u"remote_address"_s, row.remoteAddress},
        {u"remote_port"_s, row.remotePort ? QJsonValue(row.remotePort) : QJsonValue()},
        {u"user_id"_s, row.userId},
        {u"roles"_s, QJsonArray::fromStringList(row.roles)},
        {u"user_agent"_s, row.userAgent},
        {u"channels"_s, QJsonArray::fromStringList(row.channels)},
        {u"mode"_s, row.binaryMode ? u"binary"_s : u"text"_s},
        {u"queue_bytes"_s, row.queueBytes},
        {u"messages_in"_s, row.messagesIn},
        {u"messages_out"_s, row.messagesOut},
        {u"connected_at"_s, row.connectedAt}};
}

QJsonObject logEntryJson(const LogEntry &entry)
{
    return {{u"ts"_s,
             QDateTime::fromMSecsSinceEpoch(entry.timestamp, Qt::UTC).toString(Qt::ISODateWithMs)},
            {u"level"_s, LogBus::levelName(entry.level)},
            {u"category"_s, entry.category},
            {u"message"_s, entry.message}};
}

QString healthName(HealthStatus status)
{
    switch (status) {
    case HealthStatus::Healthy:
        return u"healthy"_s;
    case HealthStatus::Degraded:
        return u"degraded"_s;
    case HealthStatus::Unhealthy:
        return u"unhealthy"_s;
    }
    return u"unknown"_s;
}

} // namespace

AdminService::AdminService(Server *server, ServerContext *context, QObject *parent)
    : QObject(parent)
    , m_server(server)
    , m_context(context)
    , m_startedAt(QDateTime::currentMSecsSinceEpoch())
{
    m_webSocketServer =
        new QWebSocketServer(u"mtwserver-admin"_s, QWebSocketServer::NonSecureMode, this);
    connect(m_webSocketServer, &QWebSocketServer::newConnection, this, &AdminService::onNewAdmin);

    m_tick = new QTimer(this);
    m_tick->setInterval(1000);
    connect(m_tick, &QTimer::timeout, this, &AdminService::tick);
    m_logTimer = new QTimer(this);
    m_logTimer->setInterval(200);
    connect(m_logTimer, &QTimer::timeout, this, &AdminService::flushLog);
    m_rateClock.start();
    m_lastCounters = counters(false);

    ServerEvents *events = server->events();
    // The rows are made only when an admin client is there to get them: with none attached,
    // building the JSON was a fifth of the CPU of an upgrade (callgrind of a 1,000-upgrade storm).
    connect(events, &ServerEvents::clientConnected, this, [this](const ClientInfo &client) {
        if (m_admins.isEmpty())
            return;
        broadcast({{u"type"_s, u"connection_opened"_s},
                   {u"connection"_s,
                    connectionRow(ConnectionSummary{client.connId(),
                                                    client.remoteAddress().toString(),
                                                    client.remotePort(),
                                                    client.userId(),
                                                    client.roles(),
                                                    client.userAgent(),
                                                    {},
                                                    false,
                                                    0,
                                                    0,
                                                    0,
                                                    client.connectedAt()})}});
    });
    connect(server,
            &Server::connectionClosed,
            this,
            [this](const QString &connId, const DisconnectReason &reason) {
                if (m_admins.isEmpty())
                    return;
                broadcast({{u"type"_s, u"connection_closed"_s},
                           {u"conn_id"_s, connId},
                           {u"reason"_s, reason.toString()}});
            });
    // Every reload (SIGHUP, server.watch_config, a save): what took effect, what waits.
    connect(server,
            &Server::configReloaded,
            this,
            [this](const QStringList &applied, const QStringList &restartRequired) {
                broadcast({{u"type"_s, u"config_reloaded"_s},
                           {u"applied"_s, QJsonArray::fromStringList(applied)},
                           {u"restart_required"_s, QJsonArray::fromStringList(restartRequired)}});
            });
    connect(server, &Server::configReloadFailed, this, [this](const QStringList &errors) {
        broadcast({{u"type"_s, u"config_reload_failed"_s},
                   {u"errors"_s, QJsonArray::fromStringList(errors)}});
    });
    connect(server, &Server::shutdownStarted, this, [this] {
        broadcast(
            {{u"type"_s, u"shutdown_started"_s}, {u"connections"_s, m_server->connectionCount()}});
    });
}

AdminService::~AdminService()
{
    const QList<QWebSocket *> all = m_admins + m_attaching;
    for (QWebSocket *admin : all)
        admin->disconnect(this);
    qDeleteAll(all);
}

void AdminService::adoptSocket(QTcpSocket *socket)
{
    if (!m_context) {
        socket->deleteLater();
        return;
    }
    socket->setParent(this);
    // The worker bounded this socket's queue; an admin client that does not read is dropped
    // rather than left with a stream that lost bytes.
    if (ClientSocket *client = ClientSocket::from(socket)) {
        client->onQueueOverflow([socket](qint64 queued, qint64) {
            qCWarning(lcAdmin).noquote()
                << "admin client" << socket->peerAddress().toString() << "does not read:" << queued
                << "bytes queued - disconnected";
            socket->abort();
        });
    }
    // A peer whose upgrade, Close frame and FIN came in one write may be gone before the socket
    // reaches this thread: QWebSocketServer would wait for a readyRead that never comes.
    if (socket->state() != QAbstractSocket::ConnectedState) {
        qCInfo(lcAdmin).noquote() << "admin from" << socket->peerAddress().toString()
                                  << "left during the upgrade";
        socket->abort();
        socket->deleteLater();
        return;
    }
    m_webSocketServer->handleConnection(socket);
}

void AdminService::onNewAdmin()
{
    while (QWebSocket *admin = m_webSocketServer->nextPendingConnection()) {
        admin->setParent(this);
        // A peer that closed as the 101 went out (its Close frame and FIN in the same write as
        // the upgrade) is gone before its QWebSocket could hear of it: no disconnected() would
        // ever come, and the admin would stay attached until shutdown.
        if (admin->state() != QAbstractSocket::ConnectedState) {
            qCInfo(lcAdmin).noquote()
                << "admin from" << admin->peerAddress().toString() << "left during the upgrade";
            admin->abort();
            admin->deleteLater();
            continue;
        }
        // Operator actions and config files are small; nothing bigger is read.
        admin->setMaxAllowedIncomingMessageSize(AdminMaxMessageSize);
        admin->setMaxAllowedIncomingFrameSize(AdminMaxMessageSize);
        m_attaching.append(admin); // joins m_admins once its snapshot is out
        qCInfo(lcAdmin).noquote() << "admin attached from" << admin->peerAddress().toString();
        connect(admin, &QWebSocket::textMessageReceived, this, [this, admin](const QString &text) {
            onAdminMessage(admin, text);
        });
        connect(admin, &QWebSocket::disconnected, this, [this, admin] {
            m_admins.removeOne(admin);
            m_attaching.removeOne(admin);
            m_logSeen.remove(admin);
            admin->deleteLater();
            qCInfo(lcAdmin) << "admin detached";
            if (m_admins.isEmpty() && m_attaching.isEmpty()) {
                m_tick->stop();
                m_logTimer->stop();
            }
        });
        sendSnapshot(admin);
        if (!m_tick->isActive()) {
            m_tick->start();
            m_logTimer->start();
        }
    }
}

void AdminService::sendSnapshot(QWebSocket *admin)
{
    // Every worker lists its connections; the snapshot goes out once all have answered.
    auto snapshot = std::make_shared<Snapshot>();
    snapshot->waitingFor = int(m_context->workers.size());
    QPointer<QWebSocket> target(admin);
    const auto complete = [this, snapshot, target] {
        // Only an admin still waiting for its snapshot is promoted. One that disconnected
        // meanwhile has left m_attaching, and its deleteLater() has not run yet, so `target` is
        // still set: putting it into m_admins kept a pointer that every later broadcast and
        // serverFinished() used after the delete (e2e_cluster's SIGSEGV at shutdown).
        if (!target || !m_attaching.removeOne(target.data()))
            return;
        QJsonArray rows;
        for (const ConnectionSummary &row : std::as_const(snapshot->rows))
            rows.append(connectionRow(row));
        QJsonArray log;
        const QList<LogEntry> recent = LogBus::recent(200);
        for (const LogEntry &entry : recent)
            log.append(logEntryJson(entry));
        // From now on this admin gets deltas and the log lines after those in its snapshot.
        m_admins.append(target.data());
        m_logSeen.insert(target.data(),
                         recent.isEmpty() ? LogBus::lastSequence() : recent.constLast().sequence);
        send(target,
             {{u"type"_s, u"snapshot"_s},
              {u"server"_s, serverInfo()},
              {u"counters"_s, counters(false)},
              {u"connections"_s, rows},
              {u"channels"_s, channelRows(false)},
              {u"modules"_s, moduleRows()},
              {u"agents"_s, agentRows()},
              {u"log"_s, log}});
    };
    if (snapshot->waitingFor == 0) {
        complete();
        return;
    }
    for (Worker *worker : std::as_const(m_context->workers)) {
        worker->postCollect(this,
                            false,
                            [snapshot, complete](const QList<ConnectionSummary> &rows) {
                                snapshot->rows += rows;
                                if (--snapshot->waitingFor == 0)
                                    complete();
                            });
    }
}

void AdminService::tick()
{
    broadcast({{u"type"_s, u"counters"_s}, {u"counters"_s, counters(true)}});
    for (Worker *worker : std::as_const(m_context->workers)) {
        worker->postCollect(this, true, [this](const QList<ConnectionSummary> &rows) {
            if (rows.isEmpty())
                return;
            QJsonArray changed;
            for (const ConnectionSummary &row : rows)
                changed.append(connectionRow(row));
            broadcast({{u"type"_s, u"connections_updated"_s}, {u"connections"_s, changed}});
        });
    }
    if (const QJsonArray channels = channelRows(true); !channels.isEmpty())
        broadcast({{u"type"_s, u"channels_updated"_s}, {u"channels"_s, channels}});
    if (const QJsonArray modules = moduleRows(); modules != m_lastModules) {
        m_lastModules = modules;
        broadcast({{u"type"_s, u"modules"_s}, {u"modules"_s, modules}});
    }
    if (const QJsonArray agents = agentRows(); agents != m_lastAgents) {
        m_lastAgents = agents;
        broadcast({{u"type"_s, u"agents_updated"_s}, {u"agents"_s, agents}});
    }
}

// One row per [[agents]] entry, read from the runner's counters without a lock.
QJsonArray AdminService::agentRows() const
{
    QJsonArray rows;
    const AgentRunner *runner = m_context ? m_context->agents : nullptr;
    if (!runner)
        return rows;
    for (const auto &m : runner->agentMetrics()) {
        QJsonObject errors;
        for (size_t k = 0; k < size_t(ProviderErrorKind::Count); ++k) {
            errors.insert(QLatin1String(providerErrorKindName(ProviderErrorKind(k))),
                          m->providerErrors[k].load(std::memory_order_relaxed));
        }
        rows.append(QJsonObject{{u"name"_s, m->name},
                                {u"provider"_s, m->provider},
                                {u"model"_s, m->model},
                                {u"channels"_s, QJsonArray::fromStringList(m->channels)},
                                {u"running"_s, m->running.load(std::memory_order_relaxed)},
                                {u"queued"_s, m->queued.load(std::memory_order_relaxed)},
                                {u"completed"_s, m->completed.load(std::memory_order_relaxed)},
                                {u"failed"_s, m->failed.load(std::memory_order_relaxed)},
                                {u"tokens_in"_s, m->tokensIn.load(std::memory_order_relaxed)},
                                {u"tokens_out"_s, m->tokensOut.load(std::memory_order_relaxed)},
                                {u"provider_errors"_s, m->providerErrorTotal()},
                                {u"errors_by_kind"_s, errors}});
    }
    return rows;
}

void AdminService::flushLog()
{
    // Each admin has its own position: its snapshot already carried some of these lines.
    quint64 oldest = LogBus::lastSequence();
    for (QWebSocket *admin : std::as_const(m_admins))
        oldest = std::min(oldest, m_logSeen.value(admin));
    const QList<LogEntry> entries = LogBus::since(oldest);
    if (entries.isEmpty())
        return;
    for (QWebSocket *admin : std::as_const(m_admins)) {
        quint64 &seen = m_logSeen[admin];
        QJsonArray out;
        for (const LogEntry &entry : entries) {
            if (entry.sequence > seen)
                out.append(logEntryJson(entry));
        }
        seen = entries.constLast().sequence;
        if (!out.isEmpty())
            send(admin, {{u"type"_s, u"log"_s}, {u"entries"_s, out}});
    }
}

QJsonObject AdminService::serverInfo() const
{
    const Config &config = m_server->config();
    return {{u"version"_s, versionString()},
            {u"commit"_s, gitCommit()},
            {u"build_date"_s, buildDate()},
            {u"qt_version"_s, QString::fromLatin1(qVersion())},
            {u"started_at"_s, m_startedAt},
            {u"uptime_ms"_s, QDateTime::currentMSecsSinceEpoch() - m_startedAt},
            {u"config_path"_s, config.sourcePath},
            {u"host"_s, config.server.host},
            {u"port"_s, int(m_server->port())},
            {u"ws_path"_s, config.transport.websocket.path},
            {u"workers"_s, m_server->workerCount()},
            {u"cluster"_s, m_context ? clusterInfoJson(*m_context) : QJsonValue(QJsonValue::Null)},
            {u"max_connections"_s, config.server.maxConnections},
            {u"pid"_s, qint64(QCoreApplication::applicationPid())}};
}

QJsonObject AdminService::counters(bool withRates)
{
    const ServerCounters &c = m_context->counters;
    const TrafficTotals traffic = trafficTotals(*m_context);
    int subscriptions = 0;
    const QList<ChannelInfo> channels = m_context->registry.channels();
    for (const ChannelInfo &channel : channels)
        subscriptions += channel.members;
    QJsonObject out{{u"connections"_s, m_server->connectionCount()},
                    {u"channels"_s, int(channels.size())},
                    {u"subscriptions"_s, subscriptions},
                    {u"messages_in"_s, qint64(traffic.messagesIn)},
                    {u"messages_out"_s, qint64(traffic.messagesOut)},
                    {u"bytes_in"_s, qint64(traffic.bytesIn)},
                    {u"bytes_out"_s, qint64(traffic.bytesOut)},
                    {u"protocol_errors"_s, c.protocolErrors.load(std::memory_order_relaxed)}};
    if (const AgentRunner *agents = m_context->agents) { // with [[agents]] (docs/agents.md)
        const AgentTotals a = agents->totals();
        out.insert(u"agents"_s,
                   QJsonObject{{u"running"_s, a.running},
                               {u"queued"_s, a.queued},
                               {u"completed"_s, a.completed},
                               {u"failed"_s, a.failed},
                               {u"provider_errors"_s, a.providerErrors},
                               {u"tokens_in"_s, a.tokensIn},
                               {u"tokens_out"_s, a.tokensOut}});
    }
    if (withRates) {
        const double seconds = std::max<qint64>(1, m_rateClock.restart()) / 1000.0;
        for (const char *key : {"messages_in", "messages_out", "bytes_in", "bytes_out"}) {
            const QString name = QLatin1String(key);
            const double delta = out.value(name).toDouble() - m_lastCounters.value(name).toDouble();
            out.insert(name + u"_per_s"_s, qRound64(std::max(0.0, delta) / seconds));
        }
        m_lastCounters = out;
    }
    return out;
}

QJsonArray AdminService::channelRows(bool changedOnly)
{
    QJsonArray rows;
    for (const ChannelInfo &info : m_context->registry.channels()) {
        const qint64 previous = m_lastPublished.value(info.name, info.published);
        QJsonObject row{{u"name"_s, info.name},
                        {u"members"_s, info.members},
                        {u"history"_s, info.historySize},
                        {u"auth"_s, info.settings.auth},
                        {u"max_members"_s, info.settings.maxMembers},
                        {u"history_limit"_s, info.settings.history},
                        {u"presence"_s, info.settings.presence},
                        {u"binary"_s, info.settings.binary},
                        {u"messages"_s, info.published},
                        {u"messages_per_s"_s, changedOnly ? info.published - previous : 0}};
        if (changedOnly) {
            m_lastPublished.insert(info.name, info.published);
            if (m_lastChannels.value(info.name) == row)
                continue;
        }
        m_lastChannels.insert(info.name, row);
        rows.append(row);
    }
    return rows;
}

QJsonArray AdminService::moduleRows() const
{
    QJsonArray rows;
    for (const ModuleStatus &status : m_server->modules()) {
        const ModuleMetadata metadata = status.metadata();
        const ModuleHealth health = status.health();
        rows.append(QJsonObject{{u"id"_s, metadata.id()},
                                {u"name"_s, metadata.name()},
                                {u"version"_s, metadata.version()},
                                {u"kind"_s, metadata.kind()},
                                {u"state"_s, moduleStateName(status.state())},
                                {u"error"_s, status.error()},
                                {u"health"_s, healthName(health.status())},
                                {u"health_reason"_s, health.reason()},
                                {u"required"_s, status.isRequired()},
                                {u"path"_s, status.path()}});
    }
    return rows;
}

void AdminService::onAdminMessage(QWebSocket *admin, const QString &text)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(text.toUtf8(), &error);
    if (!document.isObject()) {
        reply(admin,
              QJsonValue(),
              fail(400, u"expected a JSON object: %1"_s.arg(error.errorString())));
        return;
    }
    const QJsonObject request = document.object();
    const QString action = request.value("action"_L1).toString();
    // Reads that views repeat (mtwadmin's channel and config panes) at debug, so they do not
    // flood the log; every action that changes something stays at info.
    const bool read = action == "history"_L1 || action == "presence"_L1 || action == "get_config"_L1
        || action == "validate_config"_L1 || action == "nodes"_L1;
    if (read)
        qCDebug(lcAdmin).noquote()
            << "admin action" << action << "from" << admin->peerAddress().toString();
    else
        qCInfo(lcAdmin).noquote() << "admin action" << action << "from"
                                  << admin->peerAddress().toString();
    if (action == "nodes"_L1) {
        answerNodes(admin, request.value("id"_L1));
        return;
    }
    reply(admin, request.value("id"_L1), perform(action, request));
}

// The cluster's nodes as the broker's registry has them (heartbeats); just this node without a
// broker.
void AdminService::answerNodes(QWebSocket *admin, const QJsonValue &id)
{
    if (!m_context) {
        reply(admin, id, fail(503, u"the server has stopped"_s));
        return;
    }
    if (!m_context->broker) {
        reply(admin,
              id,
              QJsonValue(QJsonObject{{u"cluster"_s, false}, {u"nodes"_s, QJsonArray()}}));
        return;
    }
    QPointer<QWebSocket> target(admin);
    const QString self = m_context->nodeId;
    m_context->broker->nodes([this, target, id, self](Result<QList<BrokerNodeInfo>> nodes) {
        // Read here, released by the broker's thread: see Tsan::HandedOver.
        QMetaObject::invokeMethod(
            this,
            [this, target, id, self, answer = Tsan::HandedOver(std::move(nodes))] {
                if (target)
                    reply(target, id, clusterNodesJson(*answer, self));
                answer.done();
            },
            Qt::QueuedConnection);
    });
}

Result<QJsonValue> AdminService::perform(const QString &action, const QJsonObject &request)
{
    if (!m_context)
        return fail(503, u"the server has stopped"_s);
    const QString channel = request.value("channel"_L1).toString();
    if (action == "disconnect"_L1) {
        const QString connId = request.value("conn_id"_L1).toString();
        QString reason = request.value("reason"_L1).toString();
        if (reason.isEmpty())
            reason = u"disconnected by an administrator"_s;
        if (!disconnectAnywhere(*m_context, connId, reason))
            return fail(404, u"no connection '%1'"_s.arg(connId));
        qCInfo(lcAdmin).noquote() << "admin disconnected" << connId + u": "_s + reason;
        return QJsonObject{};
    }
    if (action == "publish"_L1) {
        Message message =
            Message::create(MessageType::Publish, Payload::fromJson(request.value("payload"_L1)));
        message.metadata.insert(u"from"_s, u"admin"_s);
        const auto recipients = m_server->handle().publish(channel, message);
        if (!recipients)
            return tl::unexpected(recipients.error());
        return QJsonObject{{u"recipients"_s, *recipients}};
    }
    if (action == "history"_L1) {
        const auto history =
            m_context->registry.history(channel, request.value("limit"_L1).toInt(0));
        if (!history)
            return tl::unexpected(history.error());
        return QJsonObject{{u"channel"_s, channel}, {u"messages"_s, historyJson(*history)}};
    }
    if (action == "presence"_L1) {
        const auto members = m_context->registry.presence(channel);
        if (!members)
            return tl::unexpected(members.error());
        return QJsonObject{{u"channel"_s, channel}, {u"members"_s, presenceJson(*members)}};
    }
    if (action == "get_config"_L1) {
        const QString path = m_server->config().sourcePath;
        QString text;
        if (!path.isEmpty()) {
            QFile file(path);
            if (!file.open(QIODevice::ReadOnly))
                return fail(500, u"cannot read %1: %2"_s.arg(path, file.errorString()));
            text = QString::fromUtf8(file.readAll());
        }
        return QJsonObject{{u"path"_s, path}, {u"text"_s, text}};
    }
    if (action == "validate_config"_L1 || action == "save_config"_L1)
        return validateConfig(request.value("text"_L1).toString(), action == "save_config"_L1);
    if (action == "shutdown"_L1) {
        qCInfo(lcAdmin) << "graceful shutdown requested through the admin API";
        QMetaObject::invokeMethod(m_server, &Server::shutdown, Qt::QueuedConnection);
        return QJsonObject{};
    }
    return fail(404, u"unknown action '%1'"_s.arg(action));
}

Result<QJsonValue> AdminService::validateConfig(const QString &text, bool save)
{
    const QString path = m_server->config().sourcePath;
    const ConfigLoadResult parsed = parseConfig(text, path.isEmpty() ? u"mtw.toml"_s : path);
    QJsonArray diagnostics;
    for (const ConfigDiagnostic &d : parsed.diagnostics) {
        diagnostics.append(QJsonObject{
            {u"severity"_s,
             d.severity == ConfigDiagnostic::Severity::Error ? u"error"_s : u"warning"_s},
            {u"line"_s, d.line},
            {u"column"_s, d.column},
            {u"key"_s, d.keyPath},
            {u"message"_s, d.message},
            {u"text"_s, d.toString()}});
    }
    const bool valid = !parsed.hasErrors();
    const QList<ConfigChange> changes =
        valid ? diffConfigs(m_server->config(), parsed.config) : QList<ConfigChange>();
    QJsonObject result{
        {u"valid"_s, valid},
        {u"diagnostics"_s, diagnostics},
        {u"restart_required"_s, QJsonArray::fromStringList(restartRequiredKeys(changes))}};
    if (!save || !valid)
        return result;
    if (path.isEmpty())
        return fail(409,
                    u"the server runs on built-in defaults: there is no config file to save"_s);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return fail(500, u"cannot write %1: %2"_s.arg(path, file.errorString()));
    file.write(text.toUtf8());
    if (!file.commit())
        return fail(500, u"cannot write %1: %2"_s.arg(path, file.errorString()));
    qCInfo(lcAdmin).noquote() << "configuration saved to" << path << "through the admin API";
    result.insert(u"saved"_s, true);
    // The saved file is reloaded the way SIGHUP reloads it: all or nothing, the live keys take
    // effect, the rest waits for a restart (and the overrides of the command line still hold).
    const auto reloaded = m_server->reloadConfig();
    result.insert(u"reloaded"_s, bool(reloaded));
    if (!reloaded) {
        result.insert(u"reload_errors"_s,
                      QJsonArray::fromStringList(reloaded.error().message.split(u'\n')));
        result.insert(u"applied"_s, QJsonArray());
        return result;
    }
    QStringList applied;
    for (const ConfigChange &change : *reloaded) {
        if (change.apply == ConfigApply::Live)
            applied.append(change.key);
    }
    result.insert(u"applied"_s, QJsonArray::fromStringList(applied));
    result.insert(u"restart_required"_s,
                  QJsonArray::fromStringList(restartRequiredKeys(*reloaded)));
    return result;
}

void AdminService::reply(QWebSocket *admin, const QJsonValue &id, const Result<QJsonValue> &outcome)
{
    QJsonObject message{{u"type"_s, u"result"_s}, {u"id"_s, id}, {u"ok"_s, bool(outcome)}};
    if (outcome)
        message.insert(u"data"_s, *outcome);
    else
        message.insert(u"error"_s,
                       QJsonObject{{u"code"_s, outcome.error().code},
                                   {u"message"_s, outcome.error().message}});
    send(admin, message);
}

void AdminService::broadcast(const QJsonObject &message)
{
    if (m_admins.isEmpty())
        return;
    const QString text = QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact));
    for (QWebSocket *admin : std::as_const(m_admins))
        admin->sendTextMessage(text);
}

void AdminService::send(QWebSocket *admin, const QJsonObject &message)
{
    admin->sendTextMessage(
        QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact)));
}

void AdminService::serverFinished()
{
    m_context = nullptr; // the workers and the registry are about to go
    m_tick->stop();
    m_logTimer->stop();
    flushLog();
    const QList<QWebSocket *> all = m_admins + m_attaching;
    for (QWebSocket *admin : all)
        admin->close(QWebSocketProtocol::CloseCodeGoingAway, u"server stopped"_s);
}

} // namespace Mtw::Internal
