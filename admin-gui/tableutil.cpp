// SPDX-License-Identifier: MIT
#include "tableutil.h"

#include <QHeaderView>
#include <QTableView>

namespace Mtw {

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
}

} // namespace Mtw
