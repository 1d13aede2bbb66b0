// SPDX-License-Identifier: MIT
#pragma once

#include <QObject>

class QTimer;

namespace Mtw::Internal {

class ConnectionTable;
class HttpExchange;
class HttpSession;
struct HttpRequest;
class Protocol;
struct ProtocolContext;

// Server-Sent Events for clients ([transport.sse], docs/http-api.md#server-sent-events):
// `GET <prefix>/events?channel=...` opens a stream (SseStream) that is a connection of this
// worker like an upgraded WebSocket: greeted and authenticated the same way (the token from
// `Authorization: Bearer` or `?token=`), subscribed through the protocol's own subscribe (channel
// rules, module filters, recovery from the Last-Event-ID), counted, listed and closed like the
// others. `POST <prefix>/events/publish` is such a client's publish: a connection without a
// socket for the request, authenticated by its token and run through the protocol's publish
// (channel rules, module filters); one that names its own stream (`conn_id`) is its sender, so
// the stream does not get it back. Also the keep-alive comments of this worker's streams. One
// per worker, in its thread.
class SseEndpoint : public QObject
{
    Q_OBJECT

public:
    SseEndpoint(ProtocolContext &parts,
                Protocol &protocol,
                ConnectionTable &connections,
                QObject *parent);

    ~SseEndpoint() override;

    void openStream(HttpExchange &exchange);
    void publishRoute(HttpExchange &exchange);

private:
    class Publish;

    void publish(const HttpRequest &request, HttpSession *session);
    void authenticated(Publish *call);
    void run(Publish *call);
    void finished(Publish *call);

    ProtocolContext &m_parts;
    Protocol &m_protocol;
    ConnectionTable &m_connections;
    QTimer *m_keepAlive;
    QList<Publish *> m_calls;
};

// The query of a request target with the value of `token=` replaced by "***": what a log line
// may show of a client's URL.
QByteArray maskedTarget(const QByteArray &target);

} // namespace Mtw::Internal
