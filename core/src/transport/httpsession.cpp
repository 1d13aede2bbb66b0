// SPDX-License-Identifier: MIT
#include "transport/httpsession.h"

#include "transport/clientsocket.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// What one read takes from the kernel at most while a request is with its handler: a client
// that pipelines without reading its answers is held by TCP, not by our memory.
constexpr qint64 ReadBufferSize = 64 * 1024;
// How long the rest of a refused request is read and dropped before the connection closes.
constexpr int DrainMs = 1000;

} // namespace

QByteArray httpErrorJson(int code, QByteArrayView message)
{
    return QJsonDocument(
               QJsonObject{{u"code"_s, code}, {u"message"_s, QString::fromUtf8(message).trimmed()}})
        .toJson(QJsonDocument::Compact);
}

int httpErrorStatus(int code)
{
    return code >= 400 && code <= 599 ? code : 500;
}

QByteArray httpErrorReply(int status, int code, QByteArrayView message, QByteArrayView extraHeaders)
{
    return httpReply(status, "application/json", httpErrorJson(code, message), false, extraHeaders);
}

void HttpSession::start(ServerContext &context,
                        const WorkerState &state,
                        ClientSocket *client,
                        Handler handler)
{
    QTcpSocket *socket = client->io();
    const QHostAddress peer = socket->peerAddress();
    const WebSocketConfig &ws = state.config().transport.websocket;
    const bool counted = !state.trustedProxies().contains(peer);
    if (counted && !context.pendingHandshakes.tryAcquire(peer, ws.maxPendingHandshakesPerIp)) {
        qCWarning(lcTransport).noquote()
            << "refused HTTP connection from" << peer.toString()
            << "- too many open connections from this address (max_pending_handshakes_per_ip ="
            << ws.maxPendingHandshakesPerIp << ")";
        QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        socket->write(httpErrorReply(429, 429, "too many connections from your address"));
        socket->disconnectFromHost();
        return;
    }
    new HttpSession(context, state, client, std::move(handler), counted);
}

HttpSession::HttpSession(ServerContext &context,
                         const WorkerState &state,
                         ClientSocket *client,
                         Handler handler,
                         bool counted)
    : QObject(client->io()->parent())
    , m_context(context)
    , m_state(state)
    , m_socket(client->io())
    , m_handler(std::move(handler))
    , m_parser(state.config().transport.http.maxBodySize)
    , m_timer(new QTimer(this))
    , m_peer(m_socket->peerAddress())
    , m_counted(counted)
{
    QTcpSocket *socket = m_socket;
    socket->setParent(this);
    socket->setReadBufferSize(ReadBufferSize);
    m_timer->setSingleShot(true);
    connect(m_timer, &QTimer::timeout, this, &HttpSession::expired);
    connect(socket, &QTcpSocket::readyRead, this, &HttpSession::readable);
    connect(socket, &QTcpSocket::disconnected, this, &QObject::deleteLater);
    // The request that brought it here is still to be read, at most the head so far.
    m_timer->start(state.config().transport.websocket.handshakeTimeout * 1000);
    m_requestTimer = true;
    readable();
}

HttpSession::~HttpSession()
{
    if (m_counted)
        m_context.pendingHandshakes.release(m_peer);
}

void HttpSession::readable()
{
    if (m_draining) {
        m_socket->readAll();
        return;
    }
    if (m_busy || m_closing)
        return;
    m_buffer += m_socket->readAll();
    process();
}

void HttpSession::process()
{
    while (!m_busy && !m_closing) {
        const qsizetype consumed = m_parser.feed(m_buffer);
        m_buffer.remove(0, consumed);
        switch (m_parser.state()) {
        case HttpRequestParser::State::NeedMore:
            if (m_parser.takeContinue())
                m_socket->write("HTTP/1.1 100 Continue\r\n\r\n");
            if (m_parser.inProgress() && !m_requestTimer) {
                // From the first byte, the whole request has handshake_timeout (slowloris).
                m_timer->start(m_state.config().transport.websocket.handshakeTimeout * 1000);
                m_requestTimer = true;
            }
            if (!m_socket->bytesAvailable())
                return;
            m_buffer += m_socket->readAll();
            continue;
        case HttpRequestParser::State::Failed:
            qCInfo(lcTransport).noquote()
                << "HTTP request from" << m_peer.toString() << "refused:" << m_parser.errorText();
            m_keepAlive = false;
            replyError(m_parser.errorStatus(), m_parser.errorText());
            return;
        case HttpRequestParser::State::Complete:
            m_timer->stop();
            m_requestTimer = false;
            m_busy = true;
            m_keepAlive = m_parser.request().keepAlive;
            m_handler(m_parser.request(), this);
            return;
        }
    }
}

void HttpSession::reply(int status,
                        QByteArrayView contentType,
                        QByteArrayView body,
                        QByteArrayView extraHeaders)
{
    if (m_closing)
        return;
    const bool keepAlive = m_keepAlive && !m_state.shuttingDown;
    m_socket->write(httpReply(status, contentType, body, keepAlive, extraHeaders));
    if (!keepAlive) {
        close(false);
        return;
    }
    m_busy = false;
    m_parser.next();
    m_requestTimer = false;
    m_timer->start(m_state.config().transport.http.keepAliveTimeout * 1000);
    // A pipelined request may be waiting already; its answer goes out after this one.
    QMetaObject::invokeMethod(this, &HttpSession::readable, Qt::QueuedConnection);
}

void HttpSession::replyJson(int status, const QByteArray &json, QByteArrayView extraHeaders)
{
    reply(status, "application/json", json, extraHeaders);
}

void HttpSession::replyError(int status,
                             int code,
                             QByteArrayView message,
                             QByteArrayView extraHeaders)
{
    replyJson(status, httpErrorJson(code, message), extraHeaders);
}

void HttpSession::expired()
{
    if (m_busy)
        return;
    if (m_parser.inProgress() || m_buffer.size() > 0) {
        qCInfo(lcTransport).noquote() << "HTTP request timeout for" << m_peer.toString()
                                      << "(transport.websocket.handshake_timeout)";
        m_keepAlive = false;
        replyError(408, "the request did not arrive in time");
        return;
    }
    close(false); // idle keep-alive connection
}

void HttpSession::close(bool abort)
{
    m_closing = true;
    m_timer->stop();
    if (!abort && !m_draining
        && (m_parser.state() == HttpRequestParser::State::Failed || m_parser.inProgress())) {
        // Closing with unread bytes makes the kernel send a reset, which can destroy the
        // answer before the client reads it: read and drop the rest for a moment first.
        m_draining = true;
        m_socket->flush();
        m_socket->readAll();
        QTimer::singleShot(DrainMs, this, [this] { close(false); });
        return;
    }
    if (abort)
        m_socket->abort();
    else
        m_socket->disconnectFromHost();
    if (m_socket->state() == QAbstractSocket::UnconnectedState)
        deleteLater();
}

} // namespace Mtw::Internal
