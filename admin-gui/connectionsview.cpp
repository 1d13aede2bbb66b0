// SPDX-License-Identifier: MIT
#include "connectionsview.h"

#include "jsontablemodel.h"
#include "tableutil.h"

#include <QAction>
#include <QDateTime>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

ConnectionsView::ConnectionsView(ConnectionModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_proxy(new NaturalSortProxy(this))
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
    auto *left = new QWidget(this);
    auto *leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(top);
    leftLayout->addWidget(m_table, 1);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(left);
    splitter->addWidget(makeDetailsPane());
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 1);
    splitter->setChildrenCollapsible(false);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(splitter);

    connect(m_table->selectionModel(),
            &QItemSelectionModel::selectionChanged,
            this,
            &ConnectionsView::selectionChanged);
    connect(m_table->selectionModel(),
            &QItemSelectionModel::currentRowChanged,
            this,
            &ConnectionsView::showDetails);
    connect(m_table, &QTableView::doubleClicked, this, [this] {
        showDetails();
        m_reason->setFocus(Qt::OtherFocusReason);
    });
    connect(m_model, &QAbstractItemModel::dataChanged, this, &ConnectionsView::showDetails);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::showDetails);
    connect(m_model, &QAbstractItemModel::modelReset, this, &ConnectionsView::showDetails);
    // Both sides of "3 of 7": rows the filter hides change the total without any proxy signal.
    for (QAbstractItemModel *counted :
         {static_cast<QAbstractItemModel *>(m_proxy), static_cast<QAbstractItemModel *>(m_model)}) {
        connect(counted, &QAbstractItemModel::rowsInserted, this, &ConnectionsView::updateCount);
        connect(counted, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::updateCount);
        connect(counted, &QAbstractItemModel::modelReset, this, &ConnectionsView::updateCount);
    }
    // Rows removed under the selection change it without a selectionChanged for the removed
    // ones on every Qt version; tell listeners anyway.
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::selectionChanged);
    updateCount();
    showDetails();
}

QWidget *ConnectionsView::makeDetailsPane()
{
    m_details = new QWidget(this);
    auto *layout = new QVBoxLayout(m_details);
    layout->setContentsMargins(0, 0, 0, 0);
    m_detailsTitle = new QLabel(m_details);
    QFont titleFont = m_detailsTitle->font();
    titleFont.setBold(true);
    m_detailsTitle->setFont(titleFont);
    m_detailsTitle->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detailsTitle->setWordWrap(true);
    layout->addWidget(m_detailsTitle);

    // Everything a connection row of the admin API carries.
    auto *form = new QFormLayout;
    const std::pair<const char *, QString> fields[] = {
        {"remote_address", tr("Address:")},
        {"user_id", tr("User:")},
        {"roles", tr("Roles:")},
        {"mode", tr("Mode:")},
        {"channels", tr("Channels:")},
        {"queue_bytes", tr("Queued output:")},
        {"messages_in", tr("Messages in:")},
        {"messages_out", tr("Messages out:")},
        {"connected_at", tr("Connected since:")},
        {"user_agent", tr("User agent:")},
    };
    for (const auto &[key, label] : fields) {
        auto *value = new QLabel(m_details);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        value->setWordWrap(true);
        value->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
        form->addRow(label, value);
        m_fields.insert(QLatin1String(key), value);
    }
    layout->addLayout(form);
    auto *note = new QLabel(tr("The admin API reports no byte counts per connection."), m_details);
    note->setWordWrap(true);
    QPalette notePalette = note->palette();
    notePalette.setColor(QPalette::WindowText, palette().color(QPalette::PlaceholderText));
    note->setPalette(notePalette);
    layout->addWidget(note);

    m_reason = new QLineEdit(m_details);
    m_reason->setPlaceholderText(tr("disconnected from mtwadmin"));
    m_reason->setClearButtonEnabled(true);
    auto *reasonLabel = new QLabel(tr("&Reason:"), m_details);
    reasonLabel->setBuddy(m_reason);
    m_disconnectButton = new QPushButton(tr("Dis&connect…"), m_details);
    m_disconnectButton->setToolTip(
        tr("Close the selected connection(s) with reason Kicked(<reason>)"));
    connect(m_disconnectButton, &QPushButton::clicked, this, &ConnectionsView::disconnectRequested);
    connect(m_reason, &QLineEdit::returnPressed, m_disconnectButton, &QPushButton::click);
    auto *row = new QHBoxLayout;
    row->addWidget(reasonLabel);
    row->addWidget(m_reason, 1);
    layout->addLayout(row);
    layout->addWidget(m_disconnectButton, 0, Qt::AlignRight);
    layout->addStretch(1);
    return m_details;
}

QString ConnectionsView::disconnectReason() const
{
    return m_reason->text().trimmed();
}

QString ConnectionsView::detailText(const QString &field) const
{
    const QLabel *label = m_fields.value(field);
    return label ? label->text() : QString();
}

void ConnectionsView::showDetails()
{
    const QModelIndex current = m_table->selectionModel()->currentIndex();
    const QString connId =
        current.isValid() ? current.data(JsonTableModel::KeyRole).toString() : QString();
    const QJsonObject row = m_model->object(connId);
    m_disconnectButton->setEnabled(!row.isEmpty());
    if (row.isEmpty()) {
        m_detailsTitle->setText(tr("No connection selected"));
        for (QLabel *label : std::as_const(m_fields))
            label->clear();
        return;
    }
    m_detailsTitle->setText(connId);
    for (auto it = m_fields.cbegin(); it != m_fields.cend(); ++it) {
        const QJsonValue value = row.value(it.key());
        QString text;
        if (it.key() == "channels"_L1 || it.key() == "roles"_L1) {
            QStringList names;
            for (const QJsonValue &name : value.toArray())
                names.append(name.toString());
            text = names.isEmpty() ? tr("none") : names.join(u", "_s);
        } else if (it.key() == "remote_address"_L1) {
            text = JsonTableModel::formatEndpoint(value.toString(), row.value(u"remote_port"_s));
        } else if (it.key() == "queue_bytes"_L1) {
            text = JsonTableModel::formatBytes(qint64(value.toDouble()));
        } else if (it.key() == "messages_in"_L1 || it.key() == "messages_out"_L1) {
            text = QLocale().toString(qint64(value.toDouble()));
        } else if (it.key() == "connected_at"_L1) {
            const QDateTime since = QDateTime::fromMSecsSinceEpoch(qint64(value.toDouble()));
            const qint64 seconds = std::max<qint64>(0, since.secsTo(QDateTime::currentDateTime()));
            text = tr("%1 (%2 ago)")
                       .arg(QLocale().toString(since, QLocale::ShortFormat),
                            u"%1:%2:%3"_s.arg(seconds / 3600)
                                .arg((seconds / 60) % 60, 2, 10, QLatin1Char('0'))
                                .arg(seconds % 60, 2, 10, QLatin1Char('0')));
        } else {
            text = value.toVariant().toString();
            if (text.isEmpty())
                text = it.key() == "user_id"_L1 ? tr("anonymous") : tr("not given");
        }
        it.value()->setText(text);
    }
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
