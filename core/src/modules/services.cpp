// SPDX-License-Identifier: MIT
// The values of <mtw/services.h>. Their members live here, not in the header, so that adding one
// changes nothing for a compiled plugin.
#include "modules/sharedvalue_p.h"

#include <mtw/services.h>

namespace Mtw {

namespace Internal {

class ClientInfoPrivate : public QSharedData
{
public:
    QString connId;
    QHostAddress remoteAddress;
    quint16 remotePort = 0;
    QString userAgent;
    qint64 connectedAt = 0;
    bool authenticated = false;
    QString userId;
    QStringList roles;
};

class IdentityPrivate : public QSharedData
{
public:
    QString userId;
    QStringList roles;
    QVariantMap claims;
    qint64 expiresAt = 0;
};

class AuthRequestPrivate : public QSharedData
{
public:
    QString connId;
    QString token;
    QHostAddress remoteAddress;
    QUrl url;
    QMap<QByteArray, QByteArray> headers;
};

} // namespace Internal

using HeaderMap = QMap<QByteArray, QByteArray>;

MTW_DEFINE_SHARED_VALUE(ClientInfo)
MTW_SHARED_PROPERTY(ClientInfo, QString, connId, setConnId, connId)
MTW_SHARED_PROPERTY(ClientInfo, QHostAddress, remoteAddress, setRemoteAddress, remoteAddress)
MTW_SHARED_SCALAR_PROPERTY(ClientInfo, quint16, remotePort, setRemotePort, remotePort)
MTW_SHARED_PROPERTY(ClientInfo, QString, userAgent, setUserAgent, userAgent)
MTW_SHARED_SCALAR_PROPERTY(ClientInfo, qint64, connectedAt, setConnectedAt, connectedAt)
MTW_SHARED_SCALAR_PROPERTY(ClientInfo, bool, isAuthenticated, setAuthenticated, authenticated)
MTW_SHARED_PROPERTY(ClientInfo, QString, userId, setUserId, userId)
MTW_SHARED_PROPERTY(ClientInfo, QStringList, roles, setRoles, roles)

MTW_DEFINE_SHARED_VALUE(Identity)
MTW_SHARED_PROPERTY(Identity, QString, userId, setUserId, userId)
MTW_SHARED_PROPERTY(Identity, QStringList, roles, setRoles, roles)
MTW_SHARED_PROPERTY(Identity, QVariantMap, claims, setClaims, claims)
MTW_SHARED_SCALAR_PROPERTY(Identity, qint64, expiresAt, setExpiresAt, expiresAt)

MTW_DEFINE_SHARED_VALUE(AuthRequest)
MTW_SHARED_PROPERTY(AuthRequest, QString, connId, setConnId, connId)
MTW_SHARED_PROPERTY(AuthRequest, QString, token, setToken, token)
MTW_SHARED_PROPERTY(AuthRequest, QHostAddress, remoteAddress, setRemoteAddress, remoteAddress)
MTW_SHARED_PROPERTY(AuthRequest, QUrl, url, setUrl, url)
MTW_SHARED_PROPERTY(AuthRequest, HeaderMap, headers, setHeaders, headers)

} // namespace Mtw
