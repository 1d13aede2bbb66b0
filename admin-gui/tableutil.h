// SPDX-License-Identifier: MIT
#pragma once

#include <QSortFilterProxyModel>
#include <QStringList>

class QTableView;

namespace Mtw {

// Gives each column of `view` the width of a typical widest value (`samples`, one per column;
// empty = leave as is) or of its header text with the sort arrow, whichever is wider, so
// neither headers nor typical values are elided. Also sets a row height that fits the font, and
// lets Tab leave the table (Tab moving from cell to cell traps keyboard users in it).
void fitColumns(QTableView *view, const QStringList &samples);

// The admin views' row table over `model`: naturally sorted by the raw values (SortRole) on
// `sortColumn`, one row selected at a time, alternating colours, no row numbers, the last
// column stretched, columns fitted to `samples`.
void setUpRowTable(QTableView *view,
                   QAbstractItemModel *model,
                   int sortColumn,
                   const QStringList &samples);

// Sorts text the way people count: "room.2" before "room.10"; numbers as numbers. Lives in the
// GUI thread.
class NaturalSortProxy : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    // <0, 0, >0: runs of digits compare as numbers, the rest without case.
    static int compareNatural(QStringView a, QStringView b);

protected:
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;
};

} // namespace Mtw
