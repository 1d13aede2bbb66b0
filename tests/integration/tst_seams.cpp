// SPDX-License-Identifier: MIT
// The transport's seams for the issues that build on it (issue 10): an HTTP route added from
// outside the protocol, answering plainly or keeping the socket to stream. (The cluster broker's
// seam, IBroker, is tested against a real Redis: plugins/store-redis.)
#include "server/serverextensions.h"
#include "testclient.h"
#include "transport/clientsocket.h"

#include <mtw/server.h>

#include <QJsonArray>
#include <QMutex>
#include <QRegularExpression>
#include <QTimer>
#include <QtTest>

using namespace Qt::StringLiterals;

namespace {

Mtw::Config testConfig()
{
    Mtw::Config config;
    config.server.host = u"127.0.0.1"_s;
    config.server.port = 0;
    config.server.workers = 2;
    config.server.shutdownTimeout = 5;
    return config;
}

// payload.data of a reply (a response's data, an error's {code, message}).
QJsonObject payloadData(const QJsonObject &reply)
{
    return reply.value(u"payload"_s).toObject().value(u"data"_s).toObject();
}

// Answers later, from the test's (main) thread, the way a module waiting on a backend would: a
// request handler (`later`, answered after `delayMs`) and a filter that upper-cases Text
// publishes on `later.*` after `delayMs`.
class LateModule : public QObject,
                   public Mtw::IModule,
                   public Mtw::IRequestHandler,
                   public Mtw::IMessageFilter
{
public:
    explicit LateModule(int delayMs)
        : m_delayMs(delayMs)
    { }

    static Mtw::ModuleMetadata metadata()
    {
        Mtw::ModuleMetadata metadata;
        metadata.setId(u"late"_s);
        metadata.setName(u"Late"_s);
        metadata.setVersion(u"1.0.0"_s);
        metadata.setKind(u"service"_s);
        return metadata;
    }

    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        context.registerRequestHandler(u"later"_s, this);
        context.registerMessageFilter(this);
        return {};
    }

    void
    handleRequest(const Mtw::ClientInfo &, const Mtw::Message &, Mtw::RequestReply reply) override
    {
        later([reply] { reply.respond(QJsonObject{{u"late"_s, true}}); });
    }

    void beforeMessage(const Mtw::ClientInfo &,
                       const Mtw::Message &message,
                       Mtw::FilterReply reply) override
    {
        if (message.type != Mtw::MessageType::Publish || !message.channel.startsWith(u"later."_s)) {
            reply.accept();
            return;
        }
        later([reply, message] {
            Mtw::Message loud = message;
            loud.payload = Mtw::Payload::fromText(message.payload.text.toUpper());
            reply.accept(loud);
        });
    }

private:
    void later(std::function<void()> answer)
    {
        // From an I/O thread into this object's (the main) thread, then after the delay.
        QMetaObject::invokeMethod(
            this,
            [this, answer = std::move(answer)] { QTimer::singleShot(m_delayMs, this, answer); },
            Qt::QueuedConnection);
    }

    const int m_delayMs;
};

} // namespace

class tst_Seams : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void routeAddedFromOutside();
    void routeKeepsTheSocketToStream();
    void builtinPathsCannotBeTaken();
    void modulesAnswerLater_data();
    void modulesAnswerLater();
};

// A route runs on whichever worker accepted the connection: several requests reach both.
void tst_Seams::routeAddedFromOutside()
{
    Mtw::Server server(testConfig());
    QAtomicInt calls = 0;
    auto &routes = Mtw::Internal::serverExtensions(server).routes;
    QVERIFY(routes.add("/hello",
                       [&calls](Mtw::Internal::HttpExchange &exchange) {
                           calls.fetchAndAddRelaxed(1);
                           exchange.respond(200, "hello " + exchange.head().target + '\n');
                       },
                       {"GET", "POST"}));
    QVERIFY(!routes.add("/hello", [](Mtw::Internal::HttpExchange &) {})); // the first stands
    QVERIFY(server.start());

    for (int i = 0; i < 4; ++i) {
        const QByteArray response =
            rawHttp(server.port(), "GET /hello?n=" + QByteArray::number(i) + " HTTP/1.1\r\n\r\n");
        QVERIFY2(response.startsWith("HTTP/1.1 200 OK\r\n"), response.constData());
        QVERIFY2(response.endsWith("\r\n\r\nhello /hello?n=" + QByteArray::number(i) + '\n'),
                 response.constData());
    }
    const QByteArray post =
        rawHttp(server.port(), "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    QVERIFY2(post.startsWith("HTTP/1.1 200 OK\r\n"), post.constData());
    const QByteArray put = rawHttp(server.port(), "PUT /hello HTTP/1.1\r\n\r\n");
    QVERIFY2(put.startsWith("HTTP/1.1 405 "), put.constData());
    QVERIFY2(put.contains("\r\nAllow: GET, POST\r\n"), put.constData());
    QCOMPARE(calls.loadRelaxed(), 5);
    // The protocol is untouched by the route.
    TestClient client;
    QVERIFY(client.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()))));
}

// What Server-Sent Events need: the route takes the socket and writes as it pleases, later.
void tst_Seams::routeKeepsTheSocketToStream()
{
    Mtw::Server server(testConfig());
    Mtw::Internal::serverExtensions(server).routes.add(
        "/stream",
        [](Mtw::Internal::HttpExchange &exchange) {
            QTcpSocket *socket = exchange.take()->io();
            QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
            socket->write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                          "data: one\n\n");
            // Later, from the worker's event loop: the front door let go of the socket.
            QTimer::singleShot(50, socket, [socket] {
                socket->write("data: two\n\n");
                socket->disconnectFromHost();
            });
        });
    QVERIFY(server.start());
    const QByteArray response = rawHttp(server.port(), "GET /stream HTTP/1.1\r\n\r\n", 10000);
    QVERIFY2(response.endsWith("\r\n\r\ndata: one\n\ndata: two\n\n"), response.constData());
}

void tst_Seams::builtinPathsCannotBeTaken()
{
    Mtw::Server server(testConfig());
    auto &routes = Mtw::Internal::serverExtensions(server).routes;
    routes.add("/status", [](Mtw::Internal::HttpExchange &exchange) {
        exchange.respond(500, "taken over\n");
    });
    routes.add("/ws", [](Mtw::Internal::HttpExchange &exchange) {
        exchange.respond(500, "taken over\n");
    });
    QTest::ignoreMessage(QtWarningMsg, "HTTP route /status is a built-in endpoint: not added");
    QTest::ignoreMessage(QtWarningMsg, "HTTP route /ws is a built-in endpoint: not added");
    QVERIFY(server.start());
    const QByteArray status = rawHttp(server.port(), "GET /status HTTP/1.1\r\n\r\n");
    QVERIFY2(status.endsWith("\r\n\r\nok"), status.constData());
    TestClient client;
    QVERIFY(client.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()))));
}

void tst_Seams::modulesAnswerLater_data()
{
    QTest::addColumn<int>("delayMs");
    QTest::addColumn<int>("timeoutMs");
    QTest::newRow("in time") << 300 << 10000;
    QTest::newRow("too late") << 2000 << 100;
}

// A request handler and a filter that answer after their call returned, from another thread:
// in time their answers count (the transformed publish is what subscribers get, and the
// publisher's next message waits behind it), too late the client gets 504 and the server goes on.
void tst_Seams::modulesAnswerLater()
{
    QFETCH(int, delayMs);
    QFETCH(int, timeoutMs);
    const bool late = delayMs > timeoutMs;
    Mtw::Config config = testConfig();
    config.server.decisionTimeoutMs = timeoutMs;
    Mtw::Server server(config);
    server.addModule(std::make_shared<LateModule>(delayMs), LateModule::metadata());
    QVERIFY(server.start());
    const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
    TestClient subscriber;
    TestClient client;
    QVERIFY(subscriber.open(url));
    QVERIFY(client.open(url));
    subscriber.sendEnvelope(u"subscribe"_s, u"s"_s, {{u"channel"_s, u"later.x"_s}});
    QVERIFY(!subscriber.reply(u"s"_s, 10000).isEmpty());
    if (late) {
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(u"module late handleRequest\\(\\) did not answer"_s));
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(u"module late beforeMessage\\(\\) did not answer"_s));
    }

    client.sendEnvelope(u"request"_s,
                        u"r1"_s,
                        {{u"metadata"_s, QJsonObject{{u"action"_s, u"later"_s}}}});
    const QJsonObject answer = client.reply(u"r1"_s, 10000);
    client.sendEnvelope(
        u"publish"_s,
        u"p1"_s,
        {{u"channel"_s, u"later.x"_s},
         {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"quiet"_s}}}});
    client.sendEnvelope(u"ping"_s, u"after"_s);
    const QJsonObject published = client.reply(u"p1"_s, 10000);
    const QJsonObject pong = client.reply(u"after"_s, 10000);
    QCOMPARE(pong.value(u"type"_s).toString(), u"pong"_s);
    QVERIFY(client.received.indexOf(published) < client.received.indexOf(pong));
    if (late) {
        QCOMPARE(answer.value(u"type"_s).toString(), u"error"_s);
        QCOMPARE(payloadData(answer).value(u"code"_s).toInt(), 504);
        QCOMPARE(payloadData(published).value(u"code"_s).toInt(), 504);
        QVERIFY(subscriber.ofType(u"publish"_s).isEmpty());
    } else {
        QCOMPARE(payloadData(answer), (QJsonObject{{u"late"_s, true}}));
        QCOMPARE(published.value(u"type"_s).toString(), u"response"_s);
        QTRY_COMPARE(subscriber.ofType(u"publish"_s).size(), 1);
        QCOMPARE(subscriber.ofType(u"publish"_s)
                     .constFirst()
                     .value(u"payload"_s)
                     .toObject()
                     .value(u"data"_s)
                     .toString(),
                 u"QUIET"_s);
    }
}

QTEST_MAIN(tst_Seams)
#include "tst_seams.moc"
