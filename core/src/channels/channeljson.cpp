// SPDX-License-Identifier: MIT
#include "channels/channeljson.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

QJsonArray historyJson(const QList<QByteArray> &encoded)
{
    QJsonArray array;
    for (const QByteArray &json : encoded)
        array.append(QJsonDocument::fromJson(json).object());
    return array;
}

QJsonArray presenceJson(const QList<Member> &members)
{
    QJsonArray list;
    for (const Member &member : members) {
        QJsonObject entry{{u"conn_id"_s, member.connId}};
        if (!member.userId.isEmpty())
            entry.insert(u"user_id"_s, member.userId);
        list.append(entry);
    }
    return list;
}

} // namespace Mtw::Internal
