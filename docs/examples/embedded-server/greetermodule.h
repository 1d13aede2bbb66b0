// SPDX-License-Identifier: MIT
// A module compiled into the program (docs/plugins.md, "Compile a module into your program").
// Unlike a plugin it has no Q_PLUGIN_METADATA: its metadata is handed to ServerBuilder::module().
#pragma once

#include <mtw/module.h>
#include <mtw/modulestatus.h>

#include <QJsonObject>
#include <QObject>

// Greets every client when it connects and answers the request action "hello".
// Lives in the server's main thread; handleRequest() runs on I/O threads, concurrently, and reads
// only m_greeting, which never changes after construction.
class GreeterModule : public QObject, public Mtw::IModule, public Mtw::IRequestHandler
{
public:
    explicit GreeterModule(QString greeting = QStringLiteral("Hello"))
        : m_greeting(std::move(greeting))
    { }

    static Mtw::ModuleMetadata metadata()
    {
        Mtw::ModuleMetadata metadata;
        metadata.setId(QStringLiteral("greeter"));
        metadata.setName(QStringLiteral("Greeter"));
        metadata.setVersion(QStringLiteral("1.0.0"));
        metadata.setKind(QStringLiteral("service"));
        metadata.setDescription(QStringLiteral("Greets clients; request action \"hello\"."));
        metadata.setLicense(QStringLiteral("MIT"));
        return metadata;
    }

    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        context.registerRequestHandler(QStringLiteral("hello"), this);
        // clientConnected comes from an I/O thread; the context object (the ServerEvents, which
        // dies with the server) queues the lambda into the main thread.
        Mtw::ServerHandle *server = &context.server();
        connect(context.events(),
                &Mtw::ServerEvents::clientConnected,
                context.events(),
                [server, greeting = m_greeting](const Mtw::ClientInfo &client) {
                    Mtw::Message welcome = Mtw::Message::create(
                        Mtw::MessageType::Event,
                        Mtw::Payload::fromText(greeting + QStringLiteral(", ") + client.connId()));
                    server->sendTo(client.connId(), welcome);
                });
        return {};
    }

    // {"type":"request","metadata":{"action":"hello"},"payload":{"kind":"Text","data":"Ada"}}
    // -> response {"greeting":"Hello, Ada!"}
    void handleRequest(const Mtw::ClientInfo &client,
                       const Mtw::Message &request,
                       Mtw::RequestReply reply) override
    {
        const QString name = request.payload.kind == Mtw::Payload::Kind::Text ? request.payload.text
                                                                              : client.connId();
        if (name.size() > 100) {
            reply.fail({400, QStringLiteral("hello: a name has at most 100 characters")});
            return;
        }
        reply.respond(QJsonObject{
            {QStringLiteral("greeting"), m_greeting + QStringLiteral(", ") + name + u'!'}});
    }

private:
    const QString m_greeting;
};
