// SPDX-License-Identifier: MIT
#include "transport/modulecalls.h"

#include "modules/modulehost.h"
#include "transport/connection.h"
#include "transport/httprequest.h"
#include "transport/logging.h"
#include "transport/modulecalls_p.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"
#include "transport/workerstate.h"

#include <QNetworkRequest>
#include <QUrl>
#include <QUrlQuery>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// Logs the server-only part of a module's Error; only `message` reaches the client.
void logDetail(const QString &owner, const char *what, const QString &connId, const Error &error)
{
    if (!error.detail.isEmpty()) {
        qCInfo(lcTransport).noquote() << "module" << owner << what << "for" << connId << "said"
                                      << error.code << error.message << "-" << error.detail;
    }
}

template<typename T>
const T *answerAs(const std::optional<DecisionAnswer> &answer)
{
    return answer ? std::get_if<T>(&*answer) : nullptr;
}

} // namespace

struct ModuleCalls::AuthChain
{
    std::shared_ptr<const Services> services;
    AuthRequest request;
    std::optional<Error> refusal; // the first one: what the client sees when nobody accepts
    AuthDone done;
};

struct ModuleCalls::FilterChain
{
    std::shared_ptr<const Services> services;
    ClientInfo client;
    Message message;
    Accepted accepted;
};

void ModuleCalls::setConnectionLookup(std::function<Connection *(quint64)> find)
{
    m_find = std::move(find);
}

void ModuleCalls::setResume(std::function<void(Connection &)> resume)
{
    m_resume = std::move(resume);
}

const std::shared_ptr<const Services> &ModuleCalls::services()
{
    if (!m_context.services)
        return m_services; // null: no module host
    const quint64 generation = m_context.services->generation();
    if (generation != m_servicesGeneration || !m_services) {
        m_services = m_context.services->snapshot();
        m_servicesGeneration = generation;
    }
    return m_services;
}

ClientInfo ModuleCalls::clientInfo(const Connection &connection) const
{
    ClientInfo info;
    info.setConnId(connection.connId);
    info.setRemoteAddress(connection.peerAddress);
    info.setRemotePort(connection.peerPort);
    info.setUserAgent(connection.userAgent);
    info.setConnectedAt(connection.connectedAt);
    info.setAuthenticated(connection.authenticated);
    info.setUserId(connection.userId);
    info.setRoles(connection.roles);
    return info;
}

bool ModuleCalls::hasAuthenticators()
{
    const auto &current = services();
    return current && !current->authenticators.isEmpty();
}

bool ModuleCalls::hasFilters()
{
    const auto &current = services();
    return current && !current->filters.isEmpty();
}

QNetworkRequest networkRequestOf(const HttpRequestHead &head)
{
    QUrl url(QLatin1String("http://") + QString::fromUtf8(head.header("host")));
    url.setPath(QString::fromUtf8(head.path));
    const qsizetype query = head.target.indexOf('?');
    if (query >= 0)
        url.setQuery(QString::fromUtf8(head.target.mid(query + 1)));
    QNetworkRequest request(url);
    for (const auto &[name, value] : head.headers)
        request.setRawHeader(name, value);
    return request;
}

namespace {

// The request that opened the connection: its WebSocket upgrade, or its plain HTTP request.
QNetworkRequest requestOf(const Connection &connection)
{
    if (!connection.upgradeHead.isEmpty()) {
        if (const auto head = parseHttpRequestHead(connection.upgradeHead))
            return networkRequestOf(*head);
    }
    return connection.httpRequest ? *connection.httpRequest : QNetworkRequest();
}

} // namespace

QString ModuleCalls::upgradeToken(const Connection &connection) const
{
    const QNetworkRequest request = requestOf(connection);
    const QString fromQuery =
        QUrlQuery(request.url()).queryItemValue(u"token"_s, QUrl::FullyDecoded);
    if (!fromQuery.isEmpty())
        return fromQuery;
    const QByteArray authorization = request.rawHeader("Authorization");
    if (authorization.startsWith("Bearer ") || authorization.startsWith("bearer "))
        return QString::fromUtf8(authorization.mid(7).trimmed());
    return {};
}

void ModuleCalls::reportFailure(const QString &connId,
                                const QString &owner,
                                const char *what,
                                Outcome outcome)
{
    ServerEvents *events = m_context.events;
    if (!events->isListened(&ServerEvents::error))
        return;
    const QString text = outcome == Outcome::TimedOut
        ? u"module '%1': %2 did not answer within %3 ms"_s.arg(owner, QLatin1String(what))
              .arg(m_outbound.state().config().server.decisionTimeoutMs)
        : u"module '%1': %2 threw or took longer than %3 ms"_s.arg(owner, QLatin1String(what))
              .arg(DecisionBudgetMs);
    Q_EMIT events->error(connId, Error{500, text});
}

void ModuleCalls::authenticate(Connection &connection, const QString &token, AuthDone done)
{
    auto chain = std::make_shared<AuthChain>();
    chain->services = services();
    chain->done = std::move(done);
    chain->request.setConnId(connection.connId);
    chain->request.setToken(token);
    chain->request.setRemoteAddress(connection.peerAddress);
    const QNetworkRequest upgrade = requestOf(connection);
    chain->request.setUrl(upgrade.url());
    QMap<QByteArray, QByteArray> headers;
    for (const QByteArray &name : upgrade.rawHeaderList())
        headers.insert(name.toLower(), upgrade.rawHeader(name));
    chain->request.setHeaders(headers);
    nextAuthenticator(connection, std::move(chain), 0);
}

// The first authenticator (by priority) that accepts the token wins; when none does, the
// client sees the first refusal.
void ModuleCalls::nextAuthenticator(Connection &connection,
                                    std::shared_ptr<AuthChain> chain,
                                    int index)
{
    if (!chain->services || index >= chain->services->authenticators.size()) {
        chain->done(
            connection,
            tl::unexpected(chain->refusal.value_or(Error{401, u"authentication failed"_s})));
        return;
    }
    const auto &ranked = chain->services->authenticators.at(index);
    const auto call = [&](std::shared_ptr<DecisionReplyPrivate> reply) {
        ranked.service->authenticate(chain->request, AuthReply(std::move(reply)));
    };
    ask(connection,
        true,
        ranked.owner,
        "authenticate()",
        call,
        [this, chain, index, owner = ranked.owner](Connection &current, Verdict verdict) {
            if (verdict.outcome != Outcome::Answered)
                reportFailure(current.connId, owner, "authenticate()", verdict.outcome);
            if (const Identity *identity = answerAs<Identity>(verdict.answer)) {
                current.authenticated = true;
                current.userId = identity->userId();
                current.roles = identity->roles();
                current.tokenExpiresAt = identity->expiresAt();
                chain->done(current, {});
                return;
            }
            const Error *error = answerAs<Error>(verdict.answer);
            if (error)
                logDetail(owner, "authenticate()", current.connId, *error);
            if (!chain->refusal)
                chain->refusal = error ? *error : Error{401, u"authentication failed"_s};
            nextAuthenticator(current, chain, index + 1);
        });
}

void ModuleCalls::refuseAuthentication(Connection &connection,
                                       const Error &error,
                                       const QString &refId)
{
    qCInfo(lcTransport).noquote() << "connection" << connection.connId
                                  << "refused: authentication failed:" << error.message;
    m_outbound.send(connection, Message::error(error.code, error.message, refId));
    m_outbound.close(connection,
                     QWebSocketProtocol::CloseCode(4001),
                     u"authentication failed"_s,
                     DisconnectReason::error(u"authentication failed"_s));
}

void ModuleCalls::runFilters(Connection &connection, const Message &message, Accepted accepted)
{
    auto chain = std::make_shared<FilterChain>();
    chain->services = services();
    chain->client = clientInfo(connection);
    chain->message = message;
    chain->accepted = std::move(accepted);
    nextFilter(connection, std::move(chain), 0);
}

void ModuleCalls::nextFilter(Connection &connection, std::shared_ptr<FilterChain> chain, int index)
{
    if (!chain->services || index >= chain->services->filters.size()) {
        chain->accepted(connection, chain->message);
        return;
    }
    const auto &ranked = chain->services->filters.at(index);
    const auto call = [&](std::shared_ptr<DecisionReplyPrivate> reply) {
        ranked.service->beforeMessage(chain->client, chain->message, FilterReply(std::move(reply)));
    };
    ask(connection,
        true,
        ranked.owner,
        "beforeMessage()",
        call,
        [this, chain, index, owner = ranked.owner](Connection &current, Verdict verdict) {
            const QString &id = chain->message.id;
            if (const Error *rejection = answerAs<Error>(verdict.answer)) {
                logDetail(owner, "beforeMessage()", current.connId, *rejection);
                m_outbound.send(current, Message::error(rejection->code, rejection->message, id));
                return;
            }
            const FilterDecision *decision = answerAs<FilterDecision>(verdict.answer);
            if (!decision) {
                m_outbound.send(
                    current,
                    verdict.outcome == Outcome::TimedOut
                        ? Message::error(504,
                                         u"message refused: a server module did not "
                                         "answer in time"_s,
                                         id)
                        : Message::error(500, u"message refused: a server module failed"_s, id));
                reportFailure(current.connId, owner, "beforeMessage()", verdict.outcome);
                return;
            }
            if (decision->action == FilterDecision::Action::Handled) {
                m_outbound.send(current, Message::response(id, decision->response));
                return;
            }
            if (decision->transformed) // later filters and the server see the module's version
                chain->message = *decision->transformed;
            nextFilter(current, chain, index + 1);
        });
}

void ModuleCalls::runAfterFilters(const Connection &connection, const Message &message)
{
    const auto keep = services();
    if (!keep || keep->filters.isEmpty())
        return;
    const ClientInfo client = clientInfo(connection);
    for (const auto &ranked : keep->filters)
        guarded(ranked.owner, "afterMessage()", [&] {
            ranked.service->afterMessage(client, message);
        });
}

bool ModuleCalls::handleRequest(Connection &connection,
                                const QString &action,
                                const Message &message)
{
    const auto keep = services();
    if (!keep)
        return false;
    const auto it = keep->requestHandlers.constFind(action);
    if (it == keep->requestHandlers.cend())
        return false;
    const ClientInfo client = clientInfo(connection);
    const auto call = [&](std::shared_ptr<DecisionReplyPrivate> reply) {
        it->service->handleRequest(client, message, RequestReply(std::move(reply)));
    };
    // Requests do not hold the connection: a slow backend delays its own answer only.
    ask(connection,
        false,
        it->owner,
        "handleRequest()",
        call,
        [this, keep, action, owner = it->owner, refId = message.id](Connection &current,
                                                                    Verdict verdict) {
            answerRequest(current, action, owner, refId, verdict);
        });
    return true;
}

void ModuleCalls::answerRequest(Connection &connection,
                                const QString &action,
                                const QString &owner,
                                const QString &refId,
                                const Verdict &verdict)
{
    if (const QJsonValue *data = answerAs<QJsonValue>(verdict.answer)) {
        m_outbound.send(connection, Message::response(refId, *data));
    } else if (const Error *error = answerAs<Error>(verdict.answer)) {
        logDetail(owner, "handleRequest()", connection.connId, *error);
        m_outbound.send(connection, Message::error(error->code, error->message, refId));
    } else {
        m_outbound.send(
            connection,
            verdict.outcome == Outcome::TimedOut
                ? Message::error(504,
                                 u"action '%1': its module did not answer in time"_s.arg(action),
                                 refId)
                : Message::error(500, u"action '%1' failed in its module"_s.arg(action), refId));
        reportFailure(connection.connId, owner, "handleRequest()", verdict.outcome);
    }
}

// MTW 0x02 frames carry opaque bytes (the TypeScript client's publishBinary()). They are not a
// protocol error: a module may take them; otherwise they are dropped and counted.
void ModuleCalls::handleRawFrame(Connection &connection, const QByteArray &payload)
{
    const auto keep = services();
    if (keep && !keep->rawFrameHandlers.isEmpty()) {
        const ClientInfo client = clientInfo(connection);
        for (const auto &ranked : keep->rawFrameHandlers) {
            bool taken = false;
            if (!guarded(ranked.owner, "handleRawFrame()", [&] {
                    taken = ranked.service->handleRawFrame(client, payload);
                })) {
                reportFailure(connection.connId, ranked.owner, "handleRawFrame()", Outcome::Failed);
            } else if (taken) {
                return;
            }
        }
    }
    m_context.counters.rawFramesDropped.fetch_add(1, std::memory_order_relaxed);
    qCDebug(lcProtocol).noquote() << "connection" << connection.connId << "sent a raw MTW frame of"
                                  << payload.size() << "bytes that no module handles: dropped";
}

} // namespace Mtw::Internal
