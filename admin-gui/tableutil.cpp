// SPDX-License-Identifier: MIT
#include "tableutil.h"

#include "jsontablemodel.h"

#include <QHeaderView>
#include <QTableView>

namespace Mtw {

void setUpRowTable(QTableView *view,
                   QAbstractItemModel *model,
                   int sortColumn,
                   const QStringList &samples)
{
    auto *proxy = new NaturalSortProxy(view);
    proxy->setSourceModel(model);
    proxy->setSortRole(JsonTableModel::SortRole);
    view->setModel(proxy);
    view->setSortingEnabled(true);
    view->sortByColumn(sortColumn, Qt::AscendingOrder);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->verticalHeader()->hide();
    view->horizontalHeader()->setStretchLastSection(true);
    fitColumns(view, samples);
}

void fitColumns(QTableView *view, const QStringList &samples)
{
    const QFontMetrics cells = view->fontMetrics();
    QHeaderView *header = view->horizontalHeader();
    const QFontMetrics headers = header->fontMetrics();
    const QAbstractItemModel *model = view->model();
    for (int column = 0; column < int(samples.size()) && column < model->columnCount(); ++column) {
        if (samples.at(column).isEmpty())
            continue;
        const QString title = model->headerData(column, Qt::Horizontal).toString();
        // Cell margins on both sides; the header also holds the sort indicator.
        const int width = std::max(cells.horizontalAdvance(samples.at(column)) + 16,
                                   headers.horizontalAdvance(title) + 34);
        view->setColumnWidth(column, width);
    }
    view->verticalHeader()->setDefaultSectionSize(cells.height() + 6);
    view->setTabKeyNavigation(false);
}

int NaturalSortProxy::compareNatural(QStringView a, QStringView b)
{
    // Not QCollator's numeric mode: its POSIX back end (the C locale, no ICU) ignores it.
    qsizetype i = 0;
    qsizetype j = 0;
    while (i < a.size() && j < b.size()) {
        if (a.at(i).isDigit() && b.at(j).isDigit()) {
            qsizetype endA = i;
            qsizetype endB = j;
            while (endA < a.size() && a.at(endA).isDigit())
                ++endA;
            while (endB < b.size() && b.at(endB).isDigit())
                ++endB;
            // Leading zeros aside, the longer run is the larger number.
            QStringView numberA = a.sliced(i, endA - i);
            QStringView numberB = b.sliced(j, endB - j);
            while (numberA.size() > 1 && numberA.front() == u'0')
                numberA = numberA.sliced(1);
            while (numberB.size() > 1 && numberB.front() == u'0')
                numberB = numberB.sliced(1);
            if (numberA.size() != numberB.size())
                return numberA.size() < numberB.size() ? -1 : 1;
            if (const int order = numberA.compare(numberB); order != 0)
                return order;
            i = endA;
            j = endB;
            continue;
        }
        const int order = QStringView(a.sliced(i, 1)).compare(b.sliced(j, 1), Qt::CaseInsensitive);
        if (order != 0)
            return order;
        ++i;
        ++j;
    }
    if (i < a.size() || j < b.size())
        return i < a.size() ? 1 : -1;
    return a.compare(b); // equal but for case or zeros: a total, stable order
}

bool NaturalSortProxy::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    const QVariant a = left.data(sortRole());
    const QVariant b = right.data(sortRole());
    if (a.typeId() == QMetaType::QString && b.typeId() == QMetaType::QString)
        return compareNatural(a.toString(), b.toString()) < 0;
    return QSortFilterProxyModel::lessThan(left, right);
}

} // namespace Mtw
