// SPDX-License-Identifier: MIT
#include "connectionsview.h"

#include "jsontablemodel.h"
#include "tableutil.h"

#include <QAction>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

ConnectionsView::ConnectionsView(ConnectionModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_proxy(new QSortFilterProxyModel(this))
    , m_filter(new QLineEdit(this))
    , m_table(new QTableView(this))
    , m_count(new QLabel(this))
{
    m_proxy->setSourceModel(model);
    m_proxy->setSortRole(JsonTableModel::SortRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);

    m_filter->setPlaceholderText(tr("Filter by id, address, user, channel…"));
    m_filter->setClearButtonEnabled(true);
    auto *filterLabel = new QLabel(tr("&Filter:"), this);
    filterLabel->setBuddy(m_filter);
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString &text) {
        m_proxy->setFilterFixedString(text);
        updateCount();
    });

    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(ConnectionModel::Since, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    fitColumns(m_table,
               {u"01M7Z4Q1GNZ5CBRMXW52WC9FMW"_s,
                u"127.127.127.127"_s,
                u"user-000"_s,
                u"binary"_s,
                u"chat.general, chat.x"_s,
                u"00,000"_s,
                u"00,000"_s,
                u"100.0 kB"_s,
                u"00:00:00"_s});
    m_table->setContextMenuPolicy(Qt::ActionsContextMenu);
    auto *disconnectAction = new QAction(tr("&Disconnect…"), m_table);
    connect(disconnectAction, &QAction::triggered, this, &ConnectionsView::disconnectRequested);
    m_table->addAction(disconnectAction);

    auto *top = new QHBoxLayout;
    top->addWidget(filterLabel);
    top->addWidget(m_filter, 1);
    top->addWidget(m_count);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_table, 1);

    connect(m_table->selectionModel(),
            &QItemSelectionModel::selectionChanged,
            this,
            &ConnectionsView::selectionChanged);
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, &ConnectionsView::updateCount);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::updateCount);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &ConnectionsView::updateCount);
    // Rows removed under the selection change it without a selectionChanged for the removed
    // ones on every Qt version; tell listeners anyway.
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::selectionChanged);
    updateCount();
}

QStringList ConnectionsView::selectedConnIds() const
{
    QStringList ids;
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        ids.append(index.data(JsonTableModel::KeyRole).toString());
    return ids;
}

bool ConnectionsView::selectConnection(const QString &connId)
{
    const int sourceRow = m_model->rowOf(connId);
    if (sourceRow < 0)
        return false;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(sourceRow, 0));
    if (!index.isValid())
        return false;
    // Through the selection model: QAbstractItemView::setCurrentIndex() reads the keyboard
    // modifiers, and a held Ctrl would toggle the row off again.
    m_table->selectionModel()->setCurrentIndex(index,
                                               QItemSelectionModel::ClearAndSelect
                                                   | QItemSelectionModel::Rows);
    m_table->scrollTo(index);
    return true;
}

void ConnectionsView::updateCount()
{
    const int total = m_model->rowCount();
    const int shown = m_proxy->rowCount();
    m_count->setText(shown == total ? tr("%n connection(s)", nullptr, total)
                                    : tr("%1 of %n connection(s)", nullptr, total).arg(shown));
}

} // namespace Mtw
