// SPDX-License-Identifier: MIT
// Module hooks through a real Mtw::Server, real sockets and the fixture-recorder plugin:
// ServerEvents as a module receives them, message filters (reject, transform, handled, priority,
// slow and throwing), request actions, and ServerHandle calls.
#include "testclient.h"

#include <mtw/server.h>

#include <QNetworkRequest>
#include <QtTest>

using namespace Qt::StringLiterals;

namespace {

using Event = QVariantMap;

QJsonObject payloadData(const QJsonObject &message)
{
    return message.value(u"payload"_s).toObject().value(u"data"_s).toObject();
}

QString payloadText(const QJsonObject &message)
{
    return message.value(u"payload"_s).toObject().value(u"data"_s).toString();
}

QJsonObject textPayload(const QString &text)
{
    return QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, text}};
}

} // namespace

class tst_Hooks : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Mtw::Server> m_server;

    static Mtw::Config recorderConfig()
    {
        Mtw::ModuleConfig recorder;
        recorder.name = u"fixture-recorder"_s;
        recorder.required = true;
        recorder.config = {{u"reject_channel"_s, u"blocked.x"_s},
                           {u"transform_channel"_s, u"shout.x"_s},
                           {u"handled_channel"_s, u"handled.x"_s},
                           {u"slow_channel"_s, u"slow.x"_s},
                           {u"throw_channel"_s, u"boom.x"_s},
                           {u"both_reject_channel"_s, u"both.x"_s},
                           {u"unanswered_channel"_s, u"silent.x"_s},
                           {u"throwing_slot_channel"_s, u"explode.x"_s},
                           {u"action"_s, u"whoami"_s}};
        Mtw::Config config;
        config.server.host = u"127.0.0.1"_s;
        config.server.port = 0;
        config.server.workers = 1; // one worker: deliveries keep the order they were sent in
        config.server.shutdownTimeout = 5;
        config.server.pluginsDir = QStringLiteral(MTW_FIXTURE_PLUGIN_DIR);
        config.modules = {recorder};
        return config;
    }

    QUrl url() const { return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(m_server->port())); }

    // Every signal the module received, in arrival order, optionally only one kind.
    QList<Event> events(const QString &name = QString()) const
    {
        QList<Event> out;
        for (const QVariant &value : m_server->shared().value(u"recorder.events"_s).toList()) {
            const Event event = value.toMap();
            if (name.isEmpty() || event.value(u"event"_s).toString() == name)
                out.append(event);
        }
        return out;
    }

    QList<Event> eventsFor(const QString &name, const QString &connId) const
    {
        QList<Event> out;
        for (const Event &event : events(name)) {
            if (event.value(u"conn_id"_s).toString() == connId)
                out.append(event);
        }
        return out;
    }

    QStringList recorded(const QString &key) const
    {
        return m_server->shared().value(key).toStringList();
    }

    static QJsonObject subscribe(TestClient &client, const QString &id, const QString &channel)
    {
        client.sendEnvelope(u"subscribe"_s, id, {{u"channel"_s, channel}});
        return client.reply(id);
    }

    static QJsonObject
    publish(TestClient &client, const QString &id, const QString &channel, const QString &text)
    {
        client.sendEnvelope(u"publish"_s,
                            id,
                            {{u"channel"_s, channel}, {u"payload"_s, textPayload(text)}});
        return client.reply(id);
    }

    static void
    verifyError(const QJsonObject &reply, const QString &refId, int code, const QString &message)
    {
        QCOMPARE(reply.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(reply.value(u"ref_id"_s).toString(), refId);
        QCOMPARE(payloadData(reply).value(u"code"_s).toInt(), code);
        QCOMPARE(payloadData(reply).value(u"message"_s).toString(), message);
    }

private Q_SLOTS:
    void init()
    {
        m_server = std::make_unique<Mtw::Server>(recorderConfig());
        const auto started = m_server->start();
        QVERIFY2(started, qPrintable(started ? QString() : started.error().message));
    }

    void cleanup() { m_server.reset(); }

    void clientConnectedCarriesClientInfo()
    {
        const qint64 before = QDateTime::currentMSecsSinceEpoch();
        TestClient client;
        QNetworkRequest request(url());
        request.setHeader(QNetworkRequest::UserAgentHeader, u"tst_hooks/1.0"_s);
        client.socket.open(request);
        QTRY_VERIFY(!client.received.isEmpty());
        const QJsonObject ack = client.received.constFirst();
        QCOMPARE(ack.value(u"type"_s).toString(), u"ack"_s);
        const QString connId = payloadData(ack).value(u"conn_id"_s).toString();
        QVERIFY(!connId.isEmpty());

        QTRY_COMPARE(events(u"connected"_s).size(), 1);
        const Event connected = events(u"connected"_s).constFirst();
        QCOMPARE(connected.value(u"conn_id"_s).toString(), connId);
        QCOMPARE(connected.value(u"remote"_s).toString(), u"127.0.0.1"_s);
        QCOMPARE(connected.value(u"user_agent"_s).toString(), u"tst_hooks/1.0"_s);
        QCOMPARE(connected.value(u"authenticated"_s).toBool(), false);
        const qint64 connectedAt = connected.value(u"connected_at"_s).toLongLong();
        QVERIFY(connectedAt >= before);
        QVERIFY(connectedAt <= QDateTime::currentMSecsSinceEpoch());
    }

    void clientDisconnectedReason_data()
    {
        QTest::addColumn<QString>("how");
        QTest::addColumn<QString>("reason");
        QTest::newRow("client closes") << u"close"_s << u"Normal"_s;
        QTest::newRow("disconnect message") << u"message"_s << u"Normal"_s;
        QTest::newRow("kicked by a module") << u"kick"_s << u"Kicked(bye)"_s;
    }

    void clientDisconnectedReason()
    {
        QFETCH(QString, how);
        QFETCH(QString, reason);
        TestClient client;
        QVERIFY(client.open(url()));
        QTRY_COMPARE(eventsFor(u"connected"_s, client.connId).size(), 1);
        if (how == u"close"_s) {
            client.socket.close();
        } else if (how == u"message"_s) {
            client.sendEnvelope(u"disconnect"_s, u"d1"_s);
        } else {
            QVERIFY(m_server->handle().disconnect(client.connId, u"bye"_s));
            QVERIFY(client.waitClosed());
            QCOMPARE(client.closeReason, u"bye"_s);
        }
        QTRY_COMPARE(eventsFor(u"disconnected"_s, client.connId).size(), 1);
        QCOMPARE(
            eventsFor(u"disconnected"_s, client.connId).constFirst().value(u"reason"_s).toString(),
            reason);
        QVERIFY(!m_server->handle().disconnect(client.connId, u"again"_s));
    }

    // aboutToShutdown first, then every client leaves with ServerShutdown, then the module stops.
    void shutdownEvents()
    {
        TestClient client;
        QVERIFY(client.open(url()));
        QCOMPARE(subscribe(client, u"s1"_s, u"room.1"_s).value(u"type"_s).toString(),
                 u"response"_s);
        QTRY_COMPARE(events(u"subscribed"_s).size(), 1);
        QSignalSpy finished(m_server.get(), &Mtw::Server::finished);
        m_server->shutdown();
        QTRY_COMPARE(finished.size(), 1);
        QVERIFY(client.waitClosed());
        QCOMPARE(client.closeCode, 1001);

        QStringList order;
        for (const Event &event : events())
            order.append(event.value(u"event"_s).toString());
        QCOMPARE(order,
                 QStringList({u"connected"_s,
                              u"subscribed"_s,
                              u"aboutToShutdown"_s,
                              u"unsubscribed"_s,
                              u"disconnected"_s}));
        QCOMPARE(events(u"disconnected"_s).constFirst().value(u"reason"_s).toString(),
                 u"ServerShutdown"_s);
        QCOMPARE(recorded(u"fixture.calls"_s).constLast(), u"stop:fixture-recorder"_s);
    }

    void subscribedAndUnsubscribed()
    {
        TestClient client;
        QVERIFY(client.open(url()));
        QCOMPARE(
            payloadData(subscribe(client, u"s1"_s, u"room.1"_s)).value(u"subscribed"_s).toString(),
            u"room.1"_s);
        QTRY_COMPARE(events(u"subscribed"_s).size(), 1);
        const Event subscribed = events(u"subscribed"_s).constFirst();
        QCOMPARE(subscribed.value(u"conn_id"_s).toString(), client.connId);
        QCOMPARE(subscribed.value(u"channel"_s).toString(), u"room.1"_s);

        // Subscribing again changes nothing: no second event.
        QCOMPARE(subscribe(client, u"s2"_s, u"room.1"_s).value(u"type"_s).toString(),
                 u"response"_s);
        client.sendEnvelope(u"unsubscribe"_s, u"u1"_s, {{u"channel"_s, u"room.1"_s}});
        QCOMPARE(payloadData(client.reply(u"u1"_s)).value(u"unsubscribed"_s).toString(),
                 u"room.1"_s);
        QTRY_COMPARE(events(u"unsubscribed"_s).size(), 1);
        QCOMPARE(events(u"subscribed"_s).size(), 1);
        const Event unsubscribed = events(u"unsubscribed"_s).constFirst();
        QCOMPARE(unsubscribed.value(u"conn_id"_s).toString(), client.connId);
        QCOMPARE(unsubscribed.value(u"channel"_s).toString(), u"room.1"_s);
        // afterMessage saw each accepted message once it was handled.
        QTRY_COMPARE(
            recorded(u"recorder.after"_s),
            QStringList({u"subscribe:room.1"_s, u"subscribe:room.1"_s, u"unsubscribe:room.1"_s}));
    }

    void messagePublished()
    {
        TestClient sender;
        TestClient member;
        QVERIFY(sender.open(url()));
        QVERIFY(member.open(url()));
        subscribe(member, u"s1"_s, u"room.2"_s);
        subscribe(sender, u"s2"_s, u"room.2"_s);
        const QJsonObject reply = publish(sender, u"p1"_s, u"room.2"_s, u"hi"_s);
        QCOMPARE(reply.value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(payloadData(reply).value(u"recipients"_s).toInt(), 1);
        QTRY_COMPARE(member.ofType(u"publish"_s, u"room.2"_s).size(), 1);

        QTRY_COMPARE(events(u"published"_s).size(), 1);
        const Event published = events(u"published"_s).constFirst();
        QCOMPARE(published.value(u"conn_id"_s).toString(), sender.connId);
        QCOMPARE(published.value(u"channel"_s).toString(), u"room.2"_s);
        QCOMPARE(published.value(u"text"_s).toString(), u"hi"_s);
        QCOMPARE(published.value(u"from"_s).toString(), sender.connId);
        QCOMPARE(published.value(u"recipients"_s).toInt(), 1);
        QVERIFY(recorded(u"recorder.after"_s).contains(u"publish:room.2"_s));
    }

    // A Reject reaches the client as `error` with the filter's code and message and the ref_id;
    // nothing happens and the connection goes on.
    void filterRejects_data()
    {
        QTest::addColumn<QString>("type");
        QTest::newRow("subscribe") << u"subscribe"_s;
        QTest::newRow("publish") << u"publish"_s;
        QTest::newRow("request") << u"request"_s;
    }

    void filterRejects()
    {
        QFETCH(QString, type);
        TestClient client;
        QVERIFY(client.open(url()));
        client.sendEnvelope(type, u"r1"_s, {{u"channel"_s, u"blocked.x"_s}});
        verifyError(client.reply(u"r1"_s),
                    u"r1"_s,
                    403,
                    u"channel 'blocked.x' is closed by fixture-recorder"_s);
        // The connection still works, and nothing of the refused message was carried out.
        QCOMPARE(subscribe(client, u"s1"_s, u"room.ok"_s).value(u"type"_s).toString(),
                 u"response"_s);
        QTRY_COMPARE(events(u"subscribed"_s).size(), 1);
        QCOMPARE(events(u"subscribed"_s).constFirst().value(u"channel"_s).toString(), u"room.ok"_s);
        QTRY_COMPARE(recorded(u"recorder.after"_s), QStringList{u"subscribe:room.ok"_s});
        QVERIFY(!recorded(u"recorder.filtered"_s).contains(u"low:%1:blocked.x"_s.arg(type)));
    }

    // The filter changed the message: the members receive the transformed one.
    void filterTransforms()
    {
        TestClient sender;
        TestClient member;
        QVERIFY(sender.open(url()));
        QVERIFY(member.open(url()));
        subscribe(member, u"s1"_s, u"shout.x"_s);
        QCOMPARE(publish(sender, u"p1"_s, u"shout.x"_s, u"hello"_s).value(u"type"_s).toString(),
                 u"response"_s);
        QTRY_COMPARE(member.ofType(u"publish"_s, u"shout.x"_s).size(), 1);
        const QJsonObject received = member.ofType(u"publish"_s, u"shout.x"_s).constFirst();
        QCOMPARE(payloadText(received), u"HELLO"_s);
        const QJsonObject metadata = received.value(u"metadata"_s).toObject();
        QCOMPARE(metadata.value(u"transformed"_s).toBool(), true);
        QCOMPARE(metadata.value(u"from"_s).toString(), sender.connId);
        QTRY_COMPARE(events(u"published"_s).size(), 1);
        QCOMPARE(events(u"published"_s).constFirst().value(u"text"_s).toString(), u"HELLO"_s);
    }

    // Handled: the filter answers for the server; the message goes no further.
    void filterHandles()
    {
        TestClient sender;
        TestClient member;
        QVERIFY(sender.open(url()));
        QVERIFY(member.open(url()));
        subscribe(member, u"s1"_s, u"handled.x"_s);
        subscribe(member, u"s2"_s, u"room.sync"_s);
        const QJsonObject reply = publish(sender, u"p1"_s, u"handled.x"_s, u"question"_s);
        QCOMPARE(reply.value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(reply.value(u"ref_id"_s).toString(), u"p1"_s);
        QCOMPARE(payloadData(reply),
                 QJsonObject(
                     {{u"handled_by"_s, u"fixture-recorder"_s}, {u"channel"_s, u"handled.x"_s}}));
        // A later publish arrives, the handled one never does.
        publish(sender, u"p2"_s, u"room.sync"_s, u"sync"_s);
        QTRY_COMPARE(member.ofType(u"publish"_s, u"room.sync"_s).size(), 1);
        QCOMPARE(member.ofType(u"publish"_s, u"handled.x"_s).size(), 0);
        QTRY_COMPARE(events(u"published"_s).size(), 1);
        QCOMPARE(events(u"published"_s).constFirst().value(u"channel"_s).toString(),
                 u"room.sync"_s);
        QVERIFY(!recorded(u"recorder.after"_s).contains(u"publish:handled.x"_s));
    }

    // Filters run by descending priority (registered the other way round); the first Reject
    // wins and the later filters do not see the message.
    void firstRejectByPriorityWins()
    {
        TestClient client;
        QVERIFY(client.open(url()));
        QCOMPARE(publish(client, u"p0"_s, u"room.3"_s, u"x"_s).value(u"type"_s).toString(),
                 u"error"_s); // 404: nobody ever subscribed, but both filters saw it
        QCOMPARE(recorded(u"recorder.filtered"_s),
                 QStringList({u"high:publish:room.3"_s, u"low:publish:room.3"_s}));

        // The Error's detail goes to the log, never to the client.
        QTest::ignoreMessage(QtInfoMsg, QRegularExpression(u"detail of the high filter"_s));
        const QJsonObject rejected = publish(client, u"p1"_s, u"both.x"_s, u"x"_s);
        verifyError(rejected, u"p1"_s, 403, u"rejected by the high filter"_s);
        QCOMPARE(payloadData(rejected).keys(), QStringList({u"code"_s, u"message"_s}));
        QCOMPARE(recorded(u"recorder.filtered"_s).mid(2), QStringList{u"high:publish:both.x"_s});
    }

    // A filter that returns without answering and never answers is a reject with 504 once
    // server.decision_timeout_ms has passed, logged. What the client sent after it waited
    // behind the decision and runs after it, in order; the connection goes on.
    void unansweredFilterIsAReject()
    {
        TestClient client;
        QVERIFY(client.open(url()));
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(u"fixture-recorder beforeMessage\\(\\) did not "
                                                "answer within 1000 ms"_s));
        client.sendEnvelope(
            u"publish"_s,
            u"p1"_s,
            {{u"channel"_s, u"silent.x"_s},
             {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"x"_s}}}});
        client.sendEnvelope(u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"room.6"_s}});
        const QJsonObject subscribed = client.reply(u"s1"_s, 10000);
        QCOMPARE(subscribed.value(u"type"_s).toString(), u"response"_s);
        verifyError(client.reply(u"p1"_s),
                    u"p1"_s,
                    504,
                    u"message refused: a server module did not answer in time"_s);
        QVERIFY(client.received.indexOf(client.reply(u"p1"_s))
                < client.received.indexOf(subscribed));
    }

    // A module's slot that throws is caught in the server's thread and logged with the module's
    // name; the module keeps receiving events and the server keeps serving.
    void throwingSlotIsCaught()
    {
        TestClient client;
        QVERIFY(client.open(url()));
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(u"module fixture-recorder threw an exception from "
                                                "its slot for ServerEvents::subscribed: "
                                                "fixture-recorder: slot exploded"_s));
        QCOMPARE(subscribe(client, u"s1"_s, u"explode.x"_s).value(u"type"_s).toString(),
                 u"response"_s);
        QTRY_COMPARE(events(u"subscribed"_s).size(), 1);
        QCOMPARE(subscribe(client, u"s2"_s, u"room.7"_s).value(u"type"_s).toString(),
                 u"response"_s);
        QTRY_COMPARE(events(u"subscribed"_s).size(), 2);
        QCOMPARE(events(u"subscribed"_s).constLast().value(u"channel"_s).toString(), u"room.7"_s);
        QVERIFY(m_server->isRunning());
    }

    // A filter that throws or overruns the 100 ms budget counts as a reject with 500; the
    // connection, the worker and the server keep going, and ServerEvents::error says so.
    void failingFilterIsAReject_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::newRow("slow (300 ms)") << u"slow.x"_s;
        QTest::newRow("throws") << u"boom.x"_s;
    }

    void failingFilterIsAReject()
    {
        QFETCH(QString, channel);
        TestClient client;
        TestClient member;
        QVERIFY(client.open(url()));
        QVERIFY(member.open(url()));
        subscribe(member, u"s1"_s, u"room.4"_s);

        verifyError(publish(client, u"p1"_s, channel, u"x"_s),
                    u"p1"_s,
                    500,
                    u"message refused: a server module failed"_s);
        QTRY_COMPARE(eventsFor(u"error"_s, client.connId).size(), 1);
        const Event error = eventsFor(u"error"_s, client.connId).constFirst();
        QCOMPARE(error.value(u"code"_s).toInt(), 500);
        QCOMPARE(error.value(u"message"_s).toString(),
                 u"module 'fixture-recorder': beforeMessage() threw or took longer than 100 ms"_s);
        QVERIFY(!recorded(u"recorder.filtered"_s).contains(u"low:publish:"_s + channel));

        // Same connection, same worker: still served.
        QCOMPARE(publish(client, u"p2"_s, u"room.4"_s, u"after"_s).value(u"type"_s).toString(),
                 u"response"_s);
        QTRY_COMPARE(member.ofType(u"publish"_s, u"room.4"_s).size(), 1);
        QVERIFY(!client.closed);
        TestClient late;
        QVERIFY(late.open(url()));
        QVERIFY(m_server->isRunning());
    }

    // fixture-async-auth answers from a thread of its own. An answer given during the call (the
    // call waits for that thread) counts. An answer after the call comes too late until the
    // worker waits for answers (issue 10): the server cancelled the reply, the client is refused
    // and the late answer is ignored.
    void asynchronousAuthenticator_data()
    {
        QTest::addColumn<bool>("waitForAnswer");
        QTest::addColumn<int>("delayMs");
        QTest::addColumn<int>("timeoutMs");
        QTest::addColumn<QString>("answer");
        QTest::newRow("from another thread, during the call")
            << true << 20 << 1000 << u"accept:counted"_s;
        QTest::newRow("later, in time") << false << 1000 << 10000 << u"accept:counted"_s;
        QTest::newRow("later, too late") << false << 1500 << 200 << u"accept:ignored"_s;
    }

    // An authenticator may answer after its call returned, from its own thread: within
    // server.decision_timeout_ms the answer counts, after it the client is refused and the late
    // answer is ignored. Meanwhile the worker serves everyone else, and what this client sends
    // waits behind the decision.
    void asynchronousAuthenticator()
    {
        QFETCH(bool, waitForAnswer);
        QFETCH(int, delayMs);
        QFETCH(int, timeoutMs);
        QFETCH(QString, answer);
        Mtw::Config config = recorderConfig();
        config.server.workers = 1; // the bystander shares the worker that waits
        config.server.decisionTimeoutMs = timeoutMs;
        Mtw::ModuleConfig authenticator;
        authenticator.name = u"fixture-async-auth"_s;
        authenticator.required = true;
        authenticator.config = {{u"delay_ms"_s, delayMs}, {u"wait_for_answer"_s, waitForAnswer}};
        config.modules.append(authenticator);
        m_server = std::make_unique<Mtw::Server>(config);
        QVERIFY(m_server->start());

        TestClient client;
        TestClient bystander;
        QVERIFY(client.open(url()));
        QVERIFY(bystander.open(url()));
        const bool late = delayMs > timeoutMs;
        if (late) {
            QTest::ignoreMessage(QtWarningMsg,
                                 QRegularExpression(u"fixture-async-auth authenticate\\(\\) did "
                                                    "not answer within %1 ms"_s.arg(timeoutMs)));
        }
        client.sendEnvelope(u"connect"_s,
                            u"c1"_s,
                            {{u"metadata"_s, QJsonObject{{u"token"_s, u"user:ada"_s}}}});
        client.sendEnvelope(u"ping"_s, u"after"_s);
        if (!waitForAnswer) {
            // The decision is out: the same worker answers the bystander before it is in.
            bystander.sendEnvelope(u"ping"_s, u"b1"_s);
            QCOMPARE(bystander.reply(u"b1"_s).value(u"type"_s).toString(), u"pong"_s);
            QVERIFY(client.reply(u"c1"_s, 0).isEmpty());
        }
        const QJsonObject reply = client.reply(u"c1"_s, 10000);
        if (!late) {
            QCOMPARE(reply.value(u"type"_s).toString(), u"ack"_s);
            QCOMPARE(reply.value(u"metadata"_s).toObject().value(u"user_id"_s).toString(),
                     u"ada"_s);
            // The ping sent after the connect waited for the decision and came second.
            const QJsonObject pong = client.reply(u"after"_s);
            QCOMPARE(pong.value(u"type"_s).toString(), u"pong"_s);
            QVERIFY(client.received.indexOf(reply) < client.received.indexOf(pong));
        } else {
            verifyError(reply, u"c1"_s, 401, u"authentication failed"_s);
            QVERIFY(client.waitClosed());
            QCOMPARE(client.closeCode, 4001);
        }
        QTRY_COMPARE_WITH_TIMEOUT(recorded(u"async-auth.answers"_s),
                                  QStringList{client.connId + u':' + answer},
                                  10000);
    }

    void requestAction()
    {
        TestClient client;
        QVERIFY(client.open(url()));
        client.sendEnvelope(u"request"_s,
                            u"q1"_s,
                            {{u"metadata"_s, QJsonObject{{u"action"_s, u"whoami"_s}}}});
        const QJsonObject reply = client.reply(u"q1"_s);
        QCOMPARE(reply.value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(payloadData(reply),
                 QJsonObject({{u"conn_id"_s, client.connId},
                              {u"remote"_s, u"127.0.0.1"_s},
                              {u"module"_s, u"fixture-recorder"_s}}));

        client.sendEnvelope(u"request"_s,
                            u"q2"_s,
                            {{u"metadata"_s, QJsonObject{{u"action"_s, u"nope"_s}}}});
        verifyError(client.reply(u"q2"_s), u"q2"_s, 404, u"unknown action 'nope'"_s);
    }

    void handleSendTo()
    {
        TestClient client;
        TestClient other;
        QVERIFY(client.open(url()));
        QVERIFY(other.open(url()));
        const Mtw::Message message =
            Mtw::Message::create(Mtw::MessageType::Event, Mtw::Payload::fromText(u"just you"_s));
        QVERIFY(m_server->handle().sendTo(client.connId, message));
        QTRY_COMPARE(client.ofType(u"event"_s).size(), 1);
        QCOMPARE(client.ofType(u"event"_s).constFirst().value(u"id"_s).toString(), message.id);
        QCOMPARE(payloadText(client.ofType(u"event"_s).constFirst()), u"just you"_s);
        QVERIFY(!m_server->handle().sendTo(u"01NOSUCHCONNECTION0000000"_s, message));
        // A round trip on the other client: had it got the event, it would have arrived first.
        QCOMPARE(subscribe(other, u"s1"_s, u"room.5"_s).value(u"type"_s).toString(), u"response"_s);
        QCOMPARE(other.ofType(u"event"_s).size(), 0);
    }

    void handlePublish()
    {
        TestClient first;
        TestClient second;
        QVERIFY(first.open(url()));
        QVERIFY(second.open(url()));
        subscribe(first, u"s1"_s, u"news"_s);
        subscribe(second, u"s2"_s, u"news"_s);
        const auto recipients = m_server->handle().publish(
            u"news"_s,
            Mtw::Message::create(Mtw::MessageType::Event, Mtw::Payload::fromText(u"breaking"_s)));
        QVERIFY(recipients);
        QCOMPARE(*recipients, 2);
        for (TestClient *client : {&first, &second}) {
            QTRY_COMPARE(client->ofType(u"event"_s, u"news"_s).size(), 1);
            const QJsonObject received = client->ofType(u"event"_s, u"news"_s).constFirst();
            QCOMPARE(payloadText(received), u"breaking"_s);
            QCOMPARE(received.value(u"metadata"_s).toObject().value(u"from"_s).toString(),
                     u"server"_s);
        }
        const auto missing =
            m_server->handle().publish(u"nobody.here"_s,
                                       Mtw::Message::create(Mtw::MessageType::Event));
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, 404);
    }
};

QTEST_MAIN(tst_Hooks)
#include "tst_hooks.moc"
