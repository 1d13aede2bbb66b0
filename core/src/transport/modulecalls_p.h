// SPDX-License-Identifier: MIT
// What the two halves of ModuleCalls share: the guard around every call into module code, and
// the state of a decision that is answered later.
#pragma once

#include "modules/decisionreply_p.h"
#include "transport/logging.h"
#include "transport/servercontext.h"

#include <QElapsedTimer>
#include <QString>

#include <functional>
#include <optional>

namespace Mtw::Internal {

// Runs one call into a module. False when it threw or blocked the worker longer than the
// decision budget (logged): a module that has to wait answers later through its reply.
template<typename Call>
bool guarded(const QString &owner, const char *what, Call &&call)
{
    QElapsedTimer timer;
    timer.start();
    try {
        call();
        if (timer.elapsed() <= DecisionBudgetMs)
            return true;
        qCWarning(lcTransport).noquote()
            << "module" << owner << what << "blocked its I/O thread for" << timer.elapsed()
            << "ms (budget" << DecisionBudgetMs
            << "ms): treated as a reject; answer later through the reply instead of blocking";
    } catch (const std::exception &e) {
        qCWarning(lcTransport).noquote() << "module" << owner << what << "threw:" << e.what();
    } catch (...) {
        qCWarning(lcTransport).noquote() << "module" << owner << what << "threw an exception";
    }
    return false;
}

// One pending decision's state, shared by the reply's callback, the deadline and the
// continuation.
struct PendingDecision
{
    bool inCall = true; // worker thread only
    std::optional<DecisionAnswer> inlineAnswer;
    std::function<void(std::optional<DecisionAnswer>, bool timedOut)> finish;
};

} // namespace Mtw::Internal
