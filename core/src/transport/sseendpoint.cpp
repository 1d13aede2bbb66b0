// SPDX-License-Identifier: MIT
#include "transport/sseendpoint.h"

#include "transport/clientsocket.h"
#include "transport/connection.h"
#include "transport/connectiontable.h"
#include "transport/httproutes.h"
#include "transport/httpsession.h"
#include "transport/logging.h"
#include "transport/modulecalls.h"
#include "transport/protocol.h"
#include "transport/servercontext.h"
#include "transport/ssestream.h"
#include "transport/worker.h"
#include "transport/workerstate.h"

#include <mtw/ulid.h>

#include <QJsonDocument>
#include <QPointer>
#include <QTimer>
#include <QUrlQuery>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// Answers a request the stream will not serve: its head is read first (closing with unread
// bytes would reset the connection under the answer), then a JSON error, then close.
void refuseRequest(HttpExchange &exchange,
                   int status,
                   const QString &message,
                   QByteArrayView extraHeaders = {})
{
    QTcpSocket *socket = exchange.take()->io();
    socket->read(httpHeadLength(socket->peek(MaxHttpHeadSize + 1)));
    QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    socket->write(httpErrorReply(status,
                                 status,
                                 message.toUtf8(),
                                 extraHeaders.toByteArray() + exchange.head().corsHeaders()));
    socket->disconnectFromHost();
}

struct StreamRequest
{
    QList<SseChannelPosition> positions;
    QString error; // 400 when set
};

// The channels (in order, once each) and the positions the client has of them, from the query
// (channel, token, last_event_id) and the Last-Event-ID header (the browser's, which wins).
StreamRequest parseStreamRequest(const HttpRequestHead &head)
{
    StreamRequest out;
    const qsizetype mark = head.target.indexOf('?');
    const QUrlQuery query(mark < 0 ? QString() : QString::fromUtf8(head.target.mid(mark + 1)));
    QByteArray lastEventId = head.header("last-event-id");
    for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded)) {
        if (key == "channel"_L1) {
            if (value.isEmpty()) {
                out.error = u"channel: expected a channel name, got an empty value"_s;
                return out;
            }
            const bool listed = std::any_of(
                out.positions.cbegin(),
                out.positions.cend(),
                [&value](const SseChannelPosition &position) { return position.channel == value; });
            if (!listed)
                out.positions.append(SseChannelPosition{value, {}, 0, false});
        } else if (key == "last_event_id"_L1) {
            if (lastEventId.isEmpty())
                lastEventId = value.toUtf8();
        } else if (key != "token"_L1) {
            out.error =
                u"unknown query parameter '%1' (expected: channel, token, last_event_id)"_s.arg(
                    key);
            return out;
        }
    }
    if (out.positions.isEmpty()) {
        out.error = u"name at least one channel: ?channel=<name>, repeated for more"_s;
        return out;
    }
    const auto from = parseSseEventId(lastEventId);
    if (!from) {
        out.error = from.error().message;
        return out;
    }
    for (const SseChannelPosition &known : *from) {
        for (SseChannelPosition &position : out.positions) {
            if (position.channel == known.channel)
                position = known;
        }
    }
    return out;
}

} // namespace

QByteArray maskedTarget(const QByteArray &target)
{
    const qsizetype mark = target.indexOf('?');
    if (mark < 0)
        return target;
    QByteArrayList items = target.mid(mark + 1).split('&');
    for (QByteArray &item : items) {
        if (item.startsWith("token=") || item.startsWith("access_token="))
            item = item.left(item.indexOf('=') + 1) + "***";
    }
    return target.left(mark + 1) + items.join('&');
}

SseEndpoint::SseEndpoint(ProtocolContext &parts,
                         Protocol &protocol,
                         ConnectionTable &connections,
                         QObject *parent)
    : QObject(parent)
    , m_parts(parts)
    , m_protocol(protocol)
    , m_connections(connections)
    , m_keepAlive(new QTimer(this))
{
    m_keepAlive->setInterval(
        int(qint64(parts.server.config.transport.sse.keepAliveInterval) * 1000));
    connect(m_keepAlive, &QTimer::timeout, this, [this] { m_connections.keepAliveStreams(); });
    m_keepAlive->start();
}

void SseEndpoint::openStream(HttpExchange &exchange)
{
    ServerContext &context = m_parts.server;
    const HttpRequestHead &head = exchange.head();
    const QString peer = exchange.socket()->io()->peerAddress().toString();
    if (head.method != "GET")
        return refuseRequest(exchange,
                             405,
                             u"an event stream is opened with GET"_s,
                             "Allow: GET\r\n");
    if (m_parts.state.shuttingDown)
        return refuseRequest(exchange, 503, u"server is shutting down"_s, "Retry-After: 5\r\n");
    const QStringList &origins = m_parts.state.config().transport.websocket.allowedOrigins;
    if (const QByteArray origin = head.header("origin");
        !origin.isEmpty() && !origins.isEmpty() && !origins.contains(QString::fromUtf8(origin))) {
        qCInfo(lcTransport).noquote() << "refused SSE stream from origin" << origin;
        return refuseRequest(exchange,
                             403,
                             u"origin not allowed (transport.websocket.allowed_origins)"_s);
    }
    StreamRequest request = parseStreamRequest(head);
    if (!request.error.isEmpty()) {
        qCInfo(lcTransport).noquote() << "refused SSE request from" << peer << "for"
                                      << maskedTarget(head.target) << "-" << request.error;
        return refuseRequest(exchange, 400, request.error);
    }
    const QHostAddress client =
        m_parts.state.trustedProxies().clientAddress(exchange.socket()->io()->peerAddress(),
                                                     head.header("x-forwarded-for"));
    if (!context.sseStreams.tryAcquire(client, context.config.transport.sse.maxStreamsPerIp)) {
        qCWarning(lcTransport).noquote()
            << "refused SSE stream from" << client.toString()
            << "- transport.sse.max_streams_per_ip ="
            << context.config.transport.sse.maxStreamsPerIp << "reached";
        return refuseRequest(exchange, 429, u"too many open event streams from your address"_s);
    }
    if (!context.reserveConnection()) {
        context.sseStreams.release(client);
        qCWarning(lcTransport).noquote()
            << "refused SSE stream from" << peer << "- server.max_connections ="
            << context.maxConnections.load(std::memory_order_relaxed) << "reached";
        return refuseRequest(exchange, 503, u"server is full"_s, "Retry-After: 1\r\n");
    }
    qCDebug(lcTransport).noquote()
        << "SSE request from" << peer << "for" << maskedTarget(head.target);
    ClientSocket *socket = exchange.take();
    socket->io()->read(httpHeadLength(socket->io()->peek(MaxHttpHeadSize + 1)));
    auto *stream = new SseStream(context, m_parts.out, socket, head, request.positions, nullptr);
    stream->holdPlace(client);
    Connection *connection = m_connections.openSse(stream);
    // Behind the greeting's token check (they wait while it decides), like a client's own. All
    // are made first: the stream starts once every one of them has answered.
    QList<Message> subscribes;
    for (qsizetype i = 0; i < request.positions.size(); ++i)
        subscribes.append(stream->subscribeMessage(i));
    for (Message &subscribe : subscribes) {
        if (connection->closingSince >= 0)
            break;
        m_protocol.submit(*connection, std::move(subscribe));
    }
}

// One client publish in flight: its connection without a socket (registered with the worker's
// table, so that a module's or the broker's later answer finds it) until the HTTP answer.
class SseEndpoint::Publish final : public ReplySink
{
public:
    Publish(SseEndpoint &endpoint, QPointer<HttpSession> session, const HttpRequest &request)
        : m_endpoint(endpoint)
        , m_session(std::move(session))
    {
        ServerContext &context = endpoint.m_parts.server;
        connection.key = context.nextConnKey.fetch_add(1, std::memory_order_relaxed);
        connection.connId = generateUlid();
        connection.sink = this;
        connection.httpRequest = &m_request;
        connection.connectedAt = QDateTime::currentMSecsSinceEpoch();
        connection.peerAddress = endpoint.m_parts.state.trustedProxies().clientAddress(
            m_session->peer(),
            request.head.header("x-forwarded-for"));
        connection.userAgent = QString::fromUtf8(request.head.header("user-agent"));
        m_request.setUrl(QUrl(u"http://"_s + QString::fromUtf8(request.head.header("host"))
                              + QString::fromUtf8(request.head.path)));
        for (const auto &[name, value] : request.head.headers)
            m_request.setRawHeader(name, value);
    }

    void reply(const Message &answer) override
    {
        if (m_answered)
            return;
        m_answered = true;
        // The handler may still use the connection after its reply: it goes on the next pass.
        QMetaObject::invokeMethod(
            &m_endpoint,
            [endpoint = &m_endpoint, call = this] { endpoint->finished(call); },
            Qt::QueuedConnection);
        if (!m_session)
            return;
        const QJsonObject data = answer.payload.json.toObject();
        if (answer.type == MessageType::Error) {
            const int code = data.value(u"code"_s).toInt(500);
            m_session->replyError(httpErrorStatus(code),
                                  code,
                                  data.value(u"message"_s).toString().toUtf8(),
                                  cors);
            return;
        }
        m_session->replyJson(200, QJsonDocument(data).toJson(QJsonDocument::Compact), cors);
    }
    void refuse(int code, const QString &text) { reply(Message::error(code, text)); }

    Connection connection;
    Message message;
    QString stream;  // the conn_id of the sender's own stream, when named
    QByteArray cors; // the answer's Access-Control-Allow-Origin

private:
    SseEndpoint &m_endpoint;
    QPointer<HttpSession> m_session;
    QNetworkRequest m_request;
    bool m_answered = false;
};

SseEndpoint::~SseEndpoint()
{
    for (Publish *call : std::as_const(m_calls)) {
        m_connections.removeDetached(call->connection.key);
        delete call;
    }
}

void SseEndpoint::publishRoute(HttpExchange &exchange)
{
    HttpSession::start(m_parts.server,
                       m_parts.state,
                       exchange.take(),
                       HttpSession::handlerOf(this, &SseEndpoint::publish));
}

void SseEndpoint::publish(const HttpRequest &request, HttpSession *session)
{
    const QByteArray cors = request.head.corsHeaders();
    if (request.head.method == "OPTIONS") { // a browser's preflight for its JSON POST
        session->reply(204,
                       "text/plain",
                       {},
                       cors
                           + "Access-Control-Allow-Methods: POST\r\n"
                             "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
                             "Access-Control-Max-Age: 600\r\n");
        return;
    }
    const auto refuse = [session, &cors](int status, const QString &text) {
        session->replyError(status, text.toUtf8(), cors);
    };
    if (request.head.method != "POST") {
        session->closeAfterReply();
        session->replyError(405, "a client publish is a POST", cors + "Allow: POST, OPTIONS\r\n");
        return;
    }
    const QStringList &origins = m_parts.server.config.transport.websocket.allowedOrigins;
    if (const QByteArray origin = request.head.header("origin");
        !origin.isEmpty() && !origins.isEmpty() && !origins.contains(QString::fromUtf8(origin)))
        return refuse(403, u"origin not allowed (transport.websocket.allowed_origins)"_s);
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(request.body, &error);
    if (!document.isObject())
        return refuse(400,
                      document.isNull() ? u"malformed JSON: %1"_s.arg(error.errorString())
                                        : u"expected a JSON object {channel, data}"_s);
    const QJsonObject body = document.object();
    for (auto it = body.constBegin(); it != body.constEnd(); ++it) {
        if (it.key() != "channel"_L1 && it.key() != "data"_L1 && it.key() != "conn_id"_L1)
            return refuse(400,
                          u"unknown field '%1' (expected: channel, data, conn_id)"_s.arg(it.key()));
    }
    if (!body.value(u"channel"_s).isString() || body.value(u"channel"_s).toString().isEmpty())
        return refuse(400, u"channel: expected a non-empty string"_s);
    if (!body.contains(u"data"_s))
        return refuse(400, u"data: expected a JSON value to publish"_s);
    if (body.contains(u"conn_id"_s) && !body.value(u"conn_id"_s).isString())
        return refuse(400, u"conn_id: expected the conn_id of your event stream"_s);

    auto *call = new Publish(*this, QPointer<HttpSession>(session), request);
    call->cors = cors;
    call->message = Message::create(MessageType::Publish, Payload::fromJson(body.value(u"data"_s)));
    call->message.channel = body.value(u"channel"_s).toString();
    call->stream = body.value(u"conn_id"_s).toString();
    m_calls.append(call);
    m_connections.addDetached(&call->connection);
    const QString token = m_parts.modules.hasAuthenticators()
        ? m_parts.modules.upgradeToken(call->connection)
        : QString();
    if (token.isEmpty())
        return authenticated(call);
    m_parts.modules.authenticate(call->connection,
                                 token,
                                 [this, call](Connection &, const Result<void> &verified) {
                                     if (!verified)
                                         return call->refuse(verified.error().code,
                                                             verified.error().message);
                                     authenticated(call);
                                 });
}

// A named stream must be an event stream of this node with the same identity: then the publish
// is its (metadata.from) and it does not get it back.
void SseEndpoint::authenticated(Publish *call)
{
    if (call->stream.isEmpty())
        return run(call);
    ServerContext &context = m_parts.server;
    const int worker = context.workerOf(call->stream);
    if (worker < 0)
        return call->refuse(404, u"conn_id: no event stream '%1' on this node"_s.arg(call->stream));
    const auto mailbox = context.workers.at(m_parts.state.index)->mailbox();
    const quint64 key = call->connection.key;
    const QString userId = call->connection.authenticated ? call->connection.userId : QString();
    context.workers.at(worker)->postFind(
        call->stream,
        [this, mailbox, key, userId](const Connection *stream) {
            const bool mine = stream && stream->sse
                && (stream->authenticated ? stream->userId : QString()) == userId;
            const quint64 streamKey = mine ? stream->key : 0;
            Worker::postForConnection(
                mailbox,
                key,
                false,
                [this, streamKey](ProtocolContext &, Connection *current) {
                    if (!current)
                        return;
                    auto *publish = static_cast<Publish *>(current->sink);
                    if (streamKey == 0)
                        return publish->refuse(
                            403,
                            u"conn_id: '%1' is not an event stream of yours"_s.arg(
                                publish->stream));
                    current->publishAs = streamKey;
                    current->connId = publish->stream;
                    run(publish);
                });
        });
}

void SseEndpoint::run(Publish *call)
{
    m_protocol.submit(call->connection, call->message);
}

void SseEndpoint::finished(Publish *call)
{
    m_connections.removeDetached(call->connection.key);
    m_calls.removeOne(call);
    delete call;
}

} // namespace Mtw::Internal
