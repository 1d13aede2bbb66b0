// SPDX-License-Identifier: MIT
// Where a worker calls into modules: authenticators, message filters, request handlers and
// ServerEvents. Every call is guarded (an exception is a reject) and timed (a call over the
// decision budget counts as a reject), so a misbehaving module cannot take a worker down.
#include "modules/decisionreply_p.h"
#include "modules/modulehost.h"
#include "transport/connection.h"
#include "transport/logging.h"
#include "transport/servercontext.h"
#include "transport/worker.h"

#include <QElapsedTimer>
#include <QMutex>
#include <QUrlQuery>
#include <QWebSocket>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

// Runs one decision call. Returns nullopt when it threw or overran the budget (logged).
template<typename Call>
auto decide(const QString &owner, const char *what, Call &&call) -> std::optional<decltype(call())>
{
    QElapsedTimer timer;
    timer.start();
    try {
        auto result = call();
        if (timer.elapsed() > DecisionBudgetMs) {
            qCWarning(lcTransport).noquote()
                << "module" << owner << what << "took" << timer.elapsed() << "ms (budget"
                << DecisionBudgetMs << "ms): treated as a reject";
            return std::nullopt;
        }
        return result;
    } catch (const std::exception &e) {
        qCWarning(lcTransport).noquote() << "module" << owner << what << "threw:" << e.what();
    } catch (...) {
        qCWarning(lcTransport).noquote() << "module" << owner << what << "threw an exception";
    }
    return std::nullopt;
}

// Runs one call to a deciding service with a reply handle, guarded and timed like decide().
// Until the worker waits for answers that come later (issue 10), only an answer given during the
// call counts: a call that returns without one is cancelled (later answers are ignored) and is a
// reject. Returns nullopt for a reject of that kind (logged); `failed` tells a call that threw or
// overran the budget.
template<typename Reply, typename Call>
std::optional<DecisionAnswer>
decideWithReply(const QString &owner, const char *what, Call &&call, bool &failed)
{
    // Shared with the callback: a module may answer from another thread while the call runs.
    struct Slot
    {
        QMutex mutex;
        std::optional<DecisionAnswer> answer;
    };
    const auto slot = std::make_shared<Slot>();
    const auto reply = std::make_shared<DecisionReplyPrivate>([slot](DecisionAnswer answer) {
        QMutexLocker lock(&slot->mutex);
        slot->answer = std::move(answer);
    });
    failed = !decide(owner, what, [&] {
        call(Reply(reply));
        return true;
    });
    std::optional<DecisionAnswer> answer;
    {
        QMutexLocker lock(&slot->mutex);
        answer = std::move(slot->answer);
    }
    if (!answer) {
        reply->cancel(); // an answer racing with this is dropped with the slot
        if (!failed) {
            qCWarning(lcTransport).noquote()
                << "module" << owner << what
                << "did not answer during the call; asynchronous answers need the transport "
                   "work of issue 10";
        }
        return std::nullopt;
    }
    if (failed)
        return std::nullopt;
    return answer;
}

// Logs the server-only part of a module's Error; only `message` reaches the client.
void logDetail(const QString &owner, const char *what, const QString &connId, const Error &error)
{
    if (!error.detail.isEmpty()) {
        qCInfo(lcTransport).noquote() << "module" << owner << what << "for" << connId << "said"
                                      << error.code << error.message << "-" << error.detail;
    }
}

// Tells ServerEvents::error listeners that a module's call failed while serving `connId`.
void reportModuleFailure(ServerEvents *events,
                         const QString &connId,
                         const QString &owner,
                         const char *what)
{
    if (!events->isListened(&ServerEvents::error))
        return;
    Q_EMIT events->error(
        connId,
        Error{500,
              u"module '%1': %2 threw or took longer than %3 ms"_s.arg(owner, QLatin1String(what))
                  .arg(DecisionBudgetMs)});
}

} // namespace

// The module services as of the last registration: one atomic load per call while nothing
// changes, a fresh immutable snapshot when a module registered or failed meanwhile.
const Services *Worker::services()
{
    if (!m_context->services)
        return nullptr;
    const quint64 generation = m_context->services->generation();
    if (generation != m_servicesGeneration || !m_services) {
        m_services = m_context->services->snapshot();
        m_servicesGeneration = generation;
    }
    return m_services.get();
}

ClientInfo Worker::clientInfo(const Connection &connection) const
{
    ClientInfo info;
    info.setConnId(connection.connId);
    info.setRemoteAddress(connection.peerAddress);
    info.setUserAgent(connection.userAgent);
    info.setConnectedAt(connection.connectedAt);
    info.setAuthenticated(connection.authenticated);
    info.setUserId(connection.userId);
    info.setRoles(connection.roles);
    return info;
}

bool Worker::hasAuthenticators()
{
    const Services *current = services();
    return current && !current->authenticators.isEmpty();
}

QString Worker::upgradeToken(const Connection &connection) const
{
    const QNetworkRequest request = connection.socket->request();
    const QString fromQuery =
        QUrlQuery(request.url()).queryItemValue(u"token"_s, QUrl::FullyDecoded);
    if (!fromQuery.isEmpty())
        return fromQuery;
    const QByteArray authorization = request.rawHeader("Authorization");
    if (authorization.startsWith("Bearer ") || authorization.startsWith("bearer "))
        return QString::fromUtf8(authorization.mid(7).trimmed());
    return {};
}

Result<void> Worker::authenticate(Connection &connection, const QString &token)
{
    AuthRequest request;
    request.setConnId(connection.connId);
    request.setToken(token);
    request.setRemoteAddress(connection.peerAddress);
    const QNetworkRequest upgrade = connection.socket->request();
    request.setUrl(upgrade.url());
    QMap<QByteArray, QByteArray> headers;
    for (const QByteArray &name : upgrade.rawHeaderList())
        headers.insert(name.toLower(), upgrade.rawHeader(name));
    request.setHeaders(headers);

    // The first authenticator (by priority) that accepts the token wins; when none does, the
    // client sees the first refusal.
    std::optional<Error> refusal;
    services();
    const std::shared_ptr<const Services> current = m_services; // stays alive during the calls
    if (!current)
        return tl::unexpected(Error{401, u"authentication failed"_s});
    for (const auto &ranked : current->authenticators) {
        bool failed = false;
        const auto outcome = decideWithReply<AuthReply>(
            ranked.owner,
            "authenticate()",
            [&](AuthReply reply) { ranked.service->authenticate(request, std::move(reply)); },
            failed);
        if (failed) {
            reportModuleFailure(m_context->events,
                                connection.connId,
                                ranked.owner,
                                "authenticate()");
        }
        if (outcome) {
            if (const Identity *identity = std::get_if<Identity>(&*outcome)) {
                connection.authenticated = true;
                connection.userId = identity->userId();
                connection.roles = identity->roles();
                connection.tokenExpiresAt = identity->expiresAt();
                return {};
            }
        }
        const Error *error = outcome ? std::get_if<Error>(&*outcome) : nullptr;
        if (error)
            logDetail(ranked.owner, "authenticate()", connection.connId, *error);
        if (!refusal)
            refusal = error ? *error : Error{401, u"authentication failed"_s};
    }
    return tl::unexpected(refusal.value_or(Error{401, u"authentication failed"_s}));
}

void Worker::refuseAuthentication(Connection &connection, const Error &error, const QString &refId)
{
    qCInfo(lcTransport).noquote() << "connection" << connection.connId
                                  << "refused: authentication failed:" << error.message;
    send(connection, Message::error(error.code, error.message, refId));
    closeConnection(connection,
                    QWebSocketProtocol::CloseCode(4001),
                    u"authentication failed"_s,
                    DisconnectReason::error(u"authentication failed"_s));
}

bool Worker::runFilters(Connection &connection, Message &message)
{
    const Services *current = services();
    if (!current || current->filters.isEmpty())
        return true;
    const std::shared_ptr<const Services> keep = m_services;
    const ClientInfo client = clientInfo(connection);
    for (const auto &ranked : keep->filters) {
        bool failed = false;
        const auto answer = decideWithReply<FilterReply>(
            ranked.owner,
            "beforeMessage()",
            [&](FilterReply reply) {
                ranked.service->beforeMessage(client, message, std::move(reply));
            },
            failed);
        const FilterDecision *decision = answer ? std::get_if<FilterDecision>(&*answer) : nullptr;
        if (const Error *rejection = answer ? std::get_if<Error>(&*answer) : nullptr) {
            logDetail(ranked.owner, "beforeMessage()", connection.connId, *rejection);
            send(connection, Message::error(rejection->code, rejection->message, message.id));
            return false;
        }
        if (!decision) {
            send(connection,
                 Message::error(500, u"message refused: a server module failed"_s, message.id));
            if (failed) {
                reportModuleFailure(m_context->events,
                                    connection.connId,
                                    ranked.owner,
                                    "beforeMessage()");
            }
            return false;
        }
        if (decision->action == FilterDecision::Action::Handled) {
            send(connection, Message::response(message.id, decision->response));
            return false;
        }
        if (decision->transformed) // later filters and the server see the module's version
            message = *decision->transformed;
    }
    return true;
}

void Worker::runAfterFilters(const Connection &connection, const Message &message)
{
    const Services *current = services();
    if (!current || current->filters.isEmpty())
        return;
    const std::shared_ptr<const Services> keep = m_services;
    const ClientInfo client = clientInfo(connection);
    for (const auto &ranked : keep->filters) {
        decide(ranked.owner, "afterMessage()", [&] {
            ranked.service->afterMessage(client, message);
            return true;
        });
    }
}

bool Worker::handleModuleRequest(Connection &connection,
                                 const QString &action,
                                 const Message &message)
{
    const Services *current = services();
    if (!current)
        return false;
    const std::shared_ptr<const Services> keep = m_services;
    const auto it = keep->requestHandlers.constFind(action);
    if (it == keep->requestHandlers.cend())
        return false;
    const ClientInfo client = clientInfo(connection);
    bool failed = false;
    const auto answer = decideWithReply<RequestReply>(
        it->owner,
        "handleRequest()",
        [&](RequestReply reply) { it->service->handleRequest(client, message, std::move(reply)); },
        failed);
    if (const QJsonValue *data = answer ? std::get_if<QJsonValue>(&*answer) : nullptr) {
        send(connection, Message::response(message.id, *data));
    } else if (const Error *error = answer ? std::get_if<Error>(&*answer) : nullptr) {
        logDetail(it->owner, "handleRequest()", connection.connId, *error);
        send(connection, Message::error(error->code, error->message, message.id));
    } else {
        send(connection,
             Message::error(500, u"action '%1' failed in its module"_s.arg(action), message.id));
        if (failed)
            reportModuleFailure(m_context->events, connection.connId, it->owner, "handleRequest()");
    }
    return true;
}

// MTW 0x02 frames carry opaque bytes (the TypeScript client's publishBinary()). They are not a
// protocol error: a module may take them; otherwise they are dropped and counted.
void Worker::handleRawFrame(Connection &connection, const QByteArray &payload)
{
    const Services *current = services();
    if (current && !current->rawFrameHandlers.isEmpty()) {
        const std::shared_ptr<const Services> keep = m_services;
        const ClientInfo client = clientInfo(connection);
        for (const auto &ranked : keep->rawFrameHandlers) {
            const auto taken = decide(ranked.owner, "handleRawFrame()", [&] {
                return ranked.service->handleRawFrame(client, payload);
            });
            if (!taken)
                reportModuleFailure(m_context->events,
                                    connection.connId,
                                    ranked.owner,
                                    "handleRawFrame()");
            else if (*taken)
                return;
        }
    }
    m_context->counters.rawFramesDropped.fetch_add(1, std::memory_order_relaxed);
    qCDebug(lcProtocol).noquote() << "connection" << connection.connId << "sent a raw MTW frame of"
                                  << payload.size() << "bytes that no module handles: dropped";
}

} // namespace Mtw::Internal
