// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/message.h>

#include <array>

namespace Mtw::Internal {

struct Connection;
class Fanout;
class ModuleCalls;
class Outbound;
class ServerContext;
struct WorkerState;

// What a message handler works with: the parts of the worker that owns the connection.
struct ProtocolContext
{
    ServerContext &server;
    WorkerState &state;
    Outbound &out;
    Fanout &fanout;
    ModuleCalls &modules;
};

// One handler per message type, in core/src/transport/handlers/<type>.cpp.
using MessageHandler = void (*)(ProtocolContext &, Connection &, const Message &);

// Reads what one connection sends (JSON text or MTW binary frames), applies the inbound rate
// limit, counts protocol errors and hands each message to the handler registered for its type
// (PROTOCOL.md §3). Types registered as `filtered` pass the module filters first. Worker thread
// only.
class Protocol
{
public:
    explicit Protocol(ProtocolContext &parts);

    // A new type is one more line in the constructor and one more file in handlers/.
    void registerHandler(MessageType type, MessageHandler handler, bool filtered);

    // A text message, its UTF-8 already checked by the connection's reader.
    void onText(Connection &connection, const QByteArray &json);
    void onBinary(Connection &connection, const QByteArray &data);
    // A message made by the server for the connection (an SSE stream's subscribes), handled as
    // if the client had sent it: after a pending decision, through the module filters.
    void submit(Connection &connection, Message message)
    {
        dispatch(connection, std::move(message), 0);
    }
    // A module decision for the connection is over: what waited behind it runs now, in order,
    // until the next decision that has to wait.
    void resume(Connection &connection);

private:
    struct Entry
    {
        MessageHandler handle = nullptr;
        bool filtered = false; // module filters see it first
    };

    bool admit(Connection &connection, const QString &refId);
    void protocolError(Connection &connection, const QString &refId, const QString &text);
    void dispatch(Connection &connection, Message message, qint64 size);
    void wait(Connection &connection, Message message, qint64 size);
    void run(Connection &connection, Message message);
    void answerMtwPing(Connection &connection);

    ProtocolContext &m_parts;
    std::array<Entry, size_t(MessageType::Ack) + 1> m_handlers{};
};

} // namespace Mtw::Internal
