// SPDX-License-Identifier: MIT
#pragma once

#include "transport/httpparser.h"

#include <QHostAddress>
#include <QObject>
#include <QPointer>

#include <functional>

class QTcpSocket;
class QTimer;

namespace Mtw::Internal {

class ClientSocket;
class ServerContext;
struct WorkerState;

// {"code": <code>, "message": "<message>"}, the error body of the HTTP API.
QByteArray httpErrorJson(int code, QByteArrayView message);
// The HTTP status of an error code when it is one (400 to 599, PROTOCOL.md §2), else 500.
int httpErrorStatus(int code);
// A whole answer that closes the connection: `status`, an httpErrorJson(code, message) body and
// `extraHeaders`; for a request refused on its socket before (or instead of) an HttpSession.
QByteArray
httpErrorReply(int status, int code, QByteArrayView message, QByteArrayView extraHeaders = {});

// One HTTP/1.1 connection a route took over from the front door, for requests with bodies:
// reads whole requests (HttpRequestParser), hands each to `handler`, writes its answer and, with
// keep-alive, reads the next. The limits of the front door go on: a request must arrive in
// transport.websocket.handshake_timeout (slowloris, 408), the connection holds a place of
// max_pending_handshakes_per_ip for its life, an idle keep-alive connection closes after
// transport.http.keepalive_timeout. Errors of the request itself are JSON {code, message}.
// Worker thread only; deletes itself with its socket.
class HttpSession : public QObject
{
    Q_OBJECT

public:
    // Runs in the worker thread; answers now or later through reply() (a QPointer guards a
    // session that went away meanwhile).
    using Handler = std::function<void(const HttpRequest &, HttpSession *)>;

    // Takes `socket` (its request head still unread); answers 429 and closes when the peer
    // holds too many places already.
    static void
    start(ServerContext &context, const WorkerState &state, ClientSocket *socket, Handler handler);
    // A handler that hands each request to `serve` of `target` while it lives, and answers 503
    // once it has gone (shutdown).
    template<typename T>
    static Handler handlerOf(T *target, void (T::*serve)(const HttpRequest &, HttpSession *))
    {
        return
            [self = QPointer<T>(target), serve](const HttpRequest &request, HttpSession *session) {
                if (!self) {
                    session->replyError(503, "server is shutting down");
                    return;
                }
                (self.data()->*serve)(request, session);
            };
    }

    void reply(int status,
               QByteArrayView contentType,
               QByteArrayView body,
               QByteArrayView extraHeaders = {});
    void replyJson(int status, const QByteArray &json, QByteArrayView extraHeaders = {});
    // replyJson with httpErrorJson(code, message): the status is the code, or the one given.
    void replyError(int code, QByteArrayView message, QByteArrayView extraHeaders = {})
    {
        replyError(code, code, message, extraHeaders);
    }
    void replyError(int status, int code, QByteArrayView message, QByteArrayView extraHeaders = {});
    QHostAddress peer() const { return m_peer; }
    // The answer to the current request closes the connection.
    void closeAfterReply() { m_keepAlive = false; }

private:
    HttpSession(ServerContext &context,
                const WorkerState &state,
                ClientSocket *socket,
                Handler handler,
                bool counted);
    ~HttpSession() override;

    void readable();
    void process();
    void expired();
    void close(bool abort);

    ServerContext &m_context;
    const WorkerState &m_state;
    QTcpSocket *m_socket;
    Handler m_handler;
    HttpRequestParser m_parser;
    QByteArray m_buffer; // read but not parsed yet (a pipelined request)
    QTimer *m_timer;
    QHostAddress m_peer;
    bool m_counted;              // holds a pendingHandshakes place
    bool m_busy = false;         // a request is with the handler
    bool m_requestTimer = false; // the timer runs for a request that is arriving
    bool m_draining = false;     // answered an unread request: its rest is read and dropped
    bool m_closing = false;
    bool m_keepAlive = false;
};

} // namespace Mtw::Internal
