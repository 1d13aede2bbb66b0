// SPDX-License-Identifier: MIT
// The mtw protocol's message handlers (PROTOCOL.md §3), one file per message type. Each runs
// in the worker thread that owns the connection, after the rate limit and (for subscribe,
// unsubscribe, publish, request and agent_task) the module filters.
#pragma once

#include "channels/channelregistry.h"
#include "transport/protocol.h"

#include <QJsonObject>

#include <optional>

namespace Mtw::Internal {

// connect.cpp: the session's first words, connect, ping, disconnect.
void greet(ProtocolContext &parts, Connection &connection);
// The ack greet() sends, encoded straight to its bytes: what encodeMessage() makes of an ack
// Message with this id and timestamp, payload and metadata {"conn_id": connId}, without building
// that Message and its QJsonObjects on every upgrade (a tenth of an upgrade's CPU).
QByteArray encodeGreeting(const QString &id, qint64 timestamp, const QString &connId);
void handleConnect(ProtocolContext &parts, Connection &connection, const Message &message);
void handlePing(ProtocolContext &parts, Connection &connection, const Message &message);
void handleDisconnect(ProtocolContext &parts, Connection &connection, const Message &message);

// subscribe.cpp: subscribe, unsubscribe, leaving a channel (also on disconnect), presence.
void handleSubscribe(ProtocolContext &parts, Connection &connection, const Message &message);
void handleUnsubscribe(ProtocolContext &parts, Connection &connection, const Message &message);
void leaveChannel(ProtocolContext &parts, Connection &connection, const QString &channel);

// publish.cpp
void handlePublish(ProtocolContext &parts, Connection &connection, const Message &message);
// The cluster's check of the connection's publish or subscribe on message.channel
// (ChannelRegistry::checkChannel); when it refuses, its error has gone to the connection and the
// answer is empty.
std::optional<PublishCheck>
checkChannelFor(ProtocolContext &parts, Connection &connection, const Message &message);

// request.cpp: request, its built-in actions (history, presence, channels) and module actions.
void handleRequest(ProtocolContext &parts, Connection &connection, const Message &message);
// The built-in action metadata.action names (history, presence, channels, kv.*), answered on
// `connection`; false when it is no built-in action (modules are not asked). The server API
// runs its commands through here.
bool runBuiltinAction(ProtocolContext &parts, Connection &connection, const Message &message);

// kv.cpp: the key-value request actions (docs/kv.md), rows of request.cpp's table.
void kvGetAction(ProtocolContext &parts, Connection &connection, const Message &message);
void kvPutAction(ProtocolContext &parts, Connection &connection, const Message &message);
void kvDeleteAction(ProtocolContext &parts, Connection &connection, const Message &message);
void kvListAction(ProtocolContext &parts, Connection &connection, const Message &message);
void kvBatchAction(ProtocolContext &parts, Connection &connection, const Message &message);

// reserved.cpp: channels starting with '$' are the server's (`$kv.<bucket>`: a bucket's
// changes). Answers a client's publish or subscribe that may not use such a channel (403, 404,
// 400) and returns true; false for every other message.
bool refuseReservedChannel(ProtocolContext &parts, Connection &connection, const Message &message);

// agenttask.cpp: agent_task, agent_tool_result, and a publish on a channel an agent answers on.
void handleAgentTask(ProtocolContext &parts, Connection &connection, const Message &message);
void handleAgentToolResult(ProtocolContext &parts, Connection &connection, const Message &message);
void startChannelAgents(ProtocolContext &parts,
                        const Connection &connection,
                        const Message &message);

// Replies carry ref_id and never `channel` (PROTOCOL.md section 7): the TypeScript client hands
// any message with a channel to that channel's handlers, so a reply to its fire-and-forget
// publish would land in the publisher's own handler.
inline Message replyTo(const Message &request, const QJsonObject &data)
{
    return Message::response(request.id, data);
}

// The error reply to `request` (its ref_id) for a failure.
inline Message errorReplyTo(const Message &request, const Error &error)
{
    return Message::error(error.code, error.message, request.id);
}

// metadata.<key> as a non-negative integer; nullopt when absent, -1 when present but invalid.
std::optional<int> metadataCount(const Message &message, const QString &key);

// metadata.<key> as a stream position {"offset": <non-negative integer>, "epoch": "<string>"}:
// nullopt when absent, a 400 naming the field when malformed.
Result<std::optional<RecoverFrom>> metadataPosition(const Message &message, const QString &key);

} // namespace Mtw::Internal
