// SPDX-License-Identifier: MIT
#pragma once

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QList>
#include <QSet>
#include <QSortFilterProxyModel>

namespace Mtw {

// The server's log lines as the admin API sends them, newest last, at most maxLines (the oldest
// are dropped in blocks). While paused, new lines are held back and appear on resume. Lives in
// the GUI thread.
class LogModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column { Time, Level, Category, Message, ColumnCount };
    enum Role { LevelRole = Qt::UserRole + 1 }; // 0 debug, 1 info, 2 warning, 3 error

    explicit LogModel(QObject *parent = nullptr);

    void append(const QJsonArray &entries);
    void clear();
    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    int heldBack() const { return int(m_held.size()); }
    void setMaxLines(int lines) { m_maxLines = lines; }
    QStringList categories() const;

    static int levelOf(const QString &name);

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

Q_SIGNALS:
    void categoriesChanged();
    void heldBackChanged(int lines);

private:
    struct Line
    {
        QString time;
        int level = 1;
        QString category;
        QString message;
    };
    void appendLines(QList<Line> lines);

    QList<Line> m_lines;
    QList<Line> m_held;
    QSet<QString> m_categories;
    bool m_paused = false;
    int m_maxLines = 20000;
};

// Shows lines at or above a level, of one category (empty = all), containing a text.
class LogFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setMinimumLevel(int level);
    void setCategory(const QString &category);
    void setText(const QString &text);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    int m_minimumLevel = 0;
    QString m_category;
    QString m_text;
};

} // namespace Mtw
