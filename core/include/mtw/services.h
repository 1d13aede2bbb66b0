// SPDX-License-Identifier: MIT
// The deciding services a module may register (IAuthenticator, IMessageFilter, IRequestHandler,
// IRawFrameHandler), the values they see, and the reply handles they answer with.
// See docs/plugins.md, "Services: deciding".
#pragma once

#include <mtw/global.h>
#include <mtw/message.h>
#include <mtw/result.h>

#include <QHostAddress>
#include <QJsonValue>
#include <QMap>
#include <QSharedDataPointer>
#include <QStringList>
#include <QUrl>
#include <QVariantMap>

#include <memory>

namespace Mtw {

namespace Internal {
class ClientInfoPrivate;
class IdentityPrivate;
class AuthRequestPrivate;
class DecisionReplyPrivate;
} // namespace Internal

// What the server knows about one client connection. A value: implicitly shared, cheap to copy,
// safe to keep and to pass between threads.
class MTW_CORE_EXPORT ClientInfo
{
public:
    MTW_DECLARE_SHARED_VALUE(ClientInfo)

    QString connId() const;
    void setConnId(const QString &connId);
    QHostAddress remoteAddress() const; // the client's, behind a trusted proxy too
    void setRemoteAddress(const QHostAddress &address);
    // The client's TCP port; 0 when the address came from a trusted proxy's X-Forwarded-For
    // (the client's own port is not known then).
    quint16 remotePort() const;
    void setRemotePort(quint16 port);
    QString userAgent() const;
    void setUserAgent(const QString &userAgent);
    qint64 connectedAt() const; // ms since the Unix epoch
    void setConnectedAt(qint64 milliseconds);
    bool isAuthenticated() const;
    void setAuthenticated(bool authenticated);
    QString userId() const; // from the authenticator; empty when anonymous
    void setUserId(const QString &userId);
    QStringList roles() const;
    void setRoles(const QStringList &roles);

private:
    QSharedDataPointer<Internal::ClientInfoPrivate> d;
};

// Who a token belongs to, as an IAuthenticator decides. An implicitly shared value.
class MTW_CORE_EXPORT Identity
{
public:
    MTW_DECLARE_SHARED_VALUE(Identity)

    QString userId() const;
    void setUserId(const QString &userId);
    QStringList roles() const;
    void setRoles(const QStringList &roles);
    QVariantMap claims() const;
    void setClaims(const QVariantMap &claims);
    // When the credential stops being valid, in ms since the Unix epoch; 0 = it does not expire.
    // The server closes a connection whose identity expired (error 401 "token expired", close
    // 4001) unless the client sent a fresh token with `connect` before then.
    qint64 expiresAt() const;
    void setExpiresAt(qint64 milliseconds);

private:
    QSharedDataPointer<Internal::IdentityPrivate> d;
};

// A token to verify, with where it came from. An implicitly shared value.
class MTW_CORE_EXPORT AuthRequest
{
public:
    MTW_DECLARE_SHARED_VALUE(AuthRequest)

    QString connId() const;
    void setConnId(const QString &connId);
    QString token() const; // from metadata.token/auth_token, ?token= or Bearer
    void setToken(const QString &token);
    QHostAddress remoteAddress() const;
    void setRemoteAddress(const QHostAddress &address);
    QUrl url() const; // the upgrade request URL (path and query)
    void setUrl(const QUrl &url);
    QMap<QByteArray, QByteArray> headers() const; // upgrade request headers, names lower-cased
    void setHeaders(const QMap<QByteArray, QByteArray> &headers);

private:
    QSharedDataPointer<Internal::AuthRequestPrivate> d;
};

// A decision a module gives now or later, from any thread. Copyable; the first answer counts,
// later answers and answers after the server's deadline are ignored (isPending() says false).
class MTW_CORE_EXPORT AuthReply
{
public:
    void accept(const Identity &identity) const;
    void reject(const Error &error) const; // code 401 unless the module says otherwise
    bool isPending() const;
    // internal: constructed by the server only
    explicit AuthReply(std::shared_ptr<Internal::DecisionReplyPrivate> d);

private:
    std::shared_ptr<Internal::DecisionReplyPrivate> d;
};

class MTW_CORE_EXPORT FilterReply
{
public:
    void accept() const;                                 // go on unchanged
    void accept(const Message &transformed) const;       // go on with this message instead
    void reject(const Error &error) const;               // client gets error {code, message}
    void handled(const QJsonValue &response = {}) const; // client gets response {response}
    bool isPending() const;
    explicit FilterReply(std::shared_ptr<Internal::DecisionReplyPrivate> d);

private:
    std::shared_ptr<Internal::DecisionReplyPrivate> d;
};

class MTW_CORE_EXPORT RequestReply
{
public:
    void respond(const QJsonValue &data) const;
    void fail(const Error &error) const;
    bool isPending() const;
    explicit RequestReply(std::shared_ptr<Internal::DecisionReplyPrivate> d);

private:
    std::shared_ptr<Internal::DecisionReplyPrivate> d;
};

// Decides who a token belongs to. Called from I/O worker threads, concurrently: implementations
// must be thread-safe and must not block. Answer with reply.accept(identity) or reply.reject(error)
// (a 401 with a message the client may see), before returning or later from any thread, within
// the server's decision deadline. Authenticators run by descending priority; the first accept wins.
class IAuthenticator
{
public:
    virtual ~IAuthenticator() = default;
    virtual void authenticate(const AuthRequest &request, AuthReply reply) = 0;
};

// Sees every subscribe, unsubscribe, publish, request and agent_task before the server acts on
// it and answers through `reply`: accept (unchanged or transformed), reject or handled. Filters run
// by descending priority; the first reject or handled ends the chain. Called from I/O worker
// threads, concurrently: implementations must be thread-safe and must not block.
class IMessageFilter
{
public:
    virtual ~IMessageFilter() = default;
    virtual void
    beforeMessage(const ClientInfo &client, const Message &message, FilterReply reply) = 0;
    // After the server handled an accepted message (for auditing, counting...). A notification:
    // nothing to answer.
    virtual void afterMessage(const ClientInfo &client, const Message &message)
    {
        Q_UNUSED(client);
        Q_UNUSED(message);
    }
};

// Serves `request` messages whose metadata.action is one the module registered. Called from I/O
// worker threads, concurrently. reply.respond(data) becomes the `response` payload data;
// reply.fail(error) becomes an `error` reply with its code and message.
class IRequestHandler
{
public:
    virtual ~IRequestHandler() = default;
    virtual void
    handleRequest(const ClientInfo &client, const Message &request, RequestReply reply) = 0;
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
