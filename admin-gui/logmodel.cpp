// SPDX-License-Identifier: MIT
#include "logmodel.h"

#include "theme.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QGuiApplication>
#include <QJsonObject>

#include <algorithm>

namespace Mtw {

using namespace Qt::StringLiterals;

LogModel::LogModel(QObject *parent)
    : QAbstractTableModel(parent)
{ }

int LogModel::levelOf(const QString &name)
{
    if (name == "debug"_L1)
        return 0;
    if (name == "warning"_L1)
        return 2;
    if (name == "error"_L1 || name == "critical"_L1 || name == "fatal"_L1)
        return 3;
    return 1;
}

void LogModel::append(const QJsonArray &entries)
{
    QList<Line> lines;
    lines.reserve(entries.size());
    for (const QJsonValue &value : entries) {
        const QJsonObject entry = value.toObject();
        Line line;
        const QDateTime ts =
            QDateTime::fromString(entry.value(u"ts"_s).toString(), Qt::ISODateWithMs);
        line.time = ts.isValid() ? ts.toLocalTime().toString(u"HH:mm:ss.zzz"_s)
                                 : entry.value(u"ts"_s).toString();
        line.level = levelOf(entry.value(u"level"_s).toString());
        line.category = entry.value(u"category"_s).toString();
        line.message = entry.value(u"message"_s).toString();
        lines.append(std::move(line));
    }
    if (m_paused) {
        m_held.append(lines);
        Q_EMIT heldBackChanged(int(m_held.size()));
        return;
    }
    appendLines(std::move(lines));
}

void LogModel::appendLines(QList<Line> lines)
{
    if (lines.isEmpty())
        return;
    bool newCategory = false;
    for (const Line &line : std::as_const(lines)) {
        if (!m_categories.contains(line.category)) {
            m_categories.insert(line.category);
            newCategory = true;
        }
    }
    // Drop the oldest in one block (a tenth of the limit) rather than one row per new line.
    const int overflow = int(m_lines.size() + lines.size()) - m_maxLines;
    if (overflow > 0) {
        const int drop = std::min(int(m_lines.size()), std::max(overflow, m_maxLines / 10));
        if (drop > 0) {
            beginRemoveRows(QModelIndex(), 0, drop - 1);
            m_lines.remove(0, drop);
            endRemoveRows();
        }
    }
    const int first = int(m_lines.size());
    beginInsertRows(QModelIndex(), first, first + int(lines.size()) - 1);
    m_lines.append(std::move(lines));
    endInsertRows();
    if (newCategory)
        Q_EMIT categoriesChanged();
}

void LogModel::clear()
{
    beginResetModel();
    m_lines.clear();
    m_held.clear();
    endResetModel();
    Q_EMIT heldBackChanged(0);
}

void LogModel::setPaused(bool paused)
{
    if (m_paused == paused)
        return;
    m_paused = paused;
    if (!paused) {
        QList<Line> held;
        held.swap(m_held);
        appendLines(std::move(held));
        Q_EMIT heldBackChanged(0);
    }
}

QStringList LogModel::categories() const
{
    QStringList out(m_categories.cbegin(), m_categories.cend());
    out.sort();
    return out;
}

int LogModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_lines.size());
}

int LogModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LogModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_lines.size()))
        return {};
    const Line &line = m_lines.at(index.row());
    if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
        switch (index.column()) {
        case Time:
            return line.time;
        case Level: {
            static const QString names[] = {u"debug"_s, u"info"_s, u"warning"_s, u"error"_s};
            return names[line.level];
        }
        case Category:
            return line.category;
        case Message:
            return line.message;
        default:
            return {};
        }
    }
    if (role == LevelRole)
        return line.level;
    if (role == Qt::ForegroundRole) {
        if (line.level == 3)
            return QBrush(errorTextColor(QGuiApplication::palette()));
        if (line.level == 2)
            return QBrush(QColor(0x9a, 0x5b, 0x00));
        if (line.level == 0)
            return QBrush(QColor(0x70, 0x70, 0x70));
    }
    return {};
}

QVariant LogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Time:
        return tr("Time");
    case Level:
        return tr("Level");
    case Category:
        return tr("Category");
    case Message:
        return tr("Message");
    default:
        return {};
    }
}

void LogFilterModel::setMinimumLevel(int level)
{
    m_minimumLevel = level;
    invalidateFilter();
}

void LogFilterModel::setCategory(const QString &category)
{
    m_category = category;
    invalidateFilter();
}

void LogFilterModel::setText(const QString &text)
{
    m_text = text;
    invalidateFilter();
}

bool LogFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QAbstractItemModel *model = sourceModel();
    const QModelIndex first = model->index(sourceRow, 0, sourceParent);
    if (model->data(first, LogModel::LevelRole).toInt() < m_minimumLevel)
        return false;
    if (!m_category.isEmpty()
        && model->index(sourceRow, LogModel::Category, sourceParent).data().toString()
            != m_category) {
        return false;
    }
    if (!m_text.isEmpty()
        && !model->index(sourceRow, LogModel::Message, sourceParent)
                .data()
                .toString()
                .contains(m_text, Qt::CaseInsensitive)) {
        return false;
    }
    return true;
}

} // namespace Mtw
