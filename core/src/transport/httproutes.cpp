// SPDX-License-Identifier: MIT
#include "transport/httproutes.h"

#include "transport/frontdoor.h"

namespace Mtw::Internal {

HttpExchange::HttpExchange(FrontDoor &door,
                           ClientSocket *socket,
                           const HttpRequestHead &head,
                           qsizetype headLength)
    : m_door(door)
    , m_socket(socket)
    , m_head(head)
    , m_headLength(headLength)
{ }

void HttpExchange::respond(int status, QByteArrayView body, QByteArrayView extraHeaders)
{
    m_door.respond(m_socket, status, body, extraHeaders);
}

ClientSocket *HttpExchange::take()
{
    m_door.release(m_socket);
    return m_socket;
}

bool HttpRoutes::add(const QByteArray &path, HttpRoute route, const QByteArrayList &methods)
{
    if (m_routes.contains(path))
        return false;
    m_routes.insert(path, Entry{std::move(route), methods});
    return true;
}

bool HttpRoutes::addPrefix(const QByteArray &prefix, HttpRoute route, const QByteArrayList &methods)
{
    const QByteArray under = prefix.endsWith('/') ? prefix : prefix + '/';
    for (const auto &[existing, entry] : std::as_const(m_prefixes)) {
        if (existing == under)
            return false;
    }
    m_prefixes.append({under, Entry{std::move(route), methods}});
    return true;
}

const HttpRoutes::Entry *HttpRoutes::find(const QByteArray &path) const
{
    const auto it = m_routes.constFind(path);
    if (it != m_routes.cend())
        return &*it;
    for (const auto &[prefix, entry] : m_prefixes) {
        if (path.startsWith(prefix))
            return &entry;
    }
    return nullptr;
}

} // namespace Mtw::Internal
