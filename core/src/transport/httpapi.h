// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/message.h>
#include <mtw/result.h>

#include <QJsonObject>
#include <QObject>

#include <functional>

namespace Mtw::Internal {

class ConnectionTable;
class HttpExchange;
class HttpSession;
struct HttpRequest;
struct ProtocolContext;

// The server API for application backends (docs/http-api.md): `POST <prefix>/<command>` with a
// JSON body, `POST <prefix>/batch` for several, on the client port. A command runs through the
// same handlers as a client's message (handlers/), on a connection without a socket whose
// replies come back here (Connection::sink): what a publish, a history read or a kv write does,
// in one node or in a cluster, is decided in one place. The caller is the application: it is
// authenticated (auth channels and buckets are open to it) and no module filter is asked.
// One per worker, in its thread.
class HttpApi : public QObject
{
    Q_OBJECT

public:
    // The answer of one command: a JSON object or an error with its HTTP meaning.
    using Done = std::function<void(Result<QJsonObject>)>;

    HttpApi(ProtocolContext &parts, ConnectionTable &connections, QObject *parent);
    ~HttpApi() override;

    void route(HttpExchange &exchange);
    // Runs one command (a path's last segment, or a batch entry's "method").
    void run(const QString &command, const QJsonObject &params, Done done);

private:
    class Call;
    friend class Call;

    void serve(const HttpRequest &request, HttpSession *session);
    bool authorized(const HttpRequest &request, HttpSession *session);
    void runBatch(const QJsonObject &body, const Done &done);
    // A client message run on a detached connection; `done` gets its reply.
    void dispatch(std::function<void(ProtocolContext &, struct Connection &)> run,
                  std::function<void(const Message &)> done);
    void finished(Call *call);
    QJsonObject nodeInfo() const;

    ProtocolContext &m_parts;
    ConnectionTable &m_connections;
    QByteArray m_prefix; // "/api/"
    QList<Call *> m_calls;
};

} // namespace Mtw::Internal
