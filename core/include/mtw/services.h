// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>
#include <mtw/message.h>
#include <mtw/result.h>

#include <QHostAddress>
#include <QJsonValue>
#include <QMap>
#include <QStringList>
#include <QUrl>
#include <QVariantMap>

namespace Mtw {

// What the server knows about one client connection. A value: cheap to copy, safe to keep.
struct ClientInfo
{
    QString connId;
    QHostAddress remoteAddress;
    QString userAgent;
    qint64 connectedAt = 0; // ms since the Unix epoch
    bool authenticated = false;
    QString userId; // from the authenticator; empty when anonymous
    QStringList roles;
};

// Who a token belongs to, as an IAuthenticator decides.
struct Identity
{
    QString userId;
    QStringList roles;
    QVariantMap claims;
    // When the credential stops being valid, in ms since the Unix epoch; 0 = it does not expire.
    // The server closes a connection whose identity expired (error 401 "token expired", close
    // 4001) unless the client sent a fresh token with `connect` before then.
    qint64 expiresAt = 0;
};

// A token to verify, with where it came from.
struct AuthRequest
{
    QString connId;
    QString token; // from metadata.token/auth_token, ?token= or Bearer
    QHostAddress remoteAddress;
    QUrl url;                             // the upgrade request URL (path and query)
    QMap<QByteArray, QByteArray> headers; // upgrade request headers, names lower-cased
};

// Decides who a token belongs to. Called from I/O worker threads, concurrently: implementations
// must be thread-safe and fast (a call slower than the decision budget counts as a reject).
// Return an Error with code 401 and a message the client may see to refuse the token.
class IAuthenticator
{
public:
    virtual ~IAuthenticator() = default;
    virtual Result<Identity> authenticate(const AuthRequest &request) = 0;
};

// The outcome of IMessageFilter::beforeMessage.
struct FilterDecision
{
    enum class Action {
        Accept,  // go on (the filter may have changed the message: that is a transform)
        Reject,  // the client gets `error` {code, message} with ref_id; processing stops
        Handled, // the filter consumed it: the client gets `response` {response} with ref_id
    };
    Action action = Action::Accept;
    Error rejection;     // Reject
    QJsonValue response; // Handled

    static FilterDecision accept() { return {}; }
    static FilterDecision reject(int code, const QString &message)
    {
        return {Action::Reject, Error{code, message}, {}};
    }
    static FilterDecision handled(const QJsonValue &response = {})
    {
        return {Action::Handled, {}, response};
    }
};

// Sees every subscribe, unsubscribe, publish, request and agent_task before the server acts on
// it. Filters run by descending priority; the first Reject or Handled wins. Called from I/O worker
// threads, concurrently: implementations must be thread-safe and must not block.
class IMessageFilter
{
public:
    virtual ~IMessageFilter() = default;
    virtual FilterDecision beforeMessage(const ClientInfo &client, Message &message) = 0;
    // After the server handled an accepted message (for auditing, counting...).
    virtual void afterMessage(const ClientInfo &client, const Message &message)
    {
        Q_UNUSED(client);
        Q_UNUSED(message);
    }
};

// Serves `request` messages whose metadata.action is one the module registered. Called from I/O
// worker threads, concurrently. The returned value becomes the `response` payload data; an Error
// becomes an `error` reply with its code.
class IRequestHandler
{
public:
    virtual ~IRequestHandler() = default;
    virtual Result<QJsonValue> handleRequest(const ClientInfo &client, const Message &request) = 0;
};

// Receives raw MTW frames (type 0x02: opaque bytes, what the mtwRequest TypeScript client's
// publishBinary() sends). Handlers run by descending priority until one returns true (it took the
// frame). Without a handler that takes it, a raw frame is dropped: logged at debug level and
// counted, never treated as a protocol error. Called from I/O worker threads, concurrently:
// implementations must be thread-safe and must not block.
class IRawFrameHandler
{
public:
    virtual ~IRawFrameHandler() = default;
    virtual bool handleRawFrame(const ClientInfo &client, const QByteArray &payload) = 0;
};

} // namespace Mtw

Q_DECLARE_METATYPE(Mtw::ClientInfo)
