// SPDX-License-Identifier: MIT
#include "transport/adminroute.h"

#include "transport/admingate.h"
#include "transport/clientsocket.h"
#include "transport/httproutes.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/upgrader.h"

#include <QDateTime>

namespace Mtw::Internal {

namespace {

// What may wait for one admin client: a snapshot of 10,000 connections is about 3 MB.
constexpr qint64 AdminMaxQueueSize = 64 * 1024 * 1024;

// Answers a refusal of the gate; false when the gate lets the request through.
bool refused(AdminGate::Verdict verdict, const QHostAddress &peer, HttpExchange &exchange)
{
    const QString who = peer.toString();
    switch (verdict) {
    case AdminGate::Verdict::Throttled:
        qCWarning(lcTransport).noquote()
            << "admin API: refused" << who << "- too many failed attempts, throttled";
        exchange.respond(429, "too many failed attempts; try again later\n", "Retry-After: 60\r\n");
        return true;
    case AdminGate::Verdict::Unauthorized:
        qCWarning(lcTransport).noquote()
            << "admin API: refused" << who << "- wrong or missing token";
        exchange.respond(401, "admin token required\n", "WWW-Authenticate: Bearer\r\n");
        return true;
    case AdminGate::Verdict::ForbiddenOrigin:
        qCWarning(lcTransport).noquote() << "admin API: refused" << who << "- Origin"
                                         << QString::fromUtf8(exchange.head().header("origin"))
                                         << "is not in admin.allowed_origins";
        exchange.respond(403, "this Origin may not use the admin API (admin.allowed_origins)\n");
        return true;
    case AdminGate::Verdict::TokenInQuery:
        qCWarning(lcTransport).noquote()
            << "admin API: refused" << who
            << "- a token in the query string (URLs are logged); send Authorization: Bearer";
        exchange.respond(
            400,
            "send the admin token in an Authorization: Bearer header, not in the URL\n");
        return true;
    case AdminGate::Verdict::Allow:
        return false;
    }
    return false;
}

} // namespace

void routeAdmin(ServerContext &context, const TrustedProxies &proxies, HttpExchange &exchange)
{
    const QHostAddress peer = proxies.clientAddress(exchange.socket()->io()->peerAddress(),
                                                    exchange.head().header("x-forwarded-for"));
    const auto verdict =
        context.adminGate.check(exchange.head(), peer, QDateTime::currentMSecsSinceEpoch());
    if (refused(verdict, peer, exchange))
        return;
    if (!exchange.head().isWebSocketUpgrade()) {
        exchange.respond(426,
                         "the admin API expects a WebSocket upgrade\n",
                         "Upgrade: websocket\r\n");
        return;
    }
    if (refuseBadUpgrade(exchange))
        return;
    // The admin service lives in the server's thread: the socket moves there with its buffered
    // request, which the service's own QWebSocketServer then reads. Not from inside this call:
    // it runs in the socket's readyRead, and a TLS socket goes on using its inner socket after
    // the signal returns, which must still be in this thread then. A socket that goes away
    // before the move takes its queued call with it.
    ClientSocket *client = exchange.take();
    client->setQueueLimit(AdminMaxQueueSize);
    QTcpSocket *socket = client->io();
    QMetaObject::invokeMethod(
        socket,
        [service = context.adminService, adopt = context.adoptAdminSocket, socket] {
            socket->setParent(nullptr);
            socket->moveToThread(service->thread());
            QMetaObject::invokeMethod(
                service,
                [adopt, socket] { adopt(socket); },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

} // namespace Mtw::Internal
