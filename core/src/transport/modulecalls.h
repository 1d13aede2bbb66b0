// SPDX-License-Identifier: MIT
#pragma once

#include "modules/decisionreply_p.h"

#include <mtw/message.h>
#include <mtw/result.h>
#include <mtw/services.h>

#include <QObject>

#include <functional>
#include <memory>

class QNetworkRequest;

namespace Mtw::Internal {

struct Connection;
struct HttpRequestHead;
class Outbound;
class ServerContext;
struct PendingDecision;
struct Services;

// Where a worker calls into modules: authenticators, message filters, request handlers, raw
// frame handlers. A deciding service answers through a reply handle, during the call or later
// from any thread, within server.decision_timeout_ms; a late answer is a reject and is ignored
// when it comes. Every call is guarded: an exception, or a call that blocks the worker longer
// than the decision budget, is a reject too. While an authenticator or a filter has not
// answered, the connection's later messages wait (Connection::deciding, Protocol::resume).
// Worker thread only; the reply handles may be answered from any thread.
// What an authenticator reads of a request: its URL (http://<Host><target>, the query
// included) and its headers.
QNetworkRequest networkRequestOf(const HttpRequestHead &head);

class ModuleCalls : public QObject
{
    Q_OBJECT

public:
    ModuleCalls(ServerContext &context, Outbound &outbound, QObject *parent);
    ~ModuleCalls() override;

    // How a later answer finds its connection again (gone: the answer is dropped), and what
    // runs the messages that waited behind a decision.
    void setConnectionLookup(std::function<Connection *(quint64 key)> find);
    void setResume(std::function<void(Connection &)> resume);

    ClientInfo clientInfo(const Connection &connection) const;
    bool hasAuthenticators();
    bool hasFilters();
    // A token in the upgrade request: ?token= or Authorization: Bearer.
    QString upgradeToken(const Connection &connection) const;

    // The authenticators by priority until one accepts; on success the connection carries the
    // identity. `done` runs now or later, never when the connection is gone by then.
    using AuthDone = std::function<void(Connection &, const Result<void> &)>;
    void authenticate(Connection &connection, const QString &token, AuthDone done);
    // Error to the client (the module's code, 401 by default), then close 4001.
    void refuseAuthentication(Connection &connection, const Error &error, const QString &refId);

    // The filters by priority; `accepted` gets the message (as transformed) when every filter
    // accepted it. A reject or handled answers the client here and `accepted` never runs.
    using Accepted = std::function<void(Connection &, const Message &)>;
    void runFilters(Connection &connection, const Message &message, Accepted accepted);
    void runAfterFilters(const Connection &connection, const Message &message);
    // False when no module serves `action`; otherwise the reply comes now or later.
    bool handleRequest(Connection &connection, const QString &action, const Message &message);
    void handleRawFrame(Connection &connection, const QByteArray &payload);

private:
    enum class Outcome { Answered, Failed, TimedOut };
    struct Verdict
    {
        Outcome outcome = Outcome::Failed;
        std::optional<DecisionAnswer> answer; // Answered
    };
    using Call = std::function<void(std::shared_ptr<DecisionReplyPrivate>)>;
    using Then = std::function<void(Connection &, Verdict)>;
    struct Mailbox;
    struct AuthChain;
    struct FilterChain;

    // One decision: `call` hands the module its reply; `then` gets the verdict now (answered
    // during the call, or the call failed) or later (answered, or the deadline passed).
    // `holdsConnection`: the connection's next messages wait until `then` has run.
    void ask(Connection &connection,
             bool holdsConnection,
             const QString &owner,
             const char *what,
             const Call &call,
             Then then);
    void waitForAnswer(Connection &connection,
                       bool holdsConnection,
                       const QString &owner,
                       const char *what,
                       std::shared_ptr<DecisionReplyPrivate> reply,
                       std::shared_ptr<PendingDecision> pending,
                       Then then);
    void nextAuthenticator(Connection &connection, std::shared_ptr<AuthChain> chain, int index);
    void nextFilter(Connection &connection, std::shared_ptr<FilterChain> chain, int index);
    void answerRequest(Connection &connection,
                       const QString &action,
                       const QString &owner,
                       const QString &refId,
                       const Verdict &verdict);
    void
    reportFailure(const QString &connId, const QString &owner, const char *what, Outcome outcome);
    // The services as of the last registration: one atomic load per call while nothing
    // changes, and no reference count touched. Copy the pointer to keep the snapshot alive
    // across calls into modules (the next services() may replace it).
    const std::shared_ptr<const Services> &services();

    ServerContext &m_context;
    Outbound &m_outbound;
    std::shared_ptr<Mailbox> m_mailbox;
    std::function<Connection *(quint64)> m_find;
    std::function<void(Connection &)> m_resume;
    std::shared_ptr<const Services> m_services;
    quint64 m_servicesGeneration = 0;
};

} // namespace Mtw::Internal
