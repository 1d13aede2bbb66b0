// SPDX-License-Identifier: MIT
#include "transport/ssestream.h"

#include "transport/clientsocket.h"
#include "transport/connection.h"
#include "transport/fanout.h"
#include "transport/httpsession.h"
#include "transport/logging.h"
#include "transport/modulecalls.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QUrl>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// What the held events may take before the head goes out (a subscribe that waits for the
// cluster's broker while another channel's publications come): the connection's queue limit.
QByteArray sseEvent(QByteArrayView name, QByteArrayView id, QByteArrayView json)
{
    QByteArray event;
    event.reserve(json.size() + id.size() + name.size() + 24);
    if (!name.isEmpty())
        event.append("event: ").append(name).append('\n');
    if (!id.isEmpty())
        event.append("id: ").append(id).append('\n');
    // An encoded envelope is compact JSON: no raw line break, so one data line.
    event.append("data: ").append(json).append("\n\n");
    return event;
}

} // namespace

Result<QList<SseChannelPosition>> parseSseEventId(QByteArrayView id)
{
    QList<SseChannelPosition> positions;
    const QByteArray text = id.toByteArray().trimmed();
    if (text.isEmpty())
        return positions;
    const auto bad = [&text](const char *why) {
        return fail(400,
                    u"Last-Event-ID '%1': %2; expected <channel>:<epoch>:<offset> per channel, "
                    "separated by spaces (the id of an event of this stream)"_s.arg(
                        QString::fromUtf8(text.left(200)),
                        QLatin1String(why)));
    };
    for (const QByteArray &entry : text.split(' ')) {
        if (entry.isEmpty())
            continue;
        const QList<QByteArray> parts = entry.split(':');
        if (parts.size() != 3 || parts.at(0).isEmpty())
            return bad("an entry is not three fields");
        bool ok = false;
        const quint64 offset = parts.at(2).toULongLong(&ok);
        if (!ok)
            return bad("an offset is not a non-negative integer");
        positions.append(
            SseChannelPosition{QString::fromUtf8(QByteArray::fromPercentEncoding(parts.at(0))),
                               QString::fromLatin1(parts.at(1)),
                               offset,
                               true});
    }
    return positions;
}

QByteArray sseEventId(const QList<SseChannelPosition> &positions)
{
    QByteArray id;
    for (const SseChannelPosition &position : positions) {
        if (!position.known)
            continue;
        if (!id.isEmpty())
            id.append(' ');
        id.append(QUrl::toPercentEncoding(position.channel))
            .append(':')
            .append(position.epoch.toLatin1())
            .append(':')
            .append(QByteArray::number(position.offset));
    }
    return id;
}

SseStream::SseStream(ServerContext &context,
                     Outbound &out,
                     ClientSocket *socket,
                     HttpRequestHead head,
                     QList<SseChannelPosition> positions,
                     QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_out(out)
    , m_socket(socket)
    , m_head(std::move(head))
    , m_positions(std::move(positions))
{
    socket->io()->setParent(this);
    m_request = networkRequestOf(m_head); // what an authenticator reads of it
}

SseStream::~SseStream()
{
    if (!m_place.isNull())
        m_context.sseStreams.release(m_place);
}

QStringList SseStream::channels() const
{
    QStringList names;
    for (const SseChannelPosition &position : m_positions)
        names.append(position.channel);
    return names;
}

Message SseStream::subscribeMessage(qsizetype index)
{
    const SseChannelPosition &position = m_positions.at(index);
    Message message = Message::create(MessageType::Subscribe);
    message.channel = position.channel;
    if (position.known)
        message.metadata.insert(
            u"recover"_s,
            QJsonObject{{u"offset"_s, qint64(position.offset)}, {u"epoch"_s, position.epoch}});
    m_subscribing.insert(message.id);
    return message;
}

SseChannelPosition *SseStream::position(const QString &channel)
{
    for (SseChannelPosition &position : m_positions) {
        if (position.channel == channel)
            return &position;
    }
    return nullptr;
}

bool SseStream::send(Connection &connection, const QByteArray &json, MessageType type)
{
    if (m_state == State::Refused)
        return false;
    if (m_state == State::Subscribing) {
        if (type == MessageType::Error || type == MessageType::Response) {
            const auto message = decodeMessage(json);
            if (!message)
                return false;
            if (type == MessageType::Error) {
                // Before the head: the request is refused with the error's status.
                const QJsonObject error = message->payload.json.toObject();
                refuse(connection,
                       error.value(u"code"_s).toInt(500),
                       error.value(u"message"_s).toString());
                return false;
            }
            if (m_subscribing.remove(message->refId)) {
                subscribed(connection, *message);
                if (m_subscribing.isEmpty() && m_state == State::Subscribing)
                    startStreaming(connection);
                return true;
            }
        }
    }
    return write(
        connection,
        sseEvent(QByteArrayView(messageTypeName(type).data(), messageTypeName(type).size()),
                 {},
                 json),
        true);
}

// The reply to one of our subscribes: the channel's position, and the publications the
// recovery found as events of their own (each with its id), after the reply.
void SseStream::subscribed(Connection &connection, const Message &reply)
{
    QJsonObject data = reply.payload.json.toObject();
    const QJsonArray publications = data.take(u"publications"_s).toArray();
    SseChannelPosition *at = position(data.value(u"subscribed"_s).toString());
    const QByteArray response = encodeMessage(Message::response(reply.refId, data));
    if (!at) {
        write(connection, sseEvent("response", {}, response), true);
        return;
    }
    at->epoch = data.value(u"epoch"_s).toString();
    if (publications.isEmpty()) {
        at->offset = quint64(data.value(u"offset"_s).toInteger());
        at->known = true;
        write(connection, sseEvent("response", eventId(), response), true);
        return;
    }
    write(connection, sseEvent("response", {}, response), true);
    for (const QJsonValue &publication : publications) {
        const QByteArray encoded =
            QJsonDocument(publication.toObject()).toJson(QJsonDocument::Compact);
        const auto message = decodeMessage(encoded);
        if (!message)
            continue;
        at->offset = quint64(message->metadata.value(u"offset"_s).toInteger());
        at->known = true;
        write(connection, sseEvent({}, eventId(), encodeMessage(*message)), true);
    }
    at->offset = std::max(at->offset, quint64(data.value(u"offset"_s).toInteger()));
}

qint64 SseStream::deliver(Connection &connection, const Delivery &delivery, SseEventCache &cache)
{
    if (m_state == State::Refused)
        return -1;
    QByteArray id;
    // A stream of this one channel: its id says no more than the position, which is the cached
    // event's when epoch and offset are (the id is not formatted again).
    const SseChannelPosition *single = nullptr;
    if (delivery.offset != 0) {
        if (SseChannelPosition *at = position(delivery.channel)) {
            if (Q_UNLIKELY(delivery.resetJoins)) { // the cluster started the channel over
                if (const auto message = decodeMessage(delivery.json))
                    at->epoch = message->metadata.value(u"epoch"_s).toString();
            }
            at->offset = delivery.offset;
            at->known = true;
            if (m_positions.size() == 1)
                single = at;
        }
        if (!single)
            id = eventId();
    }
    const bool same = single ? cache.offset == single->offset && cache.epoch == single->epoch
                             : cache.offset == 0 && cache.id == id;
    if (cache.event.isNull() || !same) {
        cache.event = sseEvent({}, single ? eventId() : id, delivery.json);
        cache.id = single ? QByteArray() : std::move(id);
        cache.offset = single ? single->offset : 0;
        cache.epoch = single ? single->epoch : QString();
    }
    return write(connection, cache.event, false) ? cache.event.size() : -1;
}

bool SseStream::write(Connection &connection, const QByteArray &event, bool counted)
{
    if (m_state == State::Subscribing) {
        const qint64 limit = m_context.config.transport.websocket.maxQueueSize;
        if (m_held.size() + event.size() > limit) {
            refuse(connection,
                   503,
                   u"more than transport.websocket.max_queue_size = %1 bytes of events came "
                   "while the channels were being subscribed; retry"_s.arg(limit));
            return false;
        }
        m_held.append(event);
        return true;
    }
    if (m_state == State::Refused || connection.disconnected || connection.closingSince >= 0)
        return false;
    return counted ? m_out.writeFrame(connection, event) : m_out.queueFrame(connection, event) >= 0;
}

void SseStream::startStreaming(Connection &connection)
{
    m_state = State::Streaming;
    QByteArray head = "HTTP/1.1 200 OK\r\n"
                      "Content-Type: text/event-stream; charset=utf-8\r\n"
                      "Cache-Control: no-cache, no-store\r\n"
                      "X-Accel-Buffering: no\r\n"
                      "Connection: close\r\n";
    head += m_head.corsHeaders();
    head += "\r\nretry: " + QByteArray::number(m_context.config.transport.sse.retryMs) + "\n\n";
    // The head and what waited, in one write: the limit counts it like any other output.
    m_out.queueFrame(connection, head + std::exchange(m_held, QByteArray()));
}

void SseStream::refuse(Connection &connection, int code, const QString &message)
{
    if (m_state != State::Subscribing)
        return;
    m_state = State::Refused;
    m_held.clear();
    qCInfo(lcTransport).noquote() << "SSE stream" << connection.connId << "refused:" << code
                                  << message;
    if (!connection.reason)
        connection.reason =
            DisconnectReason::error(u"SSE request refused: %1 %2"_s.arg(code).arg(message));
    connection.closingSince = 0;
    QByteArray extra = m_head.corsHeaders();
    if (code == 401)
        extra += "WWW-Authenticate: Bearer\r\n";
    m_socket->io()->write(httpErrorReply(httpErrorStatus(code), code, message.toUtf8(), extra));
    m_socket->io()->disconnectFromHost();
}

void SseStream::keepAlive(Connection &connection)
{
    if (m_state == State::Streaming)
        write(connection, QByteArrayLiteral(": ping\n\n"), false);
}

void SseStream::close(Connection &connection, int closeCode, const QString &text)
{
    if (m_state == State::Subscribing) {
        refuse(connection, closeCode == 4001 ? 401 : 503, text);
        return;
    }
    m_socket->sendQueued(); // queued frames are not in Qt's buffer, which the close drains
    m_socket->io()->disconnectFromHost();
}

void SseStream::abort() const
{
    m_socket->reset();
}

} // namespace Mtw::Internal
