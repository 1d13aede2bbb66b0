// SPDX-License-Identifier: MIT
#include "modules/decisionreply_p.h"

#include <QLoggingCategory>

#include <exception>

namespace Mtw {

namespace Internal {

Q_LOGGING_CATEGORY(lcDecisions, "mtw.modules.decisions", QtInfoMsg)

DecisionReplyPrivate::DecisionReplyPrivate(std::function<void(DecisionAnswer)> onAnswer)
    : m_onAnswer(std::move(onAnswer))
{ }

bool DecisionReplyPrivate::answer(DecisionAnswer answer)
{
    if (m_done.exchange(true, std::memory_order_acq_rel))
        return false;
    const std::function<void(DecisionAnswer)> onAnswer = std::move(m_onAnswer);
    m_onAnswer = nullptr;
    if (!onAnswer)
        return true;
    // The caller is module code: nothing the server does with the answer may throw into it.
    try {
        onAnswer(std::move(answer));
    } catch (const std::exception &e) {
        qCCritical(lcDecisions) << "handling a module's answer threw:" << e.what();
    } catch (...) {
        qCCritical(lcDecisions) << "handling a module's answer threw an exception";
    }
    return true;
}

bool DecisionReplyPrivate::cancel()
{
    if (m_done.exchange(true, std::memory_order_acq_rel))
        return false;
    m_onAnswer = nullptr;
    return true;
}

bool DecisionReplyPrivate::isPending() const
{
    return !m_done.load(std::memory_order_acquire);
}

} // namespace Internal

namespace {

// An authenticator's refusal reaches the client as an error with the module's code when it is
// a client or server error code (4xx, 5xx), and as 401 otherwise.
Error authRefusal(const Error &error)
{
    Error refusal = error;
    if (refusal.code < 400 || refusal.code > 599)
        refusal.code = 401;
    return refusal;
}

} // namespace

AuthReply::AuthReply(std::shared_ptr<Internal::DecisionReplyPrivate> dd)
    : d(std::move(dd))
{ }

void AuthReply::accept(const Identity &identity) const
{
    d->answer(identity);
}

void AuthReply::reject(const Error &error) const
{
    d->answer(authRefusal(error));
}

bool AuthReply::isPending() const
{
    return d->isPending();
}

FilterReply::FilterReply(std::shared_ptr<Internal::DecisionReplyPrivate> dd)
    : d(std::move(dd))
{ }

void FilterReply::accept() const
{
    d->answer(Internal::FilterDecision{});
}

void FilterReply::accept(const Message &transformed) const
{
    d->answer(Internal::FilterDecision{Internal::FilterDecision::Action::Accept, transformed, {}});
}

void FilterReply::reject(const Error &error) const
{
    d->answer(error);
}

void FilterReply::handled(const QJsonValue &response) const
{
    d->answer(Internal::FilterDecision{Internal::FilterDecision::Action::Handled,
                                       std::nullopt,
                                       response});
}

bool FilterReply::isPending() const
{
    return d->isPending();
}

RequestReply::RequestReply(std::shared_ptr<Internal::DecisionReplyPrivate> dd)
    : d(std::move(dd))
{ }

void RequestReply::respond(const QJsonValue &data) const
{
    d->answer(data);
}

void RequestReply::fail(const Error &error) const
{
    d->answer(error);
}

bool RequestReply::isPending() const
{
    return d->isPending();
}

} // namespace Mtw
