// SPDX-License-Identifier: MIT
#include "transport/httpapi.h"

#include "transport/cluster.h"
#include "transport/connection.h"
#include "transport/connectiontable.h"
#include "transport/handlers/handlers.h"
#include "transport/httproutes.h"
#include "transport/httpsession.h"
#include "transport/logging.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <mtw/buildinfo.h>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// Commands in one batch request at most.
constexpr qsizetype MaxBatchCommands = 1000;
// Channels of one broadcast at most.
constexpr qsizetype MaxBroadcastChannels = 1000;

// The HTTP status of an error code; codes follow HTTP meaning (PROTOCOL.md §2).
int httpStatus(int code)
{
    switch (code) {
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 409:
    case 413:
    case 429:
    case 500:
    case 503:
        return code;
    default:
        return 500;
    }
}

// The handlers name the fields of a client's message ("metadata.key"); here they are params.
QString paramsMessage(QString message)
{
    if (message.startsWith(u"metadata."_s))
        message.remove(0, 9);
    else if (message.startsWith(u"payload:"_s) || message.startsWith(u"payload "_s))
        message.replace(0, 7, u"value"_s);
    return message;
}

// {"error": {"code", "message"}}: a failed command's entry in a batch or broadcast answer.
QJsonObject errorEntry(const Error &error)
{
    return QJsonObject{
        {u"error"_s, QJsonObject{{u"code"_s, error.code}, {u"message"_s, error.message}}}};
}

// A reply of the handlers as the API's answer: its Json data, with the reply's metadata (a kv
// entry's bucket, key and version) alongside.
Result<QJsonObject> answerOf(const Message &reply)
{
    if (reply.type == MessageType::Error) {
        const QJsonObject error = reply.payload.json.toObject();
        return fail(error.value(u"code"_s).toInt(500),
                    paramsMessage(error.value(u"message"_s).toString()));
    }
    QJsonObject result = reply.payload.kind == Payload::Kind::Json && reply.payload.json.isObject()
        ? reply.payload.json.toObject()
        : QJsonObject();
    if (reply.payload.kind == Payload::Kind::Binary) {
        result.insert(u"kind"_s, u"Binary"_s);
        result.insert(u"value"_s, QString::fromLatin1(reply.payload.binary.toBase64()));
    }
    for (auto it = reply.metadata.constBegin(); it != reply.metadata.constEnd(); ++it) {
        if (!result.contains(it.key()))
            result.insert(it.key(), it.value());
    }
    return result;
}

// Refuses fields a command does not know, so that a typo is an error, not an ignored field.
std::optional<Error>
unknownField(const QString &command, const QJsonObject &params, const QStringList &known)
{
    for (auto it = params.constBegin(); it != params.constEnd(); ++it) {
        if (!known.contains(it.key()))
            return Error{400,
                         u"unknown field '%1' for %2 (expected: %3)"_s.arg(it.key(),
                                                                           command,
                                                                           known.join(u", "_s))};
    }
    return std::nullopt;
}

Result<QString> requiredString(const QJsonObject &params, const QString &field)
{
    const QJsonValue value = params.value(field);
    if (!value.isString() || value.toString().isEmpty())
        return fail(400, field + u": expected a non-empty string"_s);
    return value.toString();
}

void builtinAction(ProtocolContext &parts, Connection &connection, const Message &message)
{
    if (!runBuiltinAction(parts, connection, message))
        parts.out.send(connection, Message::error(404, u"unknown action"_s, message.id));
}

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

bool sameKey(QByteArrayView given, const QByteArray &expected)
{
    // Compares digests, so that the time taken says nothing about the key.
    return QCryptographicHash::hash(given, QCryptographicHash::Sha256)
        == QCryptographicHash::hash(expected, QCryptographicHash::Sha256);
}

} // namespace

// One command in flight: a connection without a socket, registered with the worker's table so
// that answers from the broker find it, until its reply.
class HttpApi::Call final : public ReplySink
{
public:
    Call(HttpApi &api, std::function<void(const Message &)> done)
        : m_api(api)
        , m_done(std::move(done))
    {
        connection.key = api.m_parts.server.nextConnKey.fetch_add(1, std::memory_order_relaxed);
        connection.connId = u"api"_s;
        connection.authenticated = true;
        connection.sink = this;
        connection.connectedAt = QDateTime::currentMSecsSinceEpoch();
    }

    void reply(const Message &message) override
    {
        if (!m_done)
            return; // one reply per command
        const auto done = std::exchange(m_done, {});
        // The handler may still use the connection after its reply: it goes on the next pass.
        QMetaObject::invokeMethod(
            &m_api,
            [api = &m_api, call = this] { api->finished(call); },
            Qt::QueuedConnection);
        done(message);
    }

    Connection connection;

private:
    HttpApi &m_api;
    std::function<void(const Message &)> m_done;
};

HttpApi::HttpApi(ProtocolContext &parts, ConnectionTable &connections, QObject *parent)
    : QObject(parent)
    , m_parts(parts)
    , m_connections(connections)
{
    m_prefix = parts.server.config.transport.http.prefix.toUtf8();
    if (!m_prefix.endsWith('/'))
        m_prefix += '/';
}

HttpApi::~HttpApi()
{
    for (Call *call : std::as_const(m_calls)) {
        m_connections.removeDetached(call->connection.key);
        delete call;
    }
}

void HttpApi::finished(Call *call)
{
    m_connections.removeDetached(call->connection.key);
    m_calls.removeOne(call);
    delete call;
}

void HttpApi::route(HttpExchange &exchange)
{
    HttpSession::start(m_parts.server,
                       m_parts.state,
                       exchange.take(),
                       HttpSession::handlerOf(this, &HttpApi::serve));
}

bool HttpApi::authorized(const HttpRequest &request, HttpSession *session)
{
    const HttpConfig &http = m_parts.state.config().transport.http;
    if (http.apiKey.isEmpty()) {
        if (http.insecure)
            return true;
        session->replyError(401,
                            "the server API has no key configured "
                            "(transport.http.api_key): every call is refused");
        return false;
    }
    const QByteArray header = request.head.header("authorization");
    const qsizetype space = header.indexOf(' ');
    const QByteArray scheme = header.left(space).toLower();
    const QByteArray key = space < 0 ? QByteArray() : header.mid(space + 1).trimmed();
    if ((scheme == "apikey" || scheme == "bearer") && sameKey(key, http.apiKey.toUtf8()))
        return true;
    qCWarning(lcTransport).noquote()
        << "server API: refused" << session->peer().toString()
        << (header.isEmpty() ? "- no Authorization header" : "- wrong API key");
    session->replyError(401,
                        header.isEmpty() ? "send Authorization: apikey <key>" : "wrong API key",
                        "WWW-Authenticate: apikey\r\n");
    return false;
}

void HttpApi::serve(const HttpRequest &request, HttpSession *session)
{
    m_parts.state.metrics.httpRequests.add();
    if (request.head.method != "POST") {
        session->closeAfterReply(); // a HEAD must not see a body; the rest need not stay
        session->replyError(405, "the server API takes POST", "Allow: POST\r\n");
        return;
    }
    if (!authorized(request, session))
        return;
    const QString command = QString::fromUtf8(request.head.path.mid(m_prefix.size()));
    QJsonParseError error;
    const QJsonDocument document = request.body.trimmed().isEmpty()
        ? QJsonDocument(QJsonObject())
        : QJsonDocument::fromJson(request.body, &error);
    if (!document.isObject()) {
        session->replyError(400,
                            document.isNull() ? "malformed JSON: " + error.errorString().toUtf8()
                                    + " at offset " + QByteArray::number(error.offset)
                                              : QByteArray("expected a JSON object"));
        return;
    }
    QPointer<HttpSession> target(session);
    const auto respond = [target](const Result<QJsonObject> &answer) {
        if (!target)
            return;
        if (answer)
            target->replyJson(200, compact(*answer));
        else
            target->replyError(httpStatus(answer.error().code),
                               answer.error().code,
                               answer.error().message.toUtf8());
    };
    if (command == "batch"_L1)
        runBatch(document.object(), respond);
    else
        run(command, document.object(), respond);
}

void HttpApi::runBatch(const QJsonObject &body, const Done &done)
{
    const auto fields = unknownField(u"batch"_s, body, {u"commands"_s});
    const QJsonArray commands = body.value(u"commands"_s).toArray();
    const auto refuse = [&done](const Error &error) { done(tl::unexpected(error)); };
    if (fields)
        return refuse(*fields);
    if (!body.value(u"commands"_s).isArray() || commands.isEmpty()
        || commands.size() > MaxBatchCommands) {
        return refuse(Error{400,
                            u"commands: expected an array of 1 to %1 {\"method\", \"params\"} "
                            "objects"_s.arg(MaxBatchCommands)});
    }
    // In order, one after the other: a batch of publishes keeps its order on the channel.
    struct State
    {
        QJsonArray commands;
        QJsonArray replies;
        Done done;
        std::function<void()> next;
    };
    auto state = std::make_shared<State>();
    state->commands = commands;
    state->done = done;
    QPointer<HttpApi> self(this);
    state->next = [self, state] {
        if (!self)
            return;
        if (state->replies.size() == state->commands.size()) {
            const auto finish = std::exchange(state->done, {});
            state->next = {}; // breaks the cycle through `state`
            finish(QJsonObject{{u"replies"_s, state->replies}});
            return;
        }
        const QJsonObject entry = state->commands.at(state->replies.size()).toObject();
        const auto store = [self, state](const Result<QJsonObject> &answer) {
            state->replies.append(answer ? QJsonObject{{u"result"_s, *answer}}
                                         : errorEntry(answer.error()));
            if (self) // on the next pass, so that a long batch does not grow the stack
                QMetaObject::invokeMethod(self, state->next, Qt::QueuedConnection);
        };
        const QString method = entry.value(u"method"_s).toString();
        if (const auto bad = unknownField(u"a batch entry"_s, entry, {u"method"_s, u"params"_s}))
            return store(tl::unexpected(*bad));
        if (method.isEmpty() || method == "batch"_L1)
            return store(fail(400, u"method: expected the name of a command other than batch"_s));
        if (!entry.value(u"params"_s).isUndefined() && !entry.value(u"params"_s).isObject())
            return store(fail(400, u"params: expected a JSON object"_s));
        self->run(method, entry.value(u"params"_s).toObject(), store);
    };
    state->next();
}

void HttpApi::dispatch(std::function<void(ProtocolContext &, Connection &)> run,
                       std::function<void(const Message &)> done)
{
    auto *call = new Call(*this, std::move(done));
    m_calls.append(call);
    m_connections.addDetached(&call->connection);
    run(m_parts, call->connection);
}

QJsonObject HttpApi::nodeInfo() const
{
    const ServerContext &context = m_parts.server;
    int connections = 0;
    for (const Worker *worker : context.workers)
        connections += worker->connectionCount();
    return {{u"version"_s, versionString()},
            {u"node_id"_s, context.nodeId},
            {u"workers"_s, context.workerCount},
            {u"connections"_s, connections},
            {u"channels"_s, int(context.registry.channels().size())},
            {u"pid"_s, qint64(QCoreApplication::applicationPid())}};
}

void HttpApi::run(const QString &command, const QJsonObject &params, Done done)
{
    const auto refuse = [&done](const Error &error) { done(tl::unexpected(error)); };
    const auto reply = [done](const Message &message) { done(answerOf(message)); };

    // A client's request with metadata.action = the command, fields as its metadata.
    const auto request = [&](const QString &action,
                             const QStringList &known,
                             const QString &payloadField) {
        if (const auto bad = unknownField(command, params, known))
            return refuse(*bad);
        Message message = Message::create(MessageType::Request);
        message.metadata.insert(u"action"_s, action);
        for (auto it = params.constBegin(); it != params.constEnd(); ++it) {
            if (it.key() == u"channel"_s)
                message.channel = it.value().toString();
            else if (it.key() == payloadField)
                message.payload = Payload::fromJson(it.value());
            else
                message.metadata.insert(it.key(), it.value());
        }
        if (known.contains(u"channel"_s)) {
            const auto channel = requiredString(params, u"channel"_s);
            if (!channel)
                return refuse(channel.error());
        }
        dispatch([message](ProtocolContext &parts,
                           Connection &connection) { builtinAction(parts, connection, message); },
                 reply);
    };

    if (command == "publish"_L1) {
        if (const auto bad = unknownField(command, params, {u"channel"_s, u"data"_s}))
            return refuse(*bad);
        const auto channel = requiredString(params, u"channel"_s);
        if (!channel)
            return refuse(channel.error());
        if (!params.contains(u"data"_s))
            return refuse(Error{400, u"data: expected a JSON value to publish"_s});
        Message message =
            Message::create(MessageType::Publish, Payload::fromJson(params[u"data"_s]));
        message.channel = *channel;
        dispatch([message](ProtocolContext &parts,
                           Connection &connection) { handlePublish(parts, connection, message); },
                 [done](const Message &answer) {
                     auto result = answerOf(answer);
                     if (result)
                         result->remove(u"published"_s);
                     done(result);
                 });
        return;
    }
    if (command == "broadcast"_L1) {
        if (const auto bad = unknownField(command, params, {u"channels"_s, u"data"_s}))
            return refuse(*bad);
        const QJsonArray channels = params.value(u"channels"_s).toArray();
        if (channels.isEmpty() || channels.size() > MaxBroadcastChannels)
            return refuse(Error{400,
                                u"channels: expected an array of 1 to %1 channel names"_s.arg(
                                    MaxBroadcastChannels)});
        for (const QJsonValue &channel : channels) {
            if (!channel.isString() || channel.toString().isEmpty())
                return refuse(Error{400, u"channels: expected non-empty strings"_s});
        }
        if (!params.contains(u"data"_s))
            return refuse(Error{400, u"data: expected a JSON value to publish"_s});
        struct State
        {
            QList<QJsonObject> responses;
            qsizetype waiting = 0;
            Done done;
        };
        auto state = std::make_shared<State>();
        state->responses.resize(channels.size());
        state->waiting = channels.size();
        state->done = done;
        for (qsizetype i = 0; i < channels.size(); ++i) {
            const QString channel = channels.at(i).toString();
            run(u"publish"_s,
                QJsonObject{{u"channel"_s, channel}, {u"data"_s, params.value(u"data"_s)}},
                [state, i, channel](const Result<QJsonObject> &answer) {
                    QJsonObject row = answer ? *answer : errorEntry(answer.error());
                    row.insert(u"channel"_s, channel);
                    state->responses[i] = row;
                    if (--state->waiting == 0) {
                        QJsonArray list;
                        for (const QJsonObject &response : std::as_const(state->responses))
                            list.append(response);
                        state->done(QJsonObject{{u"responses"_s, list}});
                    }
                });
        }
        return;
    }
    if (command == "history"_L1)
        return request(u"history"_s, {u"channel"_s, u"limit"_s, u"since"_s, u"reverse"_s}, {});
    if (command == "presence"_L1)
        return request(u"presence"_s, {u"channel"_s}, {});
    if (command == "presence_stats"_L1) {
        run(u"presence"_s, params, [done](const Result<QJsonObject> &answer) {
            if (!answer)
                return done(answer);
            const QJsonArray members = answer->value(u"members"_s).toArray();
            QSet<QString> users;
            for (const QJsonValue &member : members) {
                const QString user = member.toObject().value(u"user_id"_s).toString();
                if (!user.isEmpty())
                    users.insert(user);
            }
            done(QJsonObject{{u"channel"_s, answer->value(u"channel"_s)},
                             {u"num_clients"_s, int(members.size())},
                             {u"num_users"_s, int(users.size())}});
        });
        return;
    }
    if (command == "channels"_L1)
        return request(u"channels"_s, {u"limit"_s, u"after"_s}, {});
    if (command == "kv.get"_L1)
        return request(command, {u"bucket"_s, u"key"_s}, {});
    if (command == "kv.put"_L1)
        return request(command,
                       {u"bucket"_s, u"key"_s, u"value"_s, u"version"_s, u"ttl"_s},
                       u"value"_s);
    if (command == "kv.delete"_L1)
        return request(command, {u"bucket"_s, u"key"_s, u"version"_s}, {});
    if (command == "kv.list"_L1)
        return request(command, {u"bucket"_s, u"prefix"_s, u"after"_s, u"limit"_s}, {});
    if (command == "kv.batch"_L1)
        return request(command, {u"bucket"_s, u"operations"_s}, u"operations"_s);
    if (command == "disconnect"_L1) {
        if (const auto bad = unknownField(command, params, {u"conn_id"_s, u"reason"_s}))
            return refuse(*bad);
        const auto connId = requiredString(params, u"conn_id"_s);
        if (!connId)
            return refuse(connId.error());
        QString reason = params.value(u"reason"_s).toString();
        if (reason.isEmpty())
            reason = u"disconnected by the server API"_s;
        if (!disconnectAnywhere(m_parts.server, *connId, reason))
            return refuse(Error{404, u"no connection '%1'"_s.arg(*connId)});
        qCInfo(lcTransport).noquote() << "server API disconnected" << *connId + u": "_s + reason;
        return done(QJsonObject{});
    }
    if (command == "unsubscribe"_L1) {
        if (const auto bad = unknownField(command, params, {u"conn_id"_s, u"channel"_s}))
            return refuse(*bad);
        const auto connId = requiredString(params, u"conn_id"_s);
        const auto channel = connId ? requiredString(params, u"channel"_s) : connId;
        if (!channel)
            return refuse(channel.error());
        const int worker = m_parts.server.workerOf(*connId);
        if (worker < 0)
            return refuse(Error{404, u"no connection '%1' on this node"_s.arg(*connId)});
        m_parts.server.workers.at(worker)->postUnsubscribe(*connId, *channel);
        return done(QJsonObject{});
    }
    if (command == "info"_L1) {
        if (const auto bad = unknownField(command, params, {}))
            return refuse(*bad);
        QJsonObject info{{u"node"_s, nodeInfo()}, {u"cluster"_s, clusterInfoJson(m_parts.server)}};
        IBroker *broker = connectedBroker(m_parts.server);
        if (!broker)
            return done(info);
        // The broker answers on its thread; the answer comes back through this worker.
        dispatch(
            [broker](ProtocolContext &parts, Connection &connection) {
                broker->nodes(onWorker<QList<BrokerNodeInfo>>(
                    parts,
                    connection,
                    false,
                    [](ProtocolContext &context,
                       Connection *current,
                       Result<QList<BrokerNodeInfo>> list) {
                        if (!current)
                            return;
                        const auto json = clusterNodesJson(list, context.server.nodeId);
                        context.out.send(
                            *current,
                            json ? Message::response(QString(), *json)
                                 : Message::error(json.error().code, json.error().message));
                    }));
            },
            [info, done](const Message &answer) {
                QJsonObject out = info;
                const auto nodes = answerOf(answer);
                out.insert(u"nodes"_s, nodes ? nodes->value(u"nodes"_s) : QJsonValue());
                done(out);
            });
        return;
    }
    refuse(Error{404, u"unknown command '%1'"_s.arg(command)});
}

} // namespace Mtw::Internal
