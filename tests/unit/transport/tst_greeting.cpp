// SPDX-License-Identifier: MIT
// The ack every connection gets first is encoded straight to bytes (encodeGreeting): it must be
// exactly what the generic encoder makes of the same ack Message, and decode back to it.
#include "transport/handlers/handlers.h"

#include <mtw/message.h>

#include <QJsonObject>
#include <QTest>

using namespace Qt::StringLiterals;

class TestGreeting : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sameBytesAsTheGenericEncoder_data()
    {
        QTest::addColumn<QString>("connId");
        QTest::newRow("server-made") << u"01JDZ8Q6W0X4V6C2N3M4P5R6S7"_s;
        QTest::newRow("escapes") << u"quote\" backslash\\ newline\n tab\t \u0001"_s;
        QTest::newRow("unicode") << u"κόσμε-\U0001F600"_s;
        QTest::newRow("empty") << QString();
    }
    void sameBytesAsTheGenericEncoder()
    {
        QFETCH(QString, connId);
        const QString id = u"01JDZ8Q6W0X4V6C2N3M4P5R6S8"_s;
        const qint64 timestamp = 1764700000123;
        Mtw::Message ack;
        ack.id = id;
        ack.type = Mtw::MessageType::Ack;
        ack.timestamp = timestamp;
        ack.payload = Mtw::Payload::fromJson(QJsonObject{{u"conn_id"_s, connId}});
        ack.metadata.insert(u"conn_id"_s, connId);

        const QByteArray fast = Mtw::Internal::encodeGreeting(id, timestamp, connId);
        QCOMPARE(fast, Mtw::encodeMessage(ack));
        const auto decoded = Mtw::decodeMessage(fast);
        QVERIFY(decoded);
        QCOMPARE(decoded->type, Mtw::MessageType::Ack);
        QCOMPARE(decoded->id, id);
        QCOMPARE(decoded->timestamp, timestamp);
        QCOMPARE(decoded->metadata.value(u"conn_id"_s).toString(), connId);
        QCOMPARE(decoded->payload.json.toObject().value(u"conn_id"_s).toString(), connId);
    }
};

QTEST_GUILESS_MAIN(TestGreeting)
#include "tst_greeting.moc"
