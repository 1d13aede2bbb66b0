// SPDX-License-Identifier: MIT
// HttpRequestParser (transport/httpparser.cpp, over nodejs/http-parser): whole requests from the
// bytes of a connection, however TCP cuts them, one at a time, and its limits. httpHeadLength()
// (transport/httprequest.cpp): where the front door's head ends, as a plain search says.
#include "transport/httpparser.h"
#include "transport/httprequest.h"

#include <QRandomGenerator>
#include <QTest>

using Mtw::Internal::HttpRequestParser;
using State = HttpRequestParser::State;

class tst_HttpParser : public QObject
{
    Q_OBJECT

private:
    // Feeds `data` in pieces of `step` bytes, as a socket might deliver it; returns the bytes
    // not consumed (what belongs to the next request).
    static QByteArray feedInPieces(HttpRequestParser &parser, const QByteArray &data, int step)
    {
        QByteArray pending;
        for (qsizetype at = 0; at < data.size(); at += step) {
            pending += data.mid(at, step);
            pending.remove(0, parser.feed(pending));
            if (parser.state() != State::NeedMore)
                return pending + data.mid(at + step);
        }
        return pending;
    }

private Q_SLOTS:
    void contentLengthInEveryCut_data()
    {
        QTest::addColumn<int>("step");
        for (int step : {1, 2, 7, 64, 4096})
            QTest::newRow(qPrintable(QString::number(step))) << step;
    }
    void contentLengthInEveryCut()
    {
        QFETCH(int, step);
        HttpRequestParser parser(1000);
        const QByteArray request = "POST /api/publish?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: "
                                   "apikey k\r\nContent-Length: 11\r\n\r\n{\"a\": true}";
        QVERIFY(feedInPieces(parser, request, step).isEmpty());
        QCOMPARE(parser.state(), State::Complete);
        const auto &r = parser.request();
        QCOMPARE(r.head.method, QByteArray("POST"));
        QCOMPARE(r.head.path, QByteArray("/api/publish"));
        QCOMPARE(r.head.target, QByteArray("/api/publish?x=1"));
        QCOMPARE(r.head.version, QByteArray("HTTP/1.1"));
        QCOMPARE(r.head.header("authorization"), QByteArray("apikey k"));
        QCOMPARE(r.body, QByteArray("{\"a\": true}"));
        QVERIFY(r.keepAlive);
    }

    void chunkedAndPipelined()
    {
        HttpRequestParser parser(1000);
        const QByteArray first = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "4\r\n{\"x\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n";
        const QByteArray second =
            "POST /b HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
        QByteArray rest = feedInPieces(parser, first + second, 5);
        QCOMPARE(parser.state(), State::Complete);
        QCOMPARE(parser.request().body, QByteArray("{\"x\": 1}"));
        QCOMPARE(parser.request().head.path, QByteArray("/a"));
        // The second waits until the first is taken: one request at a time.
        QCOMPARE(parser.feed(rest), 0);
        parser.next();
        rest.remove(0, parser.feed(rest));
        QVERIFY(rest.isEmpty());
        QCOMPARE(parser.state(), State::Complete);
        QCOMPARE(parser.request().head.path, QByteArray("/b"));
        QCOMPARE(parser.request().body, QByteArray("{}"));
        QVERIFY(!parser.request().keepAlive);
    }

    void http10IsNotKeptAlive()
    {
        HttpRequestParser parser(1000);
        parser.feed("POST /a HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        QCOMPARE(parser.state(), State::Complete);
        QVERIFY(!parser.request().keepAlive);
    }

    void bodyLimitFromContentLength()
    {
        HttpRequestParser parser(10);
        // Refused as soon as the head says so, before any of the body arrives.
        parser.feed("POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\n");
        QCOMPARE(parser.state(), State::Failed);
        QCOMPARE(parser.errorStatus(), 413);
        QVERIFY(parser.errorText().contains("max_body_size"));
    }

    void bodyLimitFromChunks()
    {
        HttpRequestParser parser(10);
        parser.feed("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n");
        QCOMPARE(parser.state(), State::NeedMore);
        QVERIFY(parser.inProgress());
        parser.feed("6\r\nghijkl\r\n");
        QCOMPARE(parser.state(), State::Failed);
        QCOMPARE(parser.errorStatus(), 413);
    }

    void headLimit()
    {
        HttpRequestParser parser(10);
        QByteArray head = "GET /a HTTP/1.1\r\n";
        while (head.size() < 17 * 1024)
            head += "X-Filler: " + QByteArray(100, 'x') + "\r\n";
        parser.feed(head);
        QCOMPARE(parser.state(), State::Failed);
        QCOMPARE(parser.errorStatus(), 431);
    }

    void malformed_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::newRow("not HTTP") << QByteArray("HELLO THERE\r\n\r\n");
        QTest::newRow("bad chunk size")
            << QByteArray("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        QTest::newRow("bad content length")
            << QByteArray("POST /a HTTP/1.1\r\nContent-Length: ten\r\n\r\n");
        QTest::newRow("HTTP/2 preface") << QByteArray("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    }
    void malformed()
    {
        QFETCH(QByteArray, bytes);
        HttpRequestParser parser(1000);
        parser.feed(bytes);
        QCOMPARE(parser.state(), State::Failed);
        QCOMPARE(parser.errorStatus(), 400);
    }

    void expectContinueOnce()
    {
        HttpRequestParser parser(1000);
        parser.feed("POST /a HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
        QVERIFY(parser.takeContinue());
        QVERIFY(!parser.takeContinue());
        parser.feed("{}");
        QCOMPARE(parser.state(), State::Complete);
    }

    void headLength_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<qsizetype>("length");
        QTest::newRow("empty") << QByteArray() << qsizetype(-1);
        QTest::newRow("the end alone") << QByteArray("\r\n\r\n") << qsizetype(4);
        QTest::newRow("a head") << QByteArray("GET / HTTP/1.1\r\nHost: a\r\n\r\n") << qsizetype(27);
        QTest::newRow("bytes after it")
            << QByteArray("GET / HTTP/1.1\r\n\r\nframe") << qsizetype(18);
        QTest::newRow("a CR before the end") << QByteArray("a\r\r\n\r\n") << qsizetype(6);
        QTest::newRow("cut in the end") << QByteArray("GET / HTTP/1.1\r\n\r") << qsizetype(-1);
        QTest::newRow("LF only") << QByteArray("GET / HTTP/1.1\n\n") << qsizetype(-1);
        QTest::newRow("CR at the last byte") << QByteArray("abc\r") << qsizetype(-1);
    }
    void headLength()
    {
        QFETCH(QByteArray, data);
        QFETCH(qsizetype, length);
        QCOMPARE(Mtw::Internal::httpHeadLength(data), length);
    }
    // The same answer as a plain search for random bytes over a four-letter alphabet (many CRs
    // and LFs, many near misses).
    void headLengthAsAPlainSearch()
    {
        QRandomGenerator random(19);
        const char alphabet[] = {'\r', '\n', 'a', ' '};
        for (int round = 0; round < 2000; ++round) {
            QByteArray data(qsizetype(random.bounded(40)), Qt::Uninitialized);
            for (char &c : data)
                c = alphabet[random.bounded(4)];
            const qsizetype found = data.indexOf("\r\n\r\n");
            QCOMPARE(Mtw::Internal::httpHeadLength(data), found < 0 ? -1 : found + 4);
        }
    }

    void headOnlyForTheFrontDoor()
    {
        const auto head = HttpRequestParser::parseHead(
            "GET /ws?token=a HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        QVERIFY(head);
        QCOMPARE(head->path, QByteArray("/ws"));
        QVERIFY(head->isWebSocketUpgrade());
        // A POST's head, its body not there yet.
        QVERIFY(HttpRequestParser::parseHead("POST /api/x HTTP/1.1\r\nContent-Length: 5\r\n\r\n"));
        QVERIFY(!HttpRequestParser::parseHead("GET / HTTP/2.0\r\n\r\n"));
        QVERIFY(!HttpRequestParser::parseHead("nonsense\r\n\r\n"));
    }
};

QTEST_GUILESS_MAIN(tst_HttpParser)
#include "tst_httpparser.moc"
