// SPDX-License-Identifier: MIT
#pragma once

#include <QFile>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <memory>

// A local HTTP server that plays an AI provider: each request it receives takes the next
// scripted response (status, headers, a body from a recorded fixture), which it writes and ends
// by closing the connection, or cuts, or holds until release(). It records every request.
// Loopback only; lives in the test's thread.
class FakeProvider : public QObject
{
    Q_OBJECT

public:
    struct Response
    {
        int status = 200;
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray body;
        bool hold = false; // write the head and nothing else until release()
        int pieceSize = 0; // > 0: the body goes out in pieces of this many bytes, 1 ms apart
    };
    struct Request
    {
        QByteArray method;
        QByteArray path;
        QMap<QByteArray, QByteArray> headers; // names lower-cased
        QJsonObject body;
    };

    FakeProvider()
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onRead(socket); });
                connect(socket, &QTcpSocket::disconnected, this, [this, socket] {
                    ++disconnects;
                    socket->deleteLater();
                });
            }
        });
    }

    bool listen(quint16 port = 0) { return m_server.listen(QHostAddress::LocalHost, port); }
    void close() { m_server.close(); }
    quint16 port() const { return m_server.serverPort(); }

    static QByteArray fixture(const QString &name)
    {
        QFile file(QStringLiteral(MTW_AI_FIXTURES) + QLatin1Char('/') + name);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }
    static Response sse(const QString &name) { return Response{200, {}, fixture(name), false}; }

    void push(const Response &response) { m_script.append(response); }
    // For requests whose body names `model` (agents that run at once ask in any order); before
    // the common script.
    void pushFor(const QString &model, const Response &response)
    {
        m_byModel[model].append(response);
    }

    // Like a real provider, answer 401 (and take nothing from the script) unless the request's
    // `header` (lower case) is exactly `value`: "x-api-key" (Anthropic) or "authorization"
    // with "Bearer <key>" (OpenAI). `body` is the provider's error JSON.
    void requireKey(const QByteArray &header, const QByteArray &value, const QByteArray &body)
    {
        m_keyHeader = header;
        m_keyValue = value;
        m_keyError = body;
    }

    // Ends the held responses: the rest of their body, then the close.
    void release()
    {
        for (auto &[socket, body] : m_held) {
            if (socket) {
                socket->write(body);
                socket->disconnectFromHost();
            }
        }
        m_held.clear();
    }

    QList<Request> requests;
    int disconnects = 0;

private:
    void onRead(QTcpSocket *socket)
    {
        QByteArray &buffer = m_buffers[socket];
        buffer += socket->readAll();
        const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
        if (headEnd < 0)
            return;
        Request request;
        const QList<QByteArray> lines = buffer.left(headEnd).split('\n');
        const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
        request.method = first.value(0);
        request.path = first.value(1);
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon > 0)
                request.headers.insert(lines[i].left(colon).trimmed().toLower(),
                                       lines[i].mid(colon + 1).trimmed());
        }
        const qsizetype length = request.headers.value("content-length").toLongLong();
        if (buffer.size() < headEnd + 4 + length)
            return;
        request.body = QJsonDocument::fromJson(buffer.mid(headEnd + 4, length)).object();
        m_buffers.remove(socket);
        requests.append(request);
        QList<Response> &script = m_byModel[request.body.value(QLatin1String("model")).toString()];
        QList<Response> &from = script.isEmpty() ? m_script : script;
        const bool keyWrong =
            !m_keyHeader.isEmpty() && request.headers.value(m_keyHeader) != m_keyValue;
        const Response response = keyWrong ? Response{401, {}, m_keyError}
            : from.isEmpty()
            ? Response{500, {}, "{\"error\":{\"message\":\"no scripted response\"}}"}
            : from.takeFirst();
        QByteArray head = "HTTP/1.1 " + QByteArray::number(response.status) + " Scripted\r\n";
        head += response.status == 200 ? "content-type: text/event-stream\r\n"
                                       : "content-type: application/json\r\n";
        for (const auto &[name, value] : response.headers)
            head += name + ": " + value + "\r\n";
        head += "connection: close\r\n\r\n";
        socket->write(head);
        if (response.hold) {
            m_held.append({QPointer<QTcpSocket>(socket), response.body});
            return;
        }
        if (response.pieceSize > 0) {
            writePieces(socket, response.body, response.pieceSize);
            return;
        }
        socket->write(response.body);
        socket->disconnectFromHost();
    }

    // Splits events and lines across the client's reads, as a slow network does.
    void writePieces(QTcpSocket *socket, const QByteArray &body, int size)
    {
        auto *timer = new QTimer(socket);
        auto at = std::make_shared<qsizetype>(0);
        connect(timer, &QTimer::timeout, socket, [socket, timer, body, size, at] {
            socket->write(body.mid(*at, size));
            socket->flush();
            *at += size;
            if (*at >= body.size()) {
                timer->stop();
                socket->disconnectFromHost();
            }
        });
        timer->start(1);
    }

    QTcpServer m_server;
    QByteArray m_keyHeader;
    QByteArray m_keyValue;
    QByteArray m_keyError;
    QList<Response> m_script;
    QMap<QString, QList<Response>> m_byModel;
    QMap<QTcpSocket *, QByteArray> m_buffers;
    QList<QPair<QPointer<QTcpSocket>, QByteArray>> m_held;
};
