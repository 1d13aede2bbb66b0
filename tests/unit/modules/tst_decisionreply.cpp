// SPDX-License-Identifier: MIT
// AuthReply, FilterReply and RequestReply over DecisionReplyPrivate: what each answer becomes,
// the first answer wins, answers after cancel() are ignored, answers from other threads, copies
// of a handle, and that nothing thrown while handling an answer reaches the module.
#include "modules/decisionreply_p.h"

#include <QMutex>
#include <QRegularExpression>
#include <QTest>
#include <QThread>

#include <stdexcept>

using namespace Mtw;
using namespace Mtw::Internal;
using namespace Qt::StringLiterals;

namespace {

// Collects what onAnswer receives; thread-safe.
struct Recorder
{
    QMutex mutex;
    QList<DecisionAnswer> answers;
    QList<QThread *> threads;

    std::function<void(DecisionAnswer)> callback()
    {
        return [this](DecisionAnswer answer) {
            QMutexLocker lock(&mutex);
            answers.append(std::move(answer));
            threads.append(QThread::currentThread());
        };
    }
    qsizetype count()
    {
        QMutexLocker lock(&mutex);
        return answers.size();
    }
};

Message message(const QString &text)
{
    Message m = Message::create(MessageType::Publish, Payload::fromText(text));
    m.channel = u"room"_s;
    return m;
}

} // namespace

class tst_DecisionReply : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void authAnswers()
    {
        Recorder recorder;
        Identity identity;
        identity.setUserId(u"ada"_s);
        identity.setRoles({u"admin"_s});
        AuthReply(std::make_shared<DecisionReplyPrivate>(recorder.callback())).accept(identity);
        QCOMPARE(recorder.count(), 1);
        const Identity *accepted = std::get_if<Identity>(&recorder.answers.at(0));
        QVERIFY(accepted);
        QCOMPARE(accepted->userId(), u"ada"_s);
        QCOMPARE(accepted->roles(), QStringList{u"admin"_s});
    }

    // An authenticator's refusal keeps a 4xx/5xx code and is a 401 otherwise; message and detail
    // are kept as they are.
    void authRejectCode_data()
    {
        QTest::addColumn<int>("given");
        QTest::addColumn<int>("code");
        QTest::newRow("401") << 401 << 401;
        QTest::newRow("403") << 403 << 403;
        QTest::newRow("503: the backend is down") << 503 << 503;
        QTest::newRow("0: no code") << 0 << 401;
        QTest::newRow("200: not an error") << 200 << 401;
        QTest::newRow("600") << 600 << 401;
    }

    void authRejectCode()
    {
        QFETCH(int, given);
        QFETCH(int, code);
        Recorder recorder;
        AuthReply(std::make_shared<DecisionReplyPrivate>(recorder.callback()))
            .reject({given, u"token expired"_s, u"exp 1700000000 < now"_s});
        QCOMPARE(recorder.count(), 1);
        const Error *error = std::get_if<Error>(&recorder.answers.at(0));
        QVERIFY(error);
        QCOMPARE(*error, (Error{code, u"token expired"_s, u"exp 1700000000 < now"_s}));
    }

    void filterAnswers_data()
    {
        QTest::addColumn<QString>("how");
        QTest::newRow("accept") << u"accept"_s;
        QTest::newRow("accept transformed") << u"transform"_s;
        QTest::newRow("handled") << u"handled"_s;
        QTest::newRow("reject") << u"reject"_s;
    }

    void filterAnswers()
    {
        QFETCH(QString, how);
        Recorder recorder;
        const FilterReply reply(std::make_shared<DecisionReplyPrivate>(recorder.callback()));
        const Message transformed = message(u"LOUD"_s);
        if (how == u"accept"_s)
            reply.accept();
        else if (how == u"transform"_s)
            reply.accept(transformed);
        else if (how == u"handled"_s)
            reply.handled(QJsonValue(42));
        else
            reply.reject({403, u"closed"_s});
        QCOMPARE(recorder.count(), 1);
        const DecisionAnswer &answer = recorder.answers.at(0);
        if (how == u"reject"_s) {
            QVERIFY(std::holds_alternative<Error>(answer));
            QCOMPARE(std::get<Error>(answer), (Error{403, u"closed"_s}));
            return;
        }
        const FilterDecision *decision = std::get_if<FilterDecision>(&answer);
        QVERIFY(decision);
        QCOMPARE(decision->action,
                 how == u"handled"_s ? FilterDecision::Action::Handled
                                     : FilterDecision::Action::Accept);
        QCOMPARE(decision->transformed.has_value(), how == u"transform"_s);
        if (decision->transformed)
            QCOMPARE(*decision->transformed, transformed);
        QCOMPARE(decision->response, how == u"handled"_s ? QJsonValue(42) : QJsonValue());
    }

    void requestAnswers()
    {
        Recorder recorder;
        RequestReply(std::make_shared<DecisionReplyPrivate>(recorder.callback()))
            .respond(QJsonObject{{u"value"_s, 7}});
        RequestReply(std::make_shared<DecisionReplyPrivate>(recorder.callback()))
            .fail({404, u"no such room"_s});
        QCOMPARE(recorder.count(), 2);
        QCOMPARE(std::get<QJsonValue>(recorder.answers.at(0)),
                 QJsonValue(QJsonObject{{u"value"_s, 7}}));
        QCOMPARE(std::get<Error>(recorder.answers.at(1)), (Error{404, u"no such room"_s}));
    }

    void firstAnswerWins()
    {
        Recorder recorder;
        const auto d = std::make_shared<DecisionReplyPrivate>(recorder.callback());
        const FilterReply reply(d);
        QVERIFY(reply.isPending());
        reply.reject({403, u"first"_s});
        QVERIFY(!reply.isPending());
        reply.accept();
        reply.handled();
        QVERIFY(!d->answer(QJsonValue(1)));
        QVERIFY(!d->cancel()); // answered before the deadline
        QCOMPARE(recorder.count(), 1);
        QCOMPARE(std::get<Error>(recorder.answers.at(0)).message, u"first"_s);
    }

    void answerAfterCancelIsIgnored()
    {
        Recorder recorder;
        const auto d = std::make_shared<DecisionReplyPrivate>(recorder.callback());
        const RequestReply reply(d);
        QVERIFY(d->cancel());
        QVERIFY(!reply.isPending());
        reply.respond(QJsonValue(u"too late"_s));
        reply.fail({500, u"too late"_s});
        QVERIFY(!d->answer(QJsonValue(1)));
        QVERIFY(!d->cancel());
        QCOMPARE(recorder.count(), 0);
    }

    // Copies share one decision: whichever copy answers first, the others see it answered.
    void copiesShareTheDecision()
    {
        Recorder recorder;
        const AuthReply original(std::make_shared<DecisionReplyPrivate>(recorder.callback()));
        const AuthReply copy = original;
        AuthReply assigned(std::make_shared<DecisionReplyPrivate>(recorder.callback()));
        assigned = copy;
        Identity bob;
        bob.setUserId(u"bob"_s);
        assigned.accept(bob);
        QVERIFY(!original.isPending());
        QVERIFY(!copy.isPending());
        original.reject({401, u"ignored"_s});
        copy.accept(Identity());
        QCOMPARE(recorder.count(), 1);
        QCOMPARE(std::get<Identity>(recorder.answers.at(0)).userId(), u"bob"_s);
    }

    // A module keeps the handle and answers from a thread of its own: onAnswer runs there.
    void answerFromAnotherThread()
    {
        Recorder recorder;
        const FilterReply reply(std::make_shared<DecisionReplyPrivate>(recorder.callback()));
        std::unique_ptr<QThread> thread(QThread::create([reply] { reply.handled(u"done"_s); }));
        thread->start();
        QVERIFY(thread->wait(10000));
        QVERIFY(!reply.isPending());
        QCOMPARE(recorder.count(), 1);
        QCOMPARE(recorder.threads.at(0), thread.get());
        QCOMPARE(std::get<FilterDecision>(recorder.answers.at(0)).response, QJsonValue(u"done"_s));
    }

    // Many threads answer one decision at once (and the server cancels): exactly one answer, or
    // the cancel, wins.
    void racingAnswers()
    {
        for (int round = 0; round < 50; ++round) {
            Recorder recorder;
            const auto d = std::make_shared<DecisionReplyPrivate>(recorder.callback());
            const AuthReply reply(d);
            std::vector<std::unique_ptr<QThread>> threads;
            for (int i = 0; i < 4; ++i) {
                threads.emplace_back(QThread::create([reply, i] {
                    Identity identity;
                    identity.setUserId(QString::number(i));
                    reply.accept(identity);
                }));
            }
            for (const auto &thread : threads)
                thread->start();
            const bool cancelled = d->cancel();
            for (const auto &thread : threads)
                QVERIFY(thread->wait(10000));
            QCOMPARE(recorder.count(), cancelled ? 0 : 1);
            QVERIFY(!reply.isPending());
        }
    }

    // The callback, and what it captured, is released once the decision is settled, even while
    // a module still holds the handle.
    void callbackReleasedWhenSettled_data()
    {
        QTest::addColumn<bool>("answer");
        QTest::newRow("answered") << true;
        QTest::newRow("cancelled") << false;
    }

    void callbackReleasedWhenSettled()
    {
        QFETCH(bool, answer);
        const auto captured = std::make_shared<int>(0);
        const auto d = std::make_shared<DecisionReplyPrivate>([captured](DecisionAnswer) {});
        const RequestReply kept(d);
        QCOMPARE(captured.use_count(), 2);
        if (answer)
            kept.respond(QJsonValue(1));
        else
            d->cancel();
        QCOMPARE(captured.use_count(), 1);
    }

    // Whatever the server does with an answer, no exception reaches the module that answered.
    void throwingCallbackStaysInTheServer()
    {
        const auto d = std::make_shared<DecisionReplyPrivate>(
            [](DecisionAnswer) { throw std::runtime_error("the worker is gone"); });
        QTest::ignoreMessage(
            QtCriticalMsg,
            QRegularExpression(u"handling a module's answer threw.*the worker is gone"_s));
        const FilterReply reply(d);
        reply.accept();
        QVERIFY(!reply.isPending());
    }
};

QTEST_GUILESS_MAIN(tst_DecisionReply)
#include "tst_decisionreply.moc"
