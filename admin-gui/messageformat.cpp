// SPDX-License-Identifier: MIT
#include "messageformat.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("Mtw::MessageFormat", text);
}

QString jsonText(const QJsonValue &data, QJsonDocument::JsonFormat format)
{
    if (data.isObject())
        return QString::fromUtf8(QJsonDocument(data.toObject()).toJson(format)).trimmed();
    if (data.isArray())
        return QString::fromUtf8(QJsonDocument(data.toArray()).toJson(format)).trimmed();
    // A scalar: its JSON text, through a one-element array.
    const QString array =
        QString::fromUtf8(QJsonDocument(QJsonArray{data}).toJson(QJsonDocument::Compact));
    return array.mid(1, array.size() - 2);
}

} // namespace

QString hexDump(const QByteArray &bytes)
{
    QString out;
    for (qsizetype offset = 0; offset < bytes.size(); offset += 16) {
        const QByteArray line = bytes.mid(offset, 16);
        QString hex;
        QString ascii;
        for (qsizetype i = 0; i < 16; ++i) {
            if (i == 8)
                hex += u' ';
            if (i < line.size()) {
                const auto byte = uchar(line.at(i));
                hex += u"%1 "_s.arg(byte, 2, 16, QLatin1Char('0'));
                ascii += byte >= 0x20 && byte < 0x7f ? QChar(char16_t(byte)) : QChar(u'.');
            } else {
                hex += u"   "_s;
            }
        }
        out += u"%1  %2 |%3|\n"_s.arg(offset, 8, 16, QLatin1Char('0')).arg(hex, ascii);
    }
    return out;
}

QString formatPayload(const QJsonObject &payload)
{
    const QString kind = payload.value(u"kind"_s).toString();
    const QJsonValue data = payload.value(u"data"_s);
    if (kind == "Text"_L1)
        return data.toString();
    if (kind == "None"_L1 || payload.isEmpty())
        return tr("(no payload)");
    if (kind == "Binary"_L1) {
        const QByteArray bytes = QByteArray::fromBase64(data.toString().toLatin1());
        return tr("%1 bytes").arg(bytes.size()) + u"\n"_s + hexDump(bytes);
    }
    return jsonText(data, QJsonDocument::Indented);
}

QString payloadSummary(const QJsonObject &payload)
{
    const QString kind = payload.value(u"kind"_s).toString();
    const QJsonValue data = payload.value(u"data"_s);
    if (kind == "Text"_L1)
        return data.toString().simplified();
    if (kind == "None"_L1 || payload.isEmpty())
        return tr("(no payload)");
    if (kind == "Binary"_L1) {
        const qsizetype size = QByteArray::fromBase64(data.toString().toLatin1()).size();
        return tr("(binary, %1 bytes)").arg(size);
    }
    return jsonText(data, QJsonDocument::Compact);
}

} // namespace Mtw
