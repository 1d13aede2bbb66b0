// SPDX-License-Identifier: MIT
#include "transport/modulecalls.h"

#include "modules/modulehost.h"
#include "transport/connection.h"
#include "transport/logging.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"

#include <QElapsedTimer>
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

ModuleCalls::ModuleCalls(ServerContext &context, Outbound &outbound)
    : m_context(context)
    , m_outbound(outbound)
{ }

std::shared_ptr<const Services> ModuleCalls::services()
{
    if (!m_context.services)
        return nullptr;
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
    info.connId = connection.connId;
    info.remoteAddress = connection.peerAddress;
    info.userAgent = connection.userAgent;
    info.connectedAt = connection.connectedAt;
    info.authenticated = connection.authenticated;
    info.userId = connection.userId;
    info.roles = connection.roles;
    return info;
}

bool ModuleCalls::hasAuthenticators()
{
    const auto current = services();
    return current && !current->authenticators.isEmpty();
}

QString ModuleCalls::upgradeToken(const Connection &connection) const
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

Result<void> ModuleCalls::authenticate(Connection &connection, const QString &token)
{
    AuthRequest request;
    request.connId = connection.connId;
    request.token = token;
    request.remoteAddress = connection.peerAddress;
    const QNetworkRequest upgrade = connection.socket->request();
    request.url = upgrade.url();
    for (const QByteArray &name : upgrade.rawHeaderList())
        request.headers.insert(name.toLower(), upgrade.rawHeader(name));

    // The first authenticator (by priority) that accepts the token wins; when none does, the
    // client sees the first refusal.
    std::optional<Error> refusal;
    const auto current = services();
    if (!current)
        return tl::unexpected(Error{401, u"authentication failed"_s});
    for (const auto &ranked : current->authenticators) {
        const auto outcome = decide(ranked.owner, "authenticate()", [&] {
            return ranked.service->authenticate(request);
        });
        if (!outcome) {
            reportModuleFailure(m_context.events,
                                connection.connId,
                                ranked.owner,
                                "authenticate()");
        }
        if (outcome && *outcome) {
            connection.authenticated = true;
            connection.userId = (*outcome)->userId;
            connection.roles = (*outcome)->roles;
            connection.tokenExpiresAt = (*outcome)->expiresAt;
            return {};
        }
        if (!refusal)
            refusal = outcome ? (*outcome).error() : Error{401, u"authentication failed"_s};
    }
    return tl::unexpected(refusal.value_or(Error{401, u"authentication failed"_s}));
}

void ModuleCalls::refuseAuthentication(Connection &connection,
                                       const Error &error,
                                       const QString &refId)
{
    qCInfo(lcTransport).noquote() << "connection" << connection.connId
                                  << "refused: authentication failed:" << error.message;
    m_outbound.send(connection, Message::error(401, error.message, refId));
    m_outbound.close(connection,
                     QWebSocketProtocol::CloseCode(4001),
                     u"authentication failed"_s,
                     DisconnectReason::error(u"authentication failed"_s));
}

bool ModuleCalls::runFilters(Connection &connection, Message &message)
{
    const auto keep = services();
    if (!keep || keep->filters.isEmpty())
        return true;
    const ClientInfo client = clientInfo(connection);
    for (const auto &ranked : keep->filters) {
        const auto decision = decide(ranked.owner, "beforeMessage()", [&] {
            return ranked.service->beforeMessage(client, message);
        });
        if (!decision) {
            m_outbound.send(
                connection,
                Message::error(500, u"message refused: a server module failed"_s, message.id));
            reportModuleFailure(m_context.events,
                                connection.connId,
                                ranked.owner,
                                "beforeMessage()");
            return false;
        }
        switch (decision->action) {
        case FilterDecision::Action::Accept:
            continue;
        case FilterDecision::Action::Reject:
            m_outbound.send(
                connection,
                Message::error(decision->rejection.code, decision->rejection.message, message.id));
            return false;
        case FilterDecision::Action::Handled:
            m_outbound.send(connection, Message::response(message.id, decision->response));
            return false;
        }
    }
    return true;
}

void ModuleCalls::runAfterFilters(const Connection &connection, const Message &message)
{
    const auto keep = services();
    if (!keep || keep->filters.isEmpty())
        return;
    const ClientInfo client = clientInfo(connection);
    for (const auto &ranked : keep->filters) {
        decide(ranked.owner, "afterMessage()", [&] {
            ranked.service->afterMessage(client, message);
            return true;
        });
    }
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
    const auto outcome = decide(it->owner, "handleRequest()", [&] {
        return it->service->handleRequest(clientInfo(connection), message);
    });
    if (!outcome) {
        m_outbound.send(
            connection,
            Message::error(500, u"action '%1' failed in its module"_s.arg(action), message.id));
        reportModuleFailure(m_context.events, connection.connId, it->owner, "handleRequest()");
    } else if (!*outcome) {
        m_outbound.send(
            connection,
            Message::error((*outcome).error().code, (*outcome).error().message, message.id));
    } else {
        m_outbound.send(connection, Message::response(message.id, **outcome));
    }
    return true;
}

// MTW 0x02 frames carry opaque bytes (the TypeScript client's publishBinary()). They are not a
// protocol error: a module may take them; otherwise they are dropped and counted.
void ModuleCalls::handleRawFrame(Connection &connection, const QByteArray &payload)
{
    const auto keep = services();
    if (keep && !keep->rawFrameHandlers.isEmpty()) {
        const ClientInfo client = clientInfo(connection);
        for (const auto &ranked : keep->rawFrameHandlers) {
            const auto taken = decide(ranked.owner, "handleRawFrame()", [&] {
                return ranked.service->handleRawFrame(client, payload);
            });
            if (!taken)
                reportModuleFailure(m_context.events,
                                    connection.connId,
                                    ranked.owner,
                                    "handleRawFrame()");
            else if (*taken)
                return;
        }
    }
    m_context.counters.rawFramesDropped.fetch_add(1, std::memory_order_relaxed);
    qCDebug(lcProtocol).noquote() << "connection" << connection.connId << "sent a raw MTW frame of"
                                  << payload.size() << "bytes that no module handles: dropped";
}

} // namespace Mtw::Internal
