// SPDX-License-Identifier: MIT
// ModuleCalls, the waiting half: one decision asked of a module, answered during the call or
// later from any thread, or given up at server.decision_timeout_ms.
#include "transport/connection.h"
#include "transport/modulecalls.h"
#include "transport/modulecalls_p.h"
#include "transport/outbound.h"
#include "transport/workerstate.h"

#include <QMutex>
#include <QThread>
#include <QTimer>

namespace Mtw::Internal {

// Where answers given from other threads are posted. The worker's ModuleCalls clears `target`
// as it goes, under the mutex, so a module answering after the server stopped posts nothing.
struct ModuleCalls::Mailbox
{
    QMutex mutex;
    QObject *target = nullptr;
    const QThread *thread = nullptr;
};

ModuleCalls::ModuleCalls(ServerContext &context, Outbound &outbound, QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_outbound(outbound)
    , m_mailbox(std::make_shared<Mailbox>())
{
    m_mailbox->target = this;
    m_mailbox->thread = thread();
}

ModuleCalls::~ModuleCalls()
{
    QMutexLocker lock(&m_mailbox->mutex);
    m_mailbox->target = nullptr;
}

void ModuleCalls::ask(Connection &connection,
                      bool holdsConnection,
                      const QString &owner,
                      const char *what,
                      const Call &call,
                      Then then)
{
    // Timed from the question to the answer (or the deadline), by kind.
    const DecisionKind kind = qstrcmp(what, "authenticate()") == 0 ? DecisionKind::Authenticate
        : qstrcmp(what, "beforeMessage()") == 0                    ? DecisionKind::Filter
                                                                   : DecisionKind::Request;
    then = [next = std::move(then),
            metrics = &m_outbound.metrics(),
            kind,
            started = std::chrono::steady_clock::now()](Connection &current, Verdict verdict) {
        metrics->decisionDuration[size_t(kind)].observe(std::chrono::steady_clock::now() - started);
        if (verdict.outcome == Outcome::TimedOut)
            metrics->decisionTimeouts[size_t(kind)].add();
        next(current, std::move(verdict));
    };
    auto pending = std::make_shared<PendingDecision>();
    const std::shared_ptr<Mailbox> mailbox = m_mailbox;
    auto reply = std::make_shared<DecisionReplyPrivate>([pending, mailbox](DecisionAnswer answer) {
        if (QThread::currentThread() == mailbox->thread && pending->inCall) {
            pending->inlineAnswer = std::move(answer); // answered before returning: go on at once
            return;
        }
        QMutexLocker lock(&mailbox->mutex);
        if (!mailbox->target)
            return;
        QMetaObject::invokeMethod(
            mailbox->target,
            [pending, answer = std::move(answer)]() mutable {
                if (pending->finish)
                    pending->finish(std::move(answer), false);
            },
            Qt::QueuedConnection);
    });
    const bool ok = guarded(owner, what, [&] { call(reply); });
    pending->inCall = false;
    if (!ok) {
        reply->cancel();
        then(connection, Verdict{Outcome::Failed, std::nullopt});
        return;
    }
    if (pending->inlineAnswer) {
        then(connection, Verdict{Outcome::Answered, std::move(pending->inlineAnswer)});
        return;
    }
    waitForAnswer(connection,
                  holdsConnection,
                  owner,
                  what,
                  std::move(reply),
                  pending,
                  std::move(then));
}

// The call returned without an answer: it comes later, from another thread or a later event,
// or the deadline (which starts now) passes first.
void ModuleCalls::waitForAnswer(Connection &connection,
                                bool holdsConnection,
                                const QString &owner,
                                const char *what,
                                std::shared_ptr<DecisionReplyPrivate> reply,
                                std::shared_ptr<PendingDecision> pending,
                                Then then)
{
    if (holdsConnection)
        connection.deciding = true;
    const int timeoutMs = m_outbound.state().config().server.decisionTimeoutMs;
    auto *deadline = new QTimer(this);
    deadline->setSingleShot(true);
    pending->finish = [this, key = connection.key, holdsConnection, then, deadline](
                          std::optional<DecisionAnswer> answer,
                          bool timedOut) {
        deadline->deleteLater();
        Connection *current = m_find ? m_find(key) : nullptr;
        if (!current)
            return; // the client left meanwhile
        if (holdsConnection)
            current->deciding = false;
        then(*current,
             timedOut ? Verdict{Outcome::TimedOut, std::nullopt}
                      : Verdict{Outcome::Answered, std::move(answer)});
        if (holdsConnection && !current->deciding && m_resume)
            m_resume(*current);
    };
    connect(deadline, &QTimer::timeout, this, [pending, reply, owner, what, timeoutMs] {
        if (!reply->cancel())
            return; // answered just before: its posted answer finishes
        qCWarning(lcTransport).noquote()
            << "module" << owner << what << "did not answer within" << timeoutMs
            << "ms (server.decision_timeout_ms): treated as a reject";
        if (auto finish = std::exchange(pending->finish, nullptr))
            finish(std::nullopt, true);
    });
    deadline->start(timeoutMs);
}

} // namespace Mtw::Internal
