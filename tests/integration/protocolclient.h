// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the protocol integration tests (tst_protocol, tst_channels_e2e, tst_limits):
// a TestClient that speaks text or MTW binary and records every message in arrival order, and a
// loopback server configuration. Needs mtw::core (unlike testclient.h).
#include "testclient.h"

#include <mtw/disconnectreason.h>
#include <mtw/frame.h>
#include <mtw/message.h>
#include <mtw/server.h>

#include <QJsonArray>
#include <QSignalSpy>

#include <optional>

namespace ProtocolTest {

using namespace Qt::StringLiterals;

// Loopback, port 0, two workers: consecutive connections alternate between the two workers
// (the acceptor is round robin), so two clients opened one after another exercise the
// cross-worker fan-out.
inline Mtw::Config serverConfig()
{
    Mtw::Config config;
    config.server.host = u"127.0.0.1"_s;
    config.server.port = 0;
    config.server.workers = 2;
    config.server.shutdownTimeout = 3;
    return config;
}

inline QUrl wsUrl(const Mtw::Server &server)
{
    return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
}

inline Mtw::ChannelConfig channel(const QString &name)
{
    Mtw::ChannelConfig config;
    config.name = name;
    return config;
}

inline QJsonObject payloadOf(const QJsonObject &message)
{
    return message.value(u"payload"_s).toObject();
}

inline QJsonValue dataOf(const QJsonObject &message)
{
    return payloadOf(message).value(u"data"_s);
}

// `object` without its stream position ("offset": a non-negative integer, "epoch": eight
// characters), for tests about something else; a malformed position stays in, so that the
// comparison fails. Positions have their own tests (tst_recovery).
inline QJsonObject withoutPosition(QJsonObject object)
{
    const QJsonValue offset = object.value(u"offset"_s);
    const QJsonValue epoch = object.value(u"epoch"_s);
    if (offset.isDouble() && offset.toDouble() >= 0 && epoch.toString().size() == 8) {
        object.remove(u"offset"_s);
        object.remove(u"epoch"_s);
    }
    return object;
}

// The response data of `message` without its stream position.
inline QJsonObject positionlessData(const QJsonObject &message)
{
    return withoutPosition(message.value(u"payload"_s).toObject().value(u"data"_s).toObject());
}

// A delivered publication without metadata.offset and .epoch (an empty metadata is dropped, as
// on the wire).
inline QJsonObject withoutStamp(QJsonObject envelope)
{
    const QJsonObject metadata = withoutPosition(envelope.value(u"metadata"_s).toObject());
    if (metadata.isEmpty())
        envelope.remove(u"metadata"_s);
    else
        envelope.insert(u"metadata"_s, metadata);
    return envelope;
}

inline QJsonObject metadataOf(const QJsonObject &message)
{
    return message.value(u"metadata"_s).toObject();
}

inline QJsonObject errorPayload(int code, const QString &message)
{
    return QJsonObject{{u"kind"_s, u"Json"_s},
                       {u"data"_s, QJsonObject{{u"code"_s, code}, {u"message"_s, message}}}};
}

inline QJsonObject jsonPayload(const QJsonValue &data)
{
    return QJsonObject{{u"kind"_s, u"Json"_s}, {u"data"_s, data}};
}

inline QJsonObject nonePayload()
{
    return QJsonObject{{u"kind"_s, u"None"_s}};
}

// A full client envelope as the existing clients send it.
inline QJsonObject envelope(const QString &type, const QString &id, QJsonObject fields = {})
{
    fields.insert(u"id"_s, id);
    fields.insert(u"type"_s, type);
    if (!fields.contains(u"payload"_s))
        fields.insert(u"payload"_s, nonePayload());
    if (!fields.contains(u"timestamp"_s))
        fields.insert(u"timestamp"_s, 1711843200000.0);
    return fields;
}

// A TestClient that, in binary mode, sends every envelope as an MTW 0x01 frame, and that logs
// every message it receives (text or binary) in arrival order. Every JSON message is also run
// through Mtw::decodeMessage, so that anything the server sends that the strict codec would
// reject is flagged in `invalid`.
class MtwClient : public TestClient
{
public:
    struct Received
    {
        bool binary = false;
        int frameType = 0; // the MTW frame type of a binary message
        QByteArray framePayload;
        QJsonObject json; // the envelope (JSON messages only)
        QString invalid;  // why the message could not be decoded; empty when fine
    };

    explicit MtwClient(bool binary = false, QObject *parent = nullptr)
        : TestClient(parent)
        , binaryMode(binary)
    {
        connect(&socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
            Received entry;
            recordJson(entry, text.toUtf8());
            log.append(entry);
        });
        connect(&socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &data) {
            Received entry;
            entry.binary = true;
            const auto frame = Mtw::decodeFrame(data);
            if (!frame) {
                entry.invalid = frame.error();
            } else {
                entry.frameType = int(frame->type);
                entry.framePayload = frame->payload;
                if (frame->type == Mtw::FrameType::Json)
                    recordJson(entry, frame->payload);
            }
            log.append(entry);
        });
    }

    void sendObject(const QJsonObject &object)
    {
        const QByteArray json = QJsonDocument(object).toJson(QJsonDocument::Compact);
        if (binaryMode)
            socket.sendBinaryMessage(Mtw::encodeFrame(Mtw::FrameType::Json, json));
        else
            socket.sendTextMessage(QString::fromUtf8(json));
    }

    void send(const QString &type, const QString &id, const QJsonObject &fields = {})
    {
        sendObject(envelope(type, id, fields));
    }

    // The first logged message with this ref_id, waiting up to `timeoutMs`.
    std::optional<Received> waitReply(const QString &refId, int timeoutMs = 5000)
    {
        std::optional<Received> found;
        (void)QTest::qWaitFor(
            [&] {
                for (const Received &entry : std::as_const(log)) {
                    if (entry.json.value(u"ref_id"_s).toString() == refId) {
                        found = entry;
                        return true;
                    }
                }
                return false;
            },
            timeoutMs);
        return found;
    }

    // Sends `request` and returns its reply.
    std::optional<Received> call(const QString &type, const QString &id, const QJsonObject &fields)
    {
        send(type, id, fields);
        return waitReply(id);
    }

    // Logged envelopes of `type` (on `channel` when given), excluding the opening ack.
    QList<Received> ofType(const QString &type, const QString &channel = QString()) const
    {
        QList<Received> out;
        for (const Received &entry : log) {
            if (entry.json.value(u"type"_s).toString() == type
                && (channel.isEmpty() || entry.json.value(u"channel"_s).toString() == channel)) {
                out.append(entry);
            }
        }
        return out;
    }

    QStringList invalidMessages() const
    {
        QStringList out;
        for (const Received &entry : log) {
            if (!entry.invalid.isEmpty())
                out.append(entry.invalid);
        }
        return out;
    }

    bool binaryMode = false;
    QList<Received> log; // includes the opening ack

private:
    static void recordJson(Received &entry, const QByteArray &json)
    {
        entry.json = QJsonDocument::fromJson(json).object();
        const auto decoded = Mtw::decodeMessage(json);
        if (!decoded)
            entry.invalid = decoded.error().message;
    }
};

// The reason Server::connectionClosed reported for `connId`, waiting up to `timeoutMs`.
inline std::optional<Mtw::DisconnectReason>
closeReason(QSignalSpy &spy, const QString &connId, int timeoutMs = 5000)
{
    std::optional<Mtw::DisconnectReason> reason;
    (void)QTest::qWaitFor(
        [&] {
            for (const QList<QVariant> &args : std::as_const(spy)) {
                if (args.at(0).toString() == connId) {
                    reason = args.at(1).value<Mtw::DisconnectReason>();
                    return true;
                }
            }
            return false;
        },
        timeoutMs);
    return reason;
}

} // namespace ProtocolTest

namespace QTest {
template<>
inline char *toString(const Mtw::DisconnectReason &reason)
{
    return qstrdup(reason.toString().toUtf8().constData());
}
} // namespace QTest
