// SPDX-License-Identifier: MIT
#include "adminclient.h"

#include "jsontablemodel.h"
#include "logmodel.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslError>

namespace Mtw {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcAdminClient, "mtwadmin.client", QtInfoMsg)

AdminClient::AdminClient(QObject *parent)
    : QObject(parent)
    , m_connections(new ConnectionModel(this))
    , m_channels(new ChannelModel(this))
    , m_modules(new ModuleModel(this))
    , m_agents(new AgentModel(this))
    , m_log(new LogModel(this))
{
    m_connectTimer.setSingleShot(true);
    connect(&m_connectTimer, &QTimer::timeout, this, &AdminClient::onConnectTimeout);
}

AdminClient::~AdminClient()
{
    if (m_socket) {
        m_closing = true;
        m_socket->abort();
    }
}

void AdminClient::open(const QUrl &url, const QString &token)
{
    close();
    m_url = url;
    m_server = {};
    m_counters = {};
    m_shuttingDown = false;
    m_closing = false;
    m_early.clear();
    m_errorReported = false;
    m_refused = false;
    m_connections->clear();
    m_channels->clear();
    m_modules->clear();
    m_agents->clear();
    m_log->clear();

    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    if (url.scheme() == "wss"_L1 && !m_caFile.isEmpty()) {
        const QList<QSslCertificate> authorities = QSslCertificate::fromPath(m_caFile);
        if (authorities.isEmpty()) {
            m_refused = true;
            reportError(
                tr("The CA file %1 cannot be read or holds no PEM certificate.").arg(m_caFile));
            return;
        }
        tls.addCaCertificates(authorities);
    }

    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    m_socket->setMaxAllowedIncomingMessageSize(256 * 1024 * 1024);
    QWebSocket *socket = m_socket;
    connect(socket, &QWebSocket::textMessageReceived, this, &AdminClient::onText);
    connect(socket, &QWebSocket::disconnected, this, [this, socket] {
        if (socket == m_socket)
            onDisconnected();
    });
    connect(socket,
            qOverload<QAbstractSocket::SocketError>(&QWebSocket::error),
            this,
            [this, socket] {
                if (socket != m_socket || m_closing)
                    return;
                // A refused upgrade (401/403/429) and a refused TCP connection both end up here.
                qCInfo(lcAdminClient).noquote()
                    << "admin connection error:" << socket->errorString();
                // A lost connection is worded by onDisconnected(), with the close code.
                if (m_state != State::Connected)
                    reportError(describeError(socket->error(), socket->errorString()));
                if (socket->state() == QAbstractSocket::UnconnectedState)
                    onDisconnected();
            });

    if (url.scheme() == "wss"_L1) {
        socket->setSslConfiguration(tls);
        // Not ignored: the handshake fails and error() reports it; this says why.
        connect(socket,
                &QWebSocket::sslErrors,
                this,
                [this, socket](const QList<QSslError> &errors) {
                    if (socket != m_socket)
                        return;
                    QStringList reasons;
                    for (const QSslError &error : errors)
                        reasons << error.errorString();
                    m_refused = true;
                    reportError(
                        tr("The TLS certificate of %1 is not trusted: %2. Give the CA file that "
                           "signed it in the connect dialog.")
                            .arg(m_url.host(), reasons.join(u"; "_s)));
                });
    }

    QNetworkRequest request(url);
    if (!token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + token.toUtf8());
    setState(State::Connecting);
    m_connectTimer.start(m_connectTimeout);
    socket->open(request);
}

QString AdminClient::describeReload(const QStringList &applied, const QStringList &restartRequired)
{
    QString text = tr("Configuration reloaded");
    if (!applied.isEmpty())
        text += tr("; applied: %1").arg(applied.join(u", "_s));
    if (!restartRequired.isEmpty())
        text += tr("; needs a restart: %1").arg(restartRequired.join(u", "_s));
    if (applied.isEmpty() && restartRequired.isEmpty())
        text += tr("; nothing changed");
    return text;
}

void AdminClient::reportError(const QString &message)
{
    if (!std::exchange(m_errorReported, true))
        Q_EMIT errorOccurred(message);
}

void AdminClient::onConnectTimeout()
{
    if (!m_socket || m_state == State::Connected)
        return;
    // A host that drops packets never answers: TCP would wait for minutes.
    reportError(tr("No answer from %1:%2 within %n s: is the host reachable and the port open?",
                   nullptr,
                   m_connectTimeout / 1000)
                    .arg(m_url.host())
                    .arg(m_url.port(m_url.scheme() == "wss"_L1 ? 443 : 80)));
    m_closing = true;
    QWebSocket *socket = std::exchange(m_socket, nullptr);
    socket->disconnect(this);
    socket->abort();
    socket->deleteLater();
    failPending(tr("The connection timed out."));
    setState(State::Disconnected);
}

QString AdminClient::describeError(QAbstractSocket::SocketError error, const QString &socketError)
{
    const QString where =
        u"%1:%2"_s.arg(m_url.host()).arg(m_url.port(m_url.scheme() == "wss"_L1 ? 443 : 80));
    // QtWebSockets reports a refused upgrade as "...Unhandled http status code: 401 (...)".
    static const QRegularExpression status(u"status code: (\\d{3})"_s);
    const QRegularExpressionMatch match = status.match(socketError);
    m_refused = m_refused || match.hasMatch(); // an untrusted certificate was refused already
    if (!match.hasMatch()) {
        switch (error) {
        case QAbstractSocket::ConnectionRefusedError:
            return tr("Nothing is listening at %1 (connection refused): is the server running, "
                      "and is the port right?")
                .arg(where);
        case QAbstractSocket::HostNotFoundError:
            return tr("The host %1 was not found: check the name.").arg(m_url.host());
        case QAbstractSocket::SocketTimeoutError:
            return tr("No answer from %1 in time.").arg(where);
        case QAbstractSocket::NetworkError:
            return tr("The network failed while connecting to %1: %2").arg(where, socketError);
        case QAbstractSocket::RemoteHostClosedError:
            return tr("%1 closed the connection during the handshake: is it an mtwserver, and "
                      "is this its port?")
                .arg(where);
        default:
            return tr("Could not connect to %1: %2").arg(where, socketError);
        }
    }
    switch (match.captured(1).toInt()) {
    case 401:
        return tr("The server refused the admin token (HTTP 401). Check the token: without "
                  "admin.token the server generated one; `mtwserver --admin-token --port N` "
                  "prints it.");
    case 400:
        return tr("The server refused the request (HTTP 400): send the token as a Bearer header, "
                  "not in the URL.");
    case 403:
        return tr("The server refused this client's Origin (HTTP 403): add it to "
                  "admin.allowed_origins.");
    case 404:
        return tr("No admin API at this URL (HTTP 404): check the path, or admin.enabled.");
    case 429:
        return tr("Too many failed attempts from this address (HTTP 429): try again in a "
                  "minute.");
    default:
        return tr("The server refused the admin connection (HTTP %1).").arg(match.captured(1));
    }
}

void AdminClient::close()
{
    m_connectTimer.stop();
    if (!m_socket)
        return;
    m_closing = true;
    QWebSocket *socket = m_socket;
    m_socket = nullptr;
    socket->disconnect(this);
    socket->close();
    socket->deleteLater();
    failPending(tr("The connection was closed."));
    setState(State::Disconnected);
}

void AdminClient::call(const QString &action,
                       QJsonObject fields,
                       QObject *context,
                       Callback callback)
{
    if (!m_socket || m_state != State::Connected) {
        if (callback)
            callback(ActionResult{false, {}, 503, tr("Not connected to a server.")});
        return;
    }
    const QString id = QString::number(m_nextId++);
    fields.insert(u"id"_s, id);
    fields.insert(u"action"_s, action);
    if (callback)
        m_pending.insert(id, Pending{context, std::move(callback)});
    m_socket->sendTextMessage(
        QString::fromUtf8(QJsonDocument(fields).toJson(QJsonDocument::Compact)));
}

void AdminClient::setState(State state)
{
    if (m_state == state)
        return;
    if (state == State::Disconnected) {
        // What was live is not any more: no view may show old numbers as if current. The log
        // stays, for reading what happened.
        m_counters = {};
        m_connections->clear();
        m_channels->clear();
        m_modules->clear();
        m_agents->clear();
    }
    m_state = state;
    Q_EMIT stateChanged(state);
}

void AdminClient::onText(const QString &text)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(text.toUtf8(), &error);
    if (!document.isObject()) {
        qCWarning(lcAdminClient).noquote()
            << "ignoring a malformed admin message:" << error.errorString();
        return;
    }
    const QJsonObject message = document.object();
    const QString type = message.value(u"type"_s).toString();
    // A delta broadcast between our upgrade and our snapshot describes a state the snapshot
    // may or may not include: apply it after the snapshot (all of them are idempotent).
    if (m_state != State::Connected && type != "snapshot"_L1 && type != "result"_L1) {
        m_early.append(message);
        return;
    }
    apply(message);
}

void AdminClient::apply(const QJsonObject &message)
{
    const QString type = message.value(u"type"_s).toString();
    if (type == "snapshot"_L1) {
        applySnapshot(message);
    } else if (type == "counters"_L1) {
        m_counters = message.value(u"counters"_s).toObject();
        // Once a second, whatever changed: the clock for the channels' average rates.
        m_channels->sampleRates(QDateTime::currentMSecsSinceEpoch());
        Q_EMIT countersChanged(m_counters);
    } else if (type == "connection_opened"_L1) {
        m_connections->upsert(message.value(u"connection"_s).toObject());
    } else if (type == "connection_closed"_L1) {
        const QString connId = message.value(u"conn_id"_s).toString();
        m_connections->remove(connId);
        Q_EMIT connectionClosed(connId, message.value(u"reason"_s).toString());
    } else if (type == "connections_updated"_L1) {
        m_connections->updateExisting(message.value(u"connections"_s).toArray());
    } else if (type == "channels_updated"_L1) {
        m_channels->upsertAll(message.value(u"channels"_s).toArray());
    } else if (type == "modules"_L1) {
        m_modules->upsertAll(message.value(u"modules"_s).toArray());
    } else if (type == "agents_updated"_L1) {
        m_agents->upsertAll(message.value(u"agents"_s).toArray());
    } else if (type == "log"_L1) {
        appendLog(message.value(u"entries"_s).toArray());
    } else if (type == "config_reloaded"_L1) {
        QStringList applied;
        QStringList restart;
        for (const QJsonValue &key : message.value(u"applied"_s).toArray())
            applied.append(key.toString());
        for (const QJsonValue &key : message.value(u"restart_required"_s).toArray())
            restart.append(key.toString());
        Q_EMIT configReloaded(describeReload(applied, restart), restart);
    } else if (type == "config_reload_failed"_L1) {
        QStringList errors;
        for (const QJsonValue &error : message.value(u"errors"_s).toArray())
            errors.append(error.toString());
        Q_EMIT configReloadFailed(
            tr("Configuration reload refused, the server keeps its configuration: %1")
                .arg(errors.join(u"; "_s)));
    } else if (type == "shutdown_started"_L1) {
        m_shuttingDown = true;
        Q_EMIT shutdownStarted(message.value(u"connections"_s).toInt());
    } else if (type == "result"_L1) {
        applyResult(message);
    } else {
        qCDebug(lcAdminClient).noquote() << "ignoring admin message of type" << type;
    }
}

void AdminClient::applySnapshot(const QJsonObject &message)
{
    m_server = message.value(u"server"_s).toObject();
    m_counters = message.value(u"counters"_s).toObject();
    m_connections->reset(message.value(u"connections"_s).toArray());
    m_channels->reset(message.value(u"channels"_s).toArray());
    m_modules->reset(message.value(u"modules"_s).toArray());
    m_agents->reset(message.value(u"agents"_s).toArray());
    m_log->clear();
    const QJsonArray log = message.value(u"log"_s).toArray();
    m_log->append(log);
    m_snapshotLog.clear();
    for (const QJsonValue &entry : log)
        m_snapshotLog.insert(logKey(entry.toObject()));
    m_connectTimer.stop();
    setState(State::Connected);
    Q_EMIT snapshotReceived(m_server);
    Q_EMIT countersChanged(m_counters);
    const QList<QJsonObject> early = std::exchange(m_early, {});
    for (const QJsonObject &delta : early) {
        // Log lines and counters from before the snapshot are already in it.
        const QString type = delta.value(u"type"_s).toString();
        if (type != "log"_L1 && type != "counters"_L1)
            apply(delta);
    }
}

void AdminClient::applyResult(const QJsonObject &message)
{
    const QJsonValue idValue = message.value(u"id"_s);
    const QString id =
        idValue.isString() ? idValue.toString() : QString::number(qint64(idValue.toDouble()));
    const auto it = m_pending.find(id);
    if (it == m_pending.end())
        return;
    const Pending pending = it.value();
    m_pending.erase(it);
    if (!pending.context)
        return;
    ActionResult result;
    result.ok = message.value(u"ok"_s).toBool();
    result.data = message.value(u"data"_s);
    const QJsonObject error = message.value(u"error"_s).toObject();
    result.errorCode = error.value(u"code"_s).toInt();
    result.errorMessage = error.value(u"message"_s).toString();
    pending.callback(result);
}

QString AdminClient::logKey(const QJsonObject &entry)
{
    return entry.value(u"ts"_s).toString() + u'\x1f' + entry.value(u"category"_s).toString()
        + u'\x1f' + entry.value(u"message"_s).toString();
}

void AdminClient::appendLog(const QJsonArray &entries)
{
    // The first batch after the snapshot may repeat lines the snapshot already carried (lines
    // written just before we attached): drop those, then stop checking.
    if (m_snapshotLog.isEmpty()) {
        m_log->append(entries);
        return;
    }
    QJsonArray fresh;
    for (const QJsonValue &entry : entries) {
        if (!m_snapshotLog.contains(logKey(entry.toObject())))
            fresh.append(entry);
    }
    m_snapshotLog.clear();
    m_log->append(fresh);
}

QString AdminClient::lossReason(const QWebSocket *socket) const
{
    if (m_shuttingDown)
        return tr("The server has shut down.");
    const QString reason = socket->closeReason();
    const int code = int(socket->closeCode());
    // A server that was killed sends no close frame: Qt then reports 1000 or 1006, which says
    // nothing to an operator, so only a code the server chose is shown.
    if (code == QWebSocketProtocol::CloseCodeGoingAway)
        return tr("The server closed the connection: it is going away (1001).");
    if (!reason.isEmpty())
        return tr("The server closed the connection: %1 (%2).").arg(reason).arg(code);
    if (code != QWebSocketProtocol::CloseCodeNormal
        && code != QWebSocketProtocol::CloseCodeAbnormalDisconnection)
        return tr("The server closed the connection with code %1.").arg(code);
    return tr("The connection to the server was lost: the server stopped or the network failed.");
}

void AdminClient::onDisconnected()
{
    m_connectTimer.stop();
    QWebSocket *socket = m_socket;
    m_socket = nullptr;
    const bool wasConnected = m_state == State::Connected;
    QString why;
    if (wasConnected)
        why = lossReason(socket);
    else if (!m_errorReported)
        why = describeError(socket->error(), socket->errorString());
    socket->deleteLater();
    failPending(why.isEmpty() ? tr("The connection was closed.") : why);
    setState(State::Disconnected);
    if (wasConnected) {
        Q_EMIT errorOccurred(why);
        Q_EMIT connectionLost(why);
    } else if (!why.isEmpty()) {
        reportError(why);
    }
}

void AdminClient::failPending(const QString &why)
{
    const QHash<QString, Pending> pending = std::exchange(m_pending, {});
    for (const Pending &entry : pending) {
        if (entry.context)
            entry.callback(ActionResult{false, {}, 503, why});
    }
}

} // namespace Mtw
