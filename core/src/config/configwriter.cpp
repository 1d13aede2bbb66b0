// SPDX-License-Identifier: MIT
// Config → TOML that parseConfig() reads back to an equal Config; the sections and keys are the
// schema's (configkeys.cpp).

#include "config_p.h"
#include "configschema_p.h"

#include <algorithm>
#include <charconv>

using namespace Qt::Literals::StringLiterals;

namespace Mtw {

namespace {

// A TOML basic string, without the `${` escaping that values need.
QString basicString(const QString &text)
{
    QString out = u"\""_s;
    for (const QChar c : text) {
        switch (c.unicode()) {
        case u'"':
            out += u"\\\""_s;
            break;
        case u'\\':
            out += u"\\\\"_s;
            break;
        case u'\b':
            out += u"\\b"_s;
            break;
        case u'\t':
            out += u"\\t"_s;
            break;
        case u'\n':
            out += u"\\n"_s;
            break;
        case u'\f':
            out += u"\\f"_s;
            break;
        case u'\r':
            out += u"\\r"_s;
            break;
        default:
            if (c.unicode() < 0x20 || c.unicode() == 0x7f)
                out += u"\\u%1"_s.arg(c.unicode(), 4, 16, QLatin1Char('0'));
            else
                out += c;
        }
    }
    return out + QLatin1Char('"');
}

// String values are ${VAR}-expanded when read back, so a literal `${` is written as `$${`.
QString stringValue(const QString &text)
{
    QString escaped = text;
    return basicString(escaped.replace(u"${"_s, u"$${"_s));
}

QString key(const QString &name)
{
    const bool bare = !name.isEmpty() && std::all_of(name.begin(), name.end(), [](QChar c) {
        return (c >= u'A' && c <= u'Z') || (c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9')
            || c == u'_' || c == u'-';
    });
    return bare ? name : basicString(name);
}

QString stringList(const QStringList &list)
{
    QStringList items;
    for (const QString &item : list)
        items.append(stringValue(item));
    return QLatin1Char('[') + items.join(u", "_s) + QLatin1Char(']');
}

QString boolean(bool value)
{
    return value ? u"true"_s : u"false"_s;
}

QString floating(double value)
{
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    QString text = QString::fromLatin1(buffer, result.ptr - buffer);
    if (!text.contains(QLatin1Char('.')) && !text.contains(QLatin1Char('e'))
        && !text.contains(u"inf"_s) && !text.contains(u"nan"_s)) {
        text += u".0"_s; // 2.0 must stay a float
    }
    return text;
}

QString size(qint64 bytes)
{
    const QString text = Internal::formatSize(bytes);
    return text == QString::number(bytes) ? text : stringValue(text);
}

// `maskSecrets`: mask under secret-looking keys; `masked`: this value is under one.
QString variantValue(const QVariant &value, bool maskSecrets, bool masked);

QString inlineTable(const QVariantMap &map, bool maskSecrets, bool masked)
{
    QStringList items;
    for (auto it = map.cbegin(); it != map.cend(); ++it) {
        const bool secret = masked || (maskSecrets && Internal::isSecretKey(it.key()));
        items.append(key(it.key()) + u" = "_s + variantValue(it.value(), maskSecrets, secret));
    }
    return items.isEmpty() ? u"{}"_s : u"{ "_s + items.join(u", "_s) + u" }"_s;
}

QString variantValue(const QVariant &value, bool maskSecrets, bool masked)
{
    switch (value.typeId()) {
    case QMetaType::Bool:
        return boolean(value.toBool());
    case QMetaType::Int:
    case QMetaType::UInt:
    case QMetaType::LongLong:
    case QMetaType::ULongLong:
    case QMetaType::Short:
    case QMetaType::UShort:
    case QMetaType::Long:
    case QMetaType::ULong:
        return QString::number(value.toLongLong());
    case QMetaType::Double:
    case QMetaType::Float:
        return floating(value.toDouble());
    case QMetaType::QVariantMap:
    case QMetaType::QVariantHash:
        return inlineTable(value.toMap(), maskSecrets, masked);
    case QMetaType::QVariantList:
    case QMetaType::QStringList: {
        QStringList items;
        for (const QVariant &item : value.toList())
            items.append(variantValue(item, maskSecrets, masked));
        return QLatin1Char('[') + items.join(u", "_s) + QLatin1Char(']');
    }
    default:
        return masked ? stringValue(u"***"_s) : stringValue(value.toString());
    }
}

} // namespace

namespace Internal {

bool isSecretKey(const QString &name)
{
    static const QStringList parts{u"secret"_s,
                                   u"token"_s,
                                   u"password"_s,
                                   u"passwd"_s,
                                   u"api_key"_s,
                                   u"apikey"_s,
                                   u"private_key"_s};
    const QString lower = name.toLower();
    if (lower == u"key"_s)
        return true;
    return std::any_of(parts.begin(), parts.end(), [&lower](const QString &part) {
        return lower.contains(part);
    });
}

QString tomlValue(const KeySpec &key, const QVariant &value, bool maskSecrets)
{
    switch (key.type) {
    case KeyType::Boolean:
        return boolean(value.toBool());
    case KeyType::Integer:
        return QString::number(value.toLongLong());
    case KeyType::Size:
        return size(value.toLongLong());
    case KeyType::String:
    case KeyType::Choice: {
        const QString text = value.toString();
        return stringValue(maskSecrets && key.secret && !text.isEmpty() ? u"***"_s : text);
    }
    case KeyType::StringList:
        return stringList(value.toStringList());
    case KeyType::Table:
        return inlineTable(value.toMap(), maskSecrets, false);
    }
    return QString();
}

} // namespace Internal

QString Config::toToml(bool maskSecrets) const
{
    QString out;
    const auto writeKeys = [this, &out, maskSecrets](const Internal::SectionSpec &section,
                                                     qsizetype entry) {
        if (!out.isEmpty())
            out += QLatin1Char('\n');
        out += section.header() + QLatin1Char('\n');
        for (const Internal::KeySpec &key : section.keys) {
            const QVariant value = key.get(*this, entry);
            if (!key.emptyMeans.isEmpty() && value.toString().isEmpty())
                continue; // unset: the key it defers to says what applies
            out += key.name + u" = "_s + Internal::tomlValue(key, value, maskSecrets)
                + QLatin1Char('\n');
        }
    };
    for (const Internal::SectionSpec &section : Internal::schemaSections()) {
        if (section.isRefused())
            continue;
        if (section.kind == Internal::SectionSpec::Kind::Table) {
            writeKeys(section, 0);
            continue;
        }
        const qsizetype count = section.count(*this);
        for (qsizetype entry = 0; entry < count; ++entry)
            writeKeys(section, entry);
    }
    return out;
}

} // namespace Mtw
