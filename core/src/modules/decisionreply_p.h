// SPDX-License-Identifier: MIT
// The server's side of AuthReply, FilterReply and RequestReply (<mtw/services.h>): one pending
// decision, answered at most once, from any thread.
#pragma once

#include <mtw/message.h>
#include <mtw/result.h>
#include <mtw/services.h>

#include <QJsonValue>

#include <atomic>
#include <functional>
#include <optional>
#include <variant>

namespace Mtw::Internal {

// What FilterReply::accept(), accept(transformed) and handled(response) answer; a reject is the
// Error alternative of DecisionAnswer.
struct FilterDecision
{
    enum class Action {
        Accept,  // go on, with `transformed` instead of the message when it is set
        Handled, // the filter consumed it: the client gets `response` {response} with ref_id
    };
    Action action = Action::Accept;
    std::optional<Message> transformed; // Accept
    QJsonValue response;                // Handled
};

// One pending decision. The answer is a std::variant of what the three reply kinds carry.
using DecisionAnswer = std::variant<Identity /*auth accept*/,
                                    Error /*any reject/fail*/,
                                    FilterDecision /*filter accept/transform/handled*/,
                                    QJsonValue /*request respond*/>;

class DecisionReplyPrivate
{
public:
    explicit DecisionReplyPrivate(std::function<void(DecisionAnswer)> onAnswer);
    // Delivers the first answer to onAnswer (in the answering thread, at most once); false if
    // already answered or cancelled.
    bool answer(DecisionAnswer answer);
    // The server's deadline passed: later answers are ignored. False if it was answered first.
    bool cancel();
    bool isPending() const;

private:
    std::atomic<bool> m_done{false};
    // Touched only by the one call that sets m_done, and released by it: what the callback
    // captured does not live on in a handle a module keeps.
    std::function<void(DecisionAnswer)> m_onAnswer;
};

} // namespace Mtw::Internal
