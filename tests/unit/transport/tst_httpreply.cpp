// SPDX-License-Identifier: MIT
// The error answers the HTTP routes share (transport/httpsession.h, httprequest.h): the JSON
// error body, an error code's status, a whole refusal on a socket and the CORS headers, byte for
// byte as the server API, the SSE stream and its client publish send them.
#include "transport/httprequest.h"
#include "transport/httpsession.h"

#include <QTest>

using namespace Mtw::Internal;

class tst_HttpReply : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void errorJson()
    {
        QCOMPARE(httpErrorJson(404, "no such channel"),
                 QByteArray("{\"code\":404,\"message\":\"no such channel\"}"));
        // The message is trimmed (a parser's text may end in a line break), quotes escaped.
        QCOMPARE(httpErrorJson(400, " say \"hi\"\n"),
                 QByteArray("{\"code\":400,\"message\":\"say \\\"hi\\\"\"}"));
    }

    void errorStatus_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<int>("status");
        QTest::newRow("400") << 400 << 400;
        QTest::newRow("422 is an HTTP status") << 422 << 422;
        QTest::newRow("599") << 599 << 599;
        QTest::newRow("399") << 399 << 500;
        QTest::newRow("600") << 600 << 500;
        QTest::newRow("a close code") << 4001 << 500;
        QTest::newRow("0") << 0 << 500;
    }
    void errorStatus()
    {
        QFETCH(int, code);
        QFETCH(int, status);
        QCOMPARE(httpErrorStatus(code), status);
    }

    void errorReply()
    {
        const QByteArray body = "{\"code\":4001,\"message\":\"no token\"}";
        QCOMPARE(httpErrorReply(500, 4001, "no token", "WWW-Authenticate: Bearer\r\n"),
                 "HTTP/1.1 500 Internal Server Error\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: "
                     + QByteArray::number(body.size())
                     + "\r\n"
                       "Connection: close\r\n"
                       "WWW-Authenticate: Bearer\r\n"
                       "\r\n"
                     + body);
        QCOMPARE(httpErrorReply(429, 429, "too many"),
                 httpReply(429, "application/json", httpErrorJson(429, "too many"), false));
    }

    void corsHeaders()
    {
        auto head =
            parseHttpRequestHead("GET /api/events HTTP/1.1\r\nOrigin: http://a.example\r\n\r\n");
        QVERIFY(head);
        QCOMPARE(head->corsHeaders(),
                 QByteArray("Access-Control-Allow-Origin: http://a.example\r\nVary: Origin\r\n"));
        head = parseHttpRequestHead("GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(head);
        QCOMPARE(head->corsHeaders(), QByteArray());
    }
};

QTEST_GUILESS_MAIN(tst_HttpReply)

#include "tst_httpreply.moc"
