// SPDX-License-Identifier: MIT
#include "jsontablemodel.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QLocale>

#include <climits>
#include <cmath>

namespace Mtw {

using namespace Qt::StringLiterals;

JsonTableModel::JsonTableModel(const QString &keyField,
                               const QList<Column> &columns,
                               QObject *parent)
    : QAbstractTableModel(parent)
    , m_keyField(keyField)
    , m_columns(columns)
{ }

void JsonTableModel::reset(const QJsonArray &rows)
{
    beginResetModel();
    m_rows.clear();
    m_index.clear();
    m_rows.reserve(rows.size());
    m_index.reserve(size_t(rows.size()));
    for (const QJsonValue &value : rows) {
        const QJsonObject json = value.toObject();
        const QString key = json.value(m_keyField).toString();
        if (key.isEmpty())
            continue;
        const auto [it, inserted] = m_index.emplace(key, int(m_rows.size()));
        if (inserted)
            m_rows.append(Row{key, json, valuesOf(json), &it->second});
    }
    endResetModel();
}

void JsonTableModel::upsert(const QJsonObject &json)
{
    const int changed = merge(json);
    if (changed >= 0)
        Q_EMIT dataChanged(index(changed, 0), index(changed, int(m_columns.size()) - 1));
}

int JsonTableModel::merge(const QJsonObject &json, bool insert)
{
    const QString key = json.value(m_keyField).toString();
    if (key.isEmpty())
        return -1;
    const int row = rowOf(key);
    if (row < 0 && !insert)
        return -1;
    if (row < 0) {
        const int at = int(m_rows.size());
        beginInsertRows(QModelIndex(), at, at);
        const auto it = m_index.emplace(key, at).first;
        m_rows.append(Row{key, json, valuesOf(json), &it->second});
        endInsertRows();
        return -1;
    }
    Row &existing = m_rows[row];
    for (auto it = json.constBegin(); it != json.constEnd(); ++it)
        existing.json.insert(it.key(), it.value());
    QVariantList values = valuesOf(existing.json);
    if (values == existing.values)
        return -1; // nothing shown changed: no signal, no re-sort in the proxy
    existing.values = std::move(values);
    return row;
}

void JsonTableModel::upsertAll(const QJsonArray &rows)
{
    mergeAll(rows, true);
}

void JsonTableModel::updateExisting(const QJsonArray &rows)
{
    mergeAll(rows, false);
}

void JsonTableModel::mergeAll(const QJsonArray &rows, bool insert)
{
    // One dataChanged over the span of changed rows: a sorting proxy then re-sorts them in one
    // pass instead of moving rows one signal at a time (3-4x faster at 10,000 rows).
    int first = INT_MAX;
    int last = -1;
    for (const QJsonValue &value : rows) {
        const int changed = merge(value.toObject(), insert);
        if (changed >= 0) {
            first = std::min(first, changed);
            last = std::max(last, changed);
        }
    }
    if (last >= 0)
        Q_EMIT dataChanged(index(first, 0), index(last, int(m_columns.size()) - 1));
}

bool JsonTableModel::remove(const QString &key)
{
    const auto it = m_index.find(key);
    if (it == m_index.end())
        return false;
    const int row = it->second;
    beginRemoveRows(QModelIndex(), row, row);
    m_rows.removeAt(row);
    m_index.erase(it);
    // Rows after the removed one move up by one: renumber them through their index pointers.
    for (int i = row; i < int(m_rows.size()); ++i)
        *m_rows[i].position = i;
    endRemoveRows();
    return true;
}

void JsonTableModel::clear()
{
    reset({});
}

int JsonTableModel::rowOf(const QString &key) const
{
    const auto it = m_index.find(key);
    return it == m_index.end() ? -1 : it->second;
}

QString JsonTableModel::keyAt(int row) const
{
    return row >= 0 && row < int(m_rows.size()) ? m_rows.at(row).key : QString();
}

QJsonObject JsonTableModel::object(const QString &key) const
{
    const int row = rowOf(key);
    return row < 0 ? QJsonObject() : m_rows.at(row).json;
}

QStringList JsonTableModel::keys() const
{
    QStringList out;
    out.reserve(m_rows.size());
    for (const Row &row : m_rows)
        out.append(row.key);
    return out;
}

int JsonTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int JsonTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_columns.size());
}

QVariant JsonTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()))
        return {};
    const Row &row = m_rows.at(index.row());
    const QVariant &value = row.values.at(index.column());
    const Format format = m_columns.at(index.column()).format;
    switch (role) {
    case Qt::DisplayRole:
        return display(value, format);
    case Qt::ToolTipRole:
        return format == Format::Text || format == Format::List ? display(value, format)
                                                                : QVariant();
    case SortRole:
        return value;
    case KeyRole:
        return row.key;
    case Qt::TextAlignmentRole:
        if (format == Format::Number || format == Format::Bytes || format == Format::Rate)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ForegroundRole:
        return foreground(row.json, index.column());
    default:
        return {};
    }
}

QVariant JsonTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation == Qt::Horizontal && role == Qt::DisplayRole && section >= 0
        && section < int(m_columns.size())) {
        return m_columns.at(section).header;
    }
    return QAbstractTableModel::headerData(section, orientation, role);
}

QVariant JsonTableModel::foreground(const QJsonObject &, int) const
{
    return {};
}

QVariantList JsonTableModel::valuesOf(const QJsonObject &json) const
{
    QVariantList values;
    values.reserve(m_columns.size());
    for (const Column &column : m_columns) {
        const QJsonValue value = json.value(column.key);
        switch (column.format) {
        case Format::Number:
        case Format::Bytes:
            values.append(qint64(value.toDouble()));
            break;
        case Format::Rate:
            values.append(value.toDouble());
            break;
        case Format::Bool:
            values.append(value.toBool());
            break;
        case Format::List: {
            QStringList items;
            const QJsonArray array = value.toArray();
            for (const QJsonValue &item : array)
                items.append(item.toString());
            values.append(items.join(u", "_s));
            break;
        }
        case Format::Time:
            values.append(
                value.isString()
                    ? QDateTime::fromString(value.toString(), Qt::ISODate).toMSecsSinceEpoch()
                    : qint64(value.toDouble()));
            break;
        case Format::Text:
            values.append(value.isString() ? value.toString() : value.toVariant().toString());
            break;
        case Format::Endpoint:
            values.append(formatEndpoint(value.toString(), json.value(u"remote_port"_s)));
            break;
        }
    }
    return values;
}

QString JsonTableModel::display(const QVariant &value, Format format) const
{
    switch (format) {
    case Format::Number:
        return QLocale().toString(value.toLongLong());
    case Format::Bytes:
        return formatBytes(value.toLongLong());
    case Format::Rate:
        return QLocale().toString(value.toDouble(), 'f', 1);
    case Format::Bool:
        return value.toBool() ? tr("yes") : tr("no");
    case Format::Time:
        return value.toLongLong() > 0 ? formatTime(QJsonValue(value.toDouble())) : QString();
    case Format::Text:
    case Format::List:
    case Format::Endpoint:
        return value.toString();
    }
    return {};
}

QString JsonTableModel::formatBytes(qint64 bytes)
{
    return QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeTraditionalFormat);
}

QString JsonTableModel::formatEndpoint(const QString &address, const QJsonValue &port)
{
    const int number = port.toInt();
    if (number <= 0)
        return address;
    return address.contains(u':') ? u"[%1]:%2"_s.arg(address).arg(number)
                                  : u"%1:%2"_s.arg(address).arg(number);
}

QString JsonTableModel::formatTime(const QJsonValue &value)
{
    const QDateTime time = value.isString()
        ? QDateTime::fromString(value.toString(), Qt::ISODateWithMs)
        : QDateTime::fromMSecsSinceEpoch(qint64(value.toDouble()));
    if (!time.isValid())
        return value.toString();
    const QDateTime local = time.toLocalTime();
    if (local.date() == QDate::currentDate())
        return local.toString(u"HH:mm:ss"_s);
    return local.toString(u"yyyy-MM-dd HH:mm:ss"_s);
}

ConnectionModel::ConnectionModel(QObject *parent)
    : JsonTableModel(u"conn_id"_s,
                     {{tr("Connection"), u"conn_id"_s, Format::Text},
                      {tr("Remote address"), u"remote_address"_s, Format::Endpoint},
                      {tr("User"), u"user_id"_s, Format::Text},
                      {tr("Mode"), u"mode"_s, Format::Text},
                      {tr("Channels"), u"channels"_s, Format::List},
                      {tr("In"), u"messages_in"_s, Format::Number},
                      {tr("Out"), u"messages_out"_s, Format::Number},
                      {tr("Queued"), u"queue_bytes"_s, Format::Bytes},
                      {tr("Connected"), u"connected_at"_s, Format::Time},
                      {tr("User agent"), u"user_agent"_s, Format::Text}},
                     parent)
{ }

ChannelModel::ChannelModel(QObject *parent)
    : JsonTableModel(u"name"_s,
                     {{tr("Channel"), u"name"_s, Format::Text},
                      {tr("Members"), u"members"_s, Format::Number},
                      {tr("Messages"), u"messages"_s, Format::Number},
                      {tr("Msg/s"), u"messages_per_s_avg"_s, Format::Rate},
                      {tr("History"), u"history"_s, Format::Number},
                      {tr("Presence"), u"presence"_s, Format::Bool}},
                     parent)
{ }

void ChannelModel::sampleRates(qint64 msecsSinceEpoch)
{
    QJsonArray updates;
    std::unordered_map<QString, QList<Sample>> kept;
    const QStringList names = keys();
    for (const QString &name : names) {
        const QJsonObject channel = object(name);
        QList<Sample> samples = std::move(m_rateSamples[name]);
        samples.append(Sample{msecsSinceEpoch, channel.value(u"messages"_s).toDouble()});
        // Keep one sample at or before the window's start, so the window is always full.
        while (samples.size() > 2 && samples.at(1).time <= msecsSinceEpoch - rateWindowMs)
            samples.removeFirst();
        double rate = channel.value(u"messages_per_s"_s).toDouble();
        const qint64 span = samples.constLast().time - samples.constFirst().time;
        if (span > 0)
            rate = std::max(0.0, samples.constLast().messages - samples.constFirst().messages)
                * 1000.0 / double(span);
        updates.append(
            QJsonObject{{u"name"_s, name}, {u"messages_per_s_avg"_s, std::round(rate * 10) / 10}});
        kept.emplace(name, std::move(samples));
    }
    m_rateSamples = std::move(kept);
    updateExisting(updates);
}

ModuleModel::ModuleModel(QObject *parent)
    : JsonTableModel(u"id"_s,
                     {{tr("Module"), u"id"_s, Format::Text},
                      {tr("Name"), u"name"_s, Format::Text},
                      {tr("Version"), u"version"_s, Format::Text},
                      {tr("Kind"), u"kind"_s, Format::Text},
                      {tr("State"), u"state"_s, Format::Text},
                      {tr("Health"), u"health"_s, Format::Text},
                      {tr("Health detail"), u"health_reason"_s, Format::Text},
                      {tr("Required"), u"required"_s, Format::Bool},
                      {tr("Error"), u"error"_s, Format::Text},
                      {tr("Path"), u"path"_s, Format::Text}},
                     parent)
{ }

QVariant ModuleModel::foreground(const QJsonObject &row, int column) const
{
    const QString state = row.value(u"state"_s).toString();
    const QString health = row.value(u"health"_s).toString();
    if (state == "failed"_L1 || (column == 8 && !row.value(u"error"_s).toString().isEmpty()))
        return QBrush(QColor(0xb0, 0x1e, 0x1e));
    if (column == 5 && !health.isEmpty() && health != "ok"_L1 && health != "healthy"_L1)
        return QBrush(QColor(0xb3, 0x6b, 0x00));
    return {};
}

AgentModel::AgentModel(QObject *parent)
    : JsonTableModel(u"name"_s,
                     {{tr("Agent"), u"name"_s, Format::Text},
                      {tr("Provider"), u"provider"_s, Format::Text},
                      {tr("Model"), u"model"_s, Format::Text},
                      {tr("Channels"), u"channels"_s, Format::List},
                      {tr("Running"), u"running"_s, Format::Number},
                      {tr("Queued"), u"queued"_s, Format::Number},
                      {tr("Tokens in"), u"tokens_in"_s, Format::Number},
                      {tr("Tokens out"), u"tokens_out"_s, Format::Number},
                      {tr("Errors"), u"provider_errors"_s, Format::Number}},
                     parent)
{ }

QVariant AgentModel::foreground(const QJsonObject &row, int column) const
{
    if (column == Errors && row.value(u"provider_errors"_s).toInteger() > 0)
        return QBrush(QColor(0xb0, 0x1e, 0x1e));
    return {};
}

} // namespace Mtw
