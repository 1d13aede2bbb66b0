// SPDX-License-Identifier: MIT
#pragma once

#include "transport/httprequest.h"

#include <QByteArrayList>
#include <QHash>

#include <functional>

namespace Mtw::Internal {

class ClientSocket;
class FrontDoor;

// One HTTP request whose head has been read, in the hands of its route. The head is still in
// the socket (peeked, not consumed), so a route may hand the socket to a WebSocket server.
// Worker thread only.
class HttpExchange
{
public:
    HttpExchange(FrontDoor &door,
                 ClientSocket *socket,
                 const HttpRequestHead &head,
                 qsizetype headLength);

    const HttpRequestHead &head() const { return m_head; }
    // Bytes of the head in the socket, up to and including its blank line.
    qsizetype headLength() const { return m_headLength; }
    ClientSocket *socket() const { return m_socket; }
    // Answers and closes the connection; the socket deletes itself once closed.
    void respond(int status, QByteArrayView body, QByteArrayView extraHeaders = {});
    // The route keeps the socket: the front door lets go of it (handshake deadline, pending
    // place, its signal connections).
    ClientSocket *take();

private:
    FrontDoor &m_door;
    ClientSocket *m_socket;
    const HttpRequestHead &m_head;
    qsizetype m_headLength;
};

// A route runs in the worker thread that accepted the connection, for any worker: it must be
// safe to call concurrently and must not block.
using HttpRoute = std::function<void(HttpExchange &)>;

// Exact request paths (without the query) to their routes. Filled before the workers start,
// read-only afterwards.
class HttpRoutes
{
public:
    struct Entry
    {
        HttpRoute route;
        QByteArrayList methods; // others get 405 with an Allow header
    };

    // False when `path` has a route already: the first registration stands.
    bool add(const QByteArray &path, HttpRoute route, const QByteArrayList &methods = {"GET"});
    // Every path under `prefix` ("<prefix>/..."), when no exact path matches; false when the
    // prefix has a route already.
    bool
    addPrefix(const QByteArray &prefix, HttpRoute route, const QByteArrayList &methods = {"GET"});
    const Entry *find(const QByteArray &path) const;
    QByteArrayList paths() const { return m_routes.keys(); }

private:
    QHash<QByteArray, Entry> m_routes;
    QList<std::pair<QByteArray, Entry>> m_prefixes; // "<prefix>/", few
};

} // namespace Mtw::Internal
