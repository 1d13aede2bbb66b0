// SPDX-License-Identifier: MIT
// Channels whose name starts with '$' are written by the server only: `$kv.<bucket>` carries a
// key-value bucket's changes (docs/kv.md); other '$' names are kept for later uses.
#include "channels/channelsettings.h"
#include "transport/handlers/handlers.h"
#include "transport/outbound.h"
#include "transport/servercontext.h"

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

std::optional<Error> reservedChannelError(const ServerContext &server, const Message &message)
{
    const QString &channel = message.channel;
    if (!channel.startsWith(u'$'))
        return std::nullopt;
    if (message.type == MessageType::Publish)
        return Error{403, u"channels starting with '$' are written by the server"_s};
    if (message.type != MessageType::Subscribe)
        return std::nullopt;
    if (!channel.startsWith(KvChannelPrefix))
        return Error{400,
                     u"channel '%1': names starting with '$' are reserved; '$kv.<bucket>' "
                     "watches a key-value bucket"_s.arg(channel)};
    const QString bucket = channel.mid(KvChannelPrefix.size());
    if (const auto settings = server.kv.settings(bucket); !settings)
        return settings.error();
    // The bucket's auth rule is the channel's (ChannelSettingsResolver): the registry says 401.
    return std::nullopt;
}

} // namespace

bool refuseReservedChannel(ProtocolContext &parts, Connection &connection, const Message &message)
{
    const auto error = reservedChannelError(parts.server, message);
    if (!error)
        return false;
    parts.out.send(connection, Message::error(error->code, error->message, message.id));
    return true;
}

} // namespace Mtw::Internal
