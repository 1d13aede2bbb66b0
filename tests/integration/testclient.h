// SPDX-License-Identifier: MIT
#pragma once

#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QUrl>
#include <QWebSocket>
#include <QWebSocketHandshakeOptions>

// A real WebSocket client for integration tests: records every message it receives, parsed.
// Lives in the test's thread.
class TestClient : public QObject
{
    Q_OBJECT

public:
    explicit TestClient(QObject *parent = nullptr)
        : QObject(parent)
    {
        connect(&socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
            texts.append(text);
            received.append(QJsonDocument::fromJson(text.toUtf8()).object());
        });
        connect(&socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &data) {
            binaries.append(data);
        });
        connect(&socket, &QWebSocket::disconnected, this, [this] {
            closeCode = int(socket.closeCode());
            closeReason = socket.closeReason();
            closed = true;
        });
    }

    // Opens the socket and waits for the opening ack; returns false on failure.
    bool open(const QUrl &url)
    {
        socket.open(url);
        if (!QTest::qWaitFor([this] { return !received.isEmpty() || closed; }, 5000))
            return false;
        if (received.isEmpty())
            return false;
        connId = received.constFirst()
                     .value(QStringLiteral("payload"))
                     .toObject()
                     .value(QStringLiteral("data"))
                     .toObject()
                     .value(QStringLiteral("conn_id"))
                     .toString();
        return !connId.isEmpty();
    }

    void sendJson(const QJsonObject &object)
    {
        socket.sendTextMessage(
            QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact)));
    }

    // Sends an envelope with the given type, id and extra fields (timestamp and payload filled in).
    void sendEnvelope(const QString &type, const QString &id, QJsonObject fields = {})
    {
        fields.insert(QStringLiteral("id"), id);
        fields.insert(QStringLiteral("type"), type);
        if (!fields.contains(QStringLiteral("payload")))
            fields.insert(QStringLiteral("payload"),
                          QJsonObject{{QStringLiteral("kind"), QStringLiteral("None")}});
        fields.insert(QStringLiteral("timestamp"), 1711843200000.0);
        sendJson(fields);
    }

    // The first received message whose ref_id is `refId`, waiting up to 5 s.
    QJsonObject reply(const QString &refId, int timeoutMs = 5000)
    {
        QJsonObject found;
        (void)QTest::qWaitFor(
            [&] {
                for (const QJsonObject &message : std::as_const(received)) {
                    if (message.value(QStringLiteral("ref_id")).toString() == refId) {
                        found = message;
                        return true;
                    }
                }
                return false;
            },
            timeoutMs);
        return found;
    }

    // Messages received of the given type (optionally on a channel).
    QList<QJsonObject> ofType(const QString &type, const QString &channel = QString()) const
    {
        QList<QJsonObject> out;
        for (const QJsonObject &message : received) {
            if (message.value(QStringLiteral("type")).toString() == type
                && (channel.isEmpty()
                    || message.value(QStringLiteral("channel")).toString() == channel)) {
                out.append(message);
            }
        }
        return out;
    }

    bool waitClosed(int timeoutMs = 5000)
    {
        return QTest::qWaitFor([this] { return closed; }, timeoutMs);
    }

    QWebSocket socket;
    QList<QJsonObject> received;
    QStringList texts;
    QList<QByteArray> binaries;
    QString connId;
    bool closed = false;
    int closeCode = -1;
    QString closeReason;
};

// Sends a raw HTTP request over a plain TCP socket and returns the whole response.
inline QByteArray
rawHttp(quint16 port, const QByteArray &request, int timeoutMs = 5000, bool headOnly = false)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(timeoutMs))
        return {};
    socket.write(request);
    QByteArray response;
    (void)QTest::qWaitFor(
        [&] {
            response += socket.readAll();
            return (headOnly && response.contains("\r\n\r\n"))
                || socket.state() == QAbstractSocket::UnconnectedState;
        },
        timeoutMs);
    response += socket.readAll();
    return response;
}

// Like rawHttp, but returns as soon as the response head is in (a 101 keeps the socket open).
inline QByteArray rawHttpHead(quint16 port, const QByteArray &request, int timeoutMs = 5000)
{
    return rawHttp(port, request, timeoutMs, true);
}

// A client frame (FIN, opcode text, masked with a zero key) carrying `payload`.
inline QByteArray maskedTextFrame(const QByteArray &payload)
{
    QByteArray frame;
    frame.append(char(0x81));
    if (payload.size() < 126) {
        frame.append(char(0x80 | payload.size()));
    } else {
        frame.append(char(0x80 | 126));
        frame.append(char((payload.size() >> 8) & 0xff));
        frame.append(char(payload.size() & 0xff));
    }
    frame.append(4, '\0'); // masking key 0: the payload goes out as is
    frame.append(payload);
    return frame;
}

// One WebSocket frame as a server sends it (unmasked, never fragmented by mtwserver).
struct ServerFrame
{
    enum Opcode : quint8 { Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };
    quint8 opcode = 0;
    QByteArray payload;

    int closeCode() const
    {
        return opcode == Close && payload.size() >= 2
            ? (int(quint8(payload.at(0))) << 8) | int(quint8(payload.at(1)))
            : -1;
    }
    QByteArray closeReason() const { return opcode == Close ? payload.mid(2) : QByteArray(); }
};

// Takes the complete frames off the front of `buffer` (bytes a server sent after its 101
// response); an incomplete last frame stays there for the next call.
inline QList<ServerFrame> takeServerFrames(QByteArray &buffer)
{
    QList<ServerFrame> frames;
    qsizetype at = 0;
    while (buffer.size() - at >= 2) {
        const auto byte = [&](qsizetype i) { return quint64(quint8(buffer.at(at + i))); };
        quint64 length = byte(1) & 0x7f;
        qsizetype header = 2;
        if (length == 126) {
            if (buffer.size() - at < 4)
                break;
            length = (byte(2) << 8) | byte(3);
            header = 4;
        } else if (length == 127) {
            if (buffer.size() - at < 10)
                break;
            length = 0;
            for (qsizetype i = 2; i < 10; ++i)
                length = (length << 8) | byte(i);
            header = 10;
        }
        if (byte(1) & 0x80)
            header += 4; // a masking key: servers must not send one, but stay in step
        if (quint64(buffer.size() - at - header) < length)
            break;
        frames.append({quint8(byte(0) & 0x0f), buffer.mid(at + header, qsizetype(length))});
        at += header + qsizetype(length);
    }
    buffer.remove(0, at);
    return frames;
}

// A WebSocket client that reads at most `readBuffer` bytes and then stops reading from the
// kernel: the server's output to it backs up, as with a slow or stalled consumer.
// Returns after the 101 response; `subscribeTo` (if set) is subscribed first.
inline bool openStalledClient(QTcpSocket &socket, quint16 port, const QByteArray &subscribeTo)
{
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(3000))
        return false;
    socket.write(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    QByteArray seen;
    if (!QTest::qWaitFor(
            [&] {
                seen += socket.readAll();
                return seen.contains("\r\n\r\n");
            },
            3000)) {
        return false;
    }
    if (!seen.startsWith("HTTP/1.1 101"))
        return false;
    if (!subscribeTo.isEmpty()) {
        socket.write(maskedTextFrame(R"({"id":"s1","type":"subscribe","channel":")" + subscribeTo
                                     + R"(","payload":{"kind":"None"},"timestamp":1})"));
        socket.flush();
        // Wait for the subscribe response before stalling.
        if (!QTest::qWaitFor(
                [&] {
                    seen += socket.readAll();
                    return seen.contains("\"subscribed\"");
                },
                3000)) {
            return false;
        }
    }
    socket.setReadBufferSize(1024);
    return true;
}
