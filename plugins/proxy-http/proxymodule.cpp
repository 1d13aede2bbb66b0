// SPDX-License-Identifier: MIT
#include "proxymodule.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>

namespace Mtw::ProxyHttp {

using namespace Qt::StringLiterals;

Q_DECLARE_LOGGING_CATEGORY(lcProxy)

namespace {

// The fields every body starts with, after Centrifugo's proxy requests.
QJsonObject bodyFor(const QString &connId, const QHostAddress &address)
{
    return {{u"client"_s, connId},
            {u"transport"_s, u"websocket"_s},
            {u"protocol"_s, u"mtw"_s},
            {u"encoding"_s, u"json"_s},
            {u"remote_addr"_s, address.toString()}};
}

QJsonObject bodyFor(const ClientInfo &client)
{
    QJsonObject body = bodyFor(client.connId(), client.remoteAddress());
    body.insert(u"user"_s, client.userId());
    body.insert(u"roles"_s, QJsonArray::fromStringList(client.roles()));
    return body;
}

// The payload as the backend sees it: `data` (JSON, or the text as a string), or `b64data`.
void insertPayload(QJsonObject &body, const Payload &payload)
{
    switch (payload.kind) {
    case Payload::Kind::None:
        body.insert(u"data"_s, QJsonValue::Null);
        break;
    case Payload::Kind::Text:
        body.insert(u"data"_s, payload.text);
        break;
    case Payload::Kind::Json:
        body.insert(u"data"_s, payload.json);
        break;
    case Payload::Kind::Binary:
        body.insert(u"b64data"_s, QString::fromLatin1(payload.binary.toBase64()));
        break;
    }
}

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

Error malformed(const QString &why)
{
    return Error{502, u"backend error: its answer is malformed"_s, why};
}

// What the backend decided: its "result" object, or a refusal the client sees. `fallbackCode`
// stands for a code outside 400-599 (Centrifugo's own codes, 1000 and up, mean nothing here).
Result<QJsonObject>
decision(const Result<QJsonObject> &answer, int fallbackCode, const QString &fallbackMessage)
{
    if (!answer)
        return tl::unexpected(answer.error());
    const QJsonObject &object = *answer;
    if (object.value(u"error"_s).isObject()) {
        const QJsonObject error = object.value(u"error"_s).toObject();
        const int code = error.value(u"code"_s).toInt();
        const QString message = error.value(u"message"_s).toString();
        return fail(code >= 400 && code <= 599 ? code : fallbackCode,
                    message.isEmpty() ? fallbackMessage : message,
                    u"backend error code %1"_s.arg(error.value(u"code"_s).toVariant().toString()));
    }
    if (object.value(u"disconnect"_s).isObject()) {
        const QJsonObject disconnect = object.value(u"disconnect"_s).toObject();
        QString reason = disconnect.value(u"reason"_s).toString();
        if (reason.isEmpty())
            reason = u"disconnected by the backend"_s;
        return fail(fallbackCode, reason, u"backend disconnect"_s);
    }
    if (!object.contains(u"result"_s))
        return tl::unexpected(malformed(u"neither result, error nor disconnect"_s));
    if (!object.value(u"result"_s).isObject())
        return tl::unexpected(malformed(u"result is not an object"_s));
    return object.value(u"result"_s).toObject();
}

// After the refusal reached the client: a "disconnect" answer closes its connection too.
void disconnectIfAsked(const Result<QJsonObject> &answer,
                       ServerHandle *server,
                       const QString &connId)
{
    if (answer && answer->value(u"disconnect"_s).isObject() && server) {
        const QString reason =
            answer->value(u"disconnect"_s).toObject().value(u"reason"_s).toString();
        server->disconnect(connId, reason.isEmpty() ? u"disconnected by the backend"_s : reason);
    }
}

// A connect result as an Identity: user, roles, expire_at (Unix seconds), info (the claims).
Result<Identity> identityFrom(const QJsonObject &result)
{
    Identity identity;
    const QJsonValue user = result.value(u"user"_s);
    if (!user.isString())
        return tl::unexpected(malformed(u"result.user is not a string"_s));
    identity.setUserId(user.toString());
    QStringList roles;
    for (const QJsonValue &role : result.value(u"roles"_s).toArray()) {
        if (!role.isString())
            return tl::unexpected(malformed(u"result.roles holds a non-string"_s));
        roles.append(role.toString());
    }
    if (!result.value(u"roles"_s).isUndefined() && !result.value(u"roles"_s).isArray())
        return tl::unexpected(malformed(u"result.roles is not an array"_s));
    identity.setRoles(roles);
    const QJsonValue expireAt = result.value(u"expire_at"_s);
    if (!expireAt.isUndefined() && !expireAt.isDouble())
        return tl::unexpected(malformed(u"result.expire_at is not a number"_s));
    const qint64 expiresMs = qint64(expireAt.toDouble()) * 1000;
    if (expiresMs > 0 && expiresMs <= QDateTime::currentMSecsSinceEpoch())
        return fail(401, u"credentials expired"_s, u"backend expire_at is in the past"_s);
    identity.setExpiresAt(expiresMs);
    identity.setClaims(result.value(u"info"_s).toObject().toVariantMap());
    return identity;
}

// A publish result may replace the data: `data` (JSON; a string stays Text when the client sent
// Text) or `b64data` (Binary).
std::optional<Payload> rewritten(const QJsonObject &result, const Payload &original)
{
    if (result.contains(u"b64data"_s)) {
        return Payload::fromBinary(
            QByteArray::fromBase64(result.value(u"b64data"_s).toString().toLatin1()));
    }
    if (!result.contains(u"data"_s))
        return std::nullopt;
    const QJsonValue data = result.value(u"data"_s);
    if (original.kind == Payload::Kind::Text && data.isString())
        return Payload::fromText(data.toString());
    return Payload::fromJson(data);
}

} // namespace

ProxyModule::ProxyModule(QObject *parent)
    : QObject(parent)
{ }

ProxyModule::~ProxyModule() = default;

std::shared_ptr<ProxyModule::Backend> ProxyModule::backend() const
{
    std::lock_guard lock(m_mutex);
    return m_backend;
}

Result<void> ProxyModule::load(ModuleContext &context)
{
    {
        // A failed reload must not leave the last configuration deciding.
        std::lock_guard lock(m_mutex);
        m_backend.reset();
    }
    const int decisionTimeoutMs =
        context.serverConfig().value(u"server.decision_timeout_ms").toInt();
    const auto settings = ProxySettings::fromConfig(context.config(), decisionTimeoutMs);
    if (!settings)
        return tl::unexpected(settings.error());
    auto backend = std::make_shared<Backend>();
    backend->settings = *settings;
    backend->client = std::make_unique<BackendClient>(*settings);
    m_server = &context.server();

    QStringList proxies;
    for (int kind = 0; kind < ProxyKindCount; ++kind) {
        if (settings->enabled(ProxyKind(kind))) {
            proxies.append(u"%1 -> %2"_s.arg(kindName(ProxyKind(kind)),
                                             displayUrl(settings->url(ProxyKind(kind)))));
        }
    }
    QStringList extraNames; // the names only: the values are secrets
    for (const auto &header : settings->extraHeaders)
        extraNames.append(QString::fromLatin1(header.first));
    qCInfo(lcProxy).noquote() << "mtw-proxy-http:" << proxies.join(u", "_s) << "- timeout"
                              << settings->timeoutMs << "ms, max_concurrent"
                              << settings->maxConcurrent << ", max_queue" << settings->maxQueue
                              << (extraNames.isEmpty()
                                      ? QString()
                                      : u", backend headers: "_s + extraNames.join(u", "_s));

    if (settings->enabled(ProxyKind::Connect))
        context.registerAuthenticator(this, 50);
    if (settings->enabled(ProxyKind::Subscribe) || settings->enabled(ProxyKind::Publish))
        context.registerMessageFilter(this, 0);
    if (settings->enabled(ProxyKind::Rpc)) {
        for (const QString &action : settings->rpcActions)
            context.registerRequestHandler(action, this);
    }
    std::lock_guard lock(m_mutex);
    m_backend = std::move(backend);
    return {};
}

bool ProxyModule::stop()
{
    std::shared_ptr<Backend> last;
    {
        std::lock_guard lock(m_mutex);
        last = std::move(m_backend);
    }
    return true; // `last` goes here: its client fails what is still waiting, then stops
}

ModuleHealth ProxyModule::health() const
{
    const auto current = backend();
    if (!current)
        return {HealthStatus::Unhealthy, u"not configured"_s};
    const QString problem = current->client->problem();
    if (!problem.isEmpty())
        return {HealthStatus::Degraded, problem};
    return {};
}

void ProxyModule::authenticate(const AuthRequest &request, AuthReply reply)
{
    const auto current = backend();
    if (!current)
        return reply.reject({503, u"backend unavailable"_s, u"mtw-proxy-http is stopped"_s});
    QJsonObject body = bodyFor(request.connId(), request.remoteAddress());
    body.insert(u"token"_s, request.token());
    body.insert(u"path"_s, request.url().path());
    BackendClient::Headers headers;
    const QMap<QByteArray, QByteArray> upgrade = request.headers();
    for (const QByteArray &name : current->settings.forwardHeaders) {
        const auto it = upgrade.constFind(name);
        if (it != upgrade.cend())
            headers.append({name, *it});
    }
    current->client->post(
        ProxyKind::Connect,
        compact(body),
        headers,
        [reply] { return reply.isPending(); },
        [reply, server = m_server, connId = request.connId()](const Result<QJsonObject> &answer) {
            const auto result = decision(answer, 401, u"authentication refused"_s);
            if (!result) {
                reply.reject(result.error());
                return disconnectIfAsked(answer, server, connId);
            }
            const auto identity = identityFrom(*result);
            if (identity)
                reply.accept(*identity);
            else
                reply.reject(identity.error());
        });
}

void ProxyModule::beforeMessage(const ClientInfo &client, const Message &message, FilterReply reply)
{
    const bool subscribe = message.type == MessageType::Subscribe;
    if (!subscribe && message.type != MessageType::Publish)
        return reply.accept();
    const ProxyKind kind = subscribe ? ProxyKind::Subscribe : ProxyKind::Publish;
    const auto current = backend();
    if (!current || !current->settings.enabled(kind))
        return reply.accept();
    QJsonObject body = bodyFor(client);
    body.insert(u"channel"_s, message.channel);
    if (!message.metadata.isEmpty())
        body.insert(u"meta"_s, message.metadata);
    if (!subscribe)
        insertPayload(body, message.payload);
    current->client->post(
        kind,
        compact(body),
        {},
        [reply] { return reply.isPending(); },
        [reply, message, subscribe, server = m_server, connId = client.connId()](
            const Result<QJsonObject> &answer) {
            const auto result =
                decision(answer,
                         403,
                         subscribe ? u"subscription refused"_s : u"publication refused"_s);
            if (!result) {
                reply.reject(result.error());
                return disconnectIfAsked(answer, server, connId);
            }
            if (const auto payload =
                    subscribe ? std::nullopt : rewritten(*result, message.payload)) {
                Message changed = message;
                changed.payload = *payload;
                return reply.accept(changed);
            }
            reply.accept();
        });
}

void ProxyModule::handleRequest(const ClientInfo &client,
                                const Message &request,
                                RequestReply reply)
{
    const auto current = backend();
    if (!current)
        return reply.fail({503, u"backend unavailable"_s, u"mtw-proxy-http is stopped"_s});
    QJsonObject body = bodyFor(client);
    body.insert(u"method"_s, request.metadata.value(u"action"_s).toString());
    if (!request.channel.isEmpty())
        body.insert(u"channel"_s, request.channel);
    QJsonObject meta = request.metadata;
    meta.remove(u"action"_s);
    if (!meta.isEmpty())
        body.insert(u"meta"_s, meta);
    insertPayload(body, request.payload);
    current->client->post(
        ProxyKind::Rpc,
        compact(body),
        {},
        [reply] { return reply.isPending(); },
        [reply, server = m_server, connId = client.connId()](const Result<QJsonObject> &answer) {
            const auto result = decision(answer, 400, u"request refused"_s);
            if (!result) {
                reply.fail(result.error());
                return disconnectIfAsked(answer, server, connId);
            }
            reply.respond(result->value(u"data"_s));
        });
}

} // namespace Mtw::ProxyHttp
