// SPDX-License-Identifier: MIT
#include "channelsview.h"

#include "adminclient.h"
#include "jsontablemodel.h"
#include "messageformat.h"
#include "tableutil.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QFontDatabase>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

ChannelsView::ChannelsView(AdminClient *client, QWidget *parent)
    : QWidget(parent)
    , m_client(client)
    , m_model(client->channels())
    , m_proxy(new NaturalSortProxy(this))
    , m_filter(new QLineEdit(this))
    , m_table(new QTableView(this))
    , m_title(new QLabel(this))
    , m_settings(new QLabel(this))
    , m_presence(new QTreeWidget(this))
    , m_history(new QTreeWidget(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(JsonTableModel::SortRole);
    m_proxy->setFilterKeyColumn(0);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);

    m_filter->setPlaceholderText(tr("Filter channels…"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter,
            &QLineEdit::textChanged,
            m_proxy,
            &QSortFilterProxyModel::setFilterFixedString);
    auto *filterLabel = new QLabel(tr("F&ilter:"), this);
    filterLabel->setBuddy(m_filter);

    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(0, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    fitColumns(
        m_table,
        {u"chat.general.lobby"_s, u"00,000"_s, u"000,000"_s, u"000.0"_s, u"000"_s, u"yes"_s});

    auto *left = new QWidget(this);
    auto *leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    auto *filterRow = new QHBoxLayout;
    filterRow->addWidget(filterLabel);
    filterRow->addWidget(m_filter, 1);
    leftLayout->addLayout(filterRow);
    leftLayout->addWidget(m_table, 1);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(left);
    splitter->addWidget(makeDetailPane());
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    splitter->setChildrenCollapsible(false);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(splitter);

    connect(m_table->selectionModel(),
            &QItemSelectionModel::currentRowChanged,
            this,
            &ChannelsView::onCurrentChanged);
    // Members joined or left, or messages were published: the detail pane follows.
    connect(m_model, &QAbstractItemModel::dataChanged, this, &ChannelsView::onChannelsChanged);
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        m_current.clear();
        onCurrentChanged();
    });
    onCurrentChanged();
}

QWidget *ChannelsView::makeDetailPane()
{
    auto *pane = new QWidget(this);
    auto *layout = new QVBoxLayout(pane);
    layout->setContentsMargins(0, 0, 0, 0);
    QFont titleFont = m_title->font();
    titleFont.setBold(true);
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.2);
    m_title->setFont(titleFont);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_settings->setWordWrap(true);
    m_settings->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *refreshButton = new QPushButton(tr("&Refresh"), pane);
    refreshButton->setShortcut(QKeySequence::Refresh);
    refreshButton->setToolTip(tr("Fetch members and recent messages again (F5)"));
    connect(refreshButton, &QPushButton::clicked, this, &ChannelsView::refresh);
    auto *header = new QHBoxLayout;
    header->addWidget(m_title, 1);
    header->addWidget(refreshButton);
    layout->addLayout(header);
    layout->addWidget(m_settings);

    auto *presenceBox = new QGroupBox(tr("Members (presence)"), pane);
    auto *presenceLayout = new QVBoxLayout(presenceBox);
    m_presence->setHeaderLabels({tr("Connection"), tr("User")});
    m_presence->setRootIsDecorated(false);
    m_presence->setAlternatingRowColors(true);
    m_presence->header()->setStretchLastSection(true);
    presenceLayout->addWidget(m_presence);
    layout->addWidget(presenceBox, 1);

    layout->addWidget(makeMessagesBox(pane), 3);
    return pane;
}

bool ChannelsView::selectChannel(const QString &name)
{
    const int row = m_model->rowOf(name);
    if (row < 0)
        return false;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    if (!index.isValid())
        return false;
    m_table->selectionModel()->setCurrentIndex(index,
                                               QItemSelectionModel::ClearAndSelect
                                                   | QItemSelectionModel::Rows);
    return true;
}

void ChannelsView::onCurrentChanged()
{
    const QModelIndex current = m_table->selectionModel()->currentIndex();
    const QString name =
        current.isValid() ? current.data(JsonTableModel::KeyRole).toString() : QString();
    if (name == m_current && !name.isEmpty())
        return;
    m_current = name;
    m_presence->clear();
    m_history->clear();
    m_inspector->clear();
    m_copy->setEnabled(false);
    m_shownMembers = m_shownMessages = -1;
    showSettings();
    if (!name.isEmpty())
        refresh();
}

void ChannelsView::onChannelsChanged()
{
    if (m_current.isEmpty())
        return;
    if (!isVisible()) {
        m_stale = true; // read again when shown
        return;
    }
    showSettings();
    const QJsonObject channel = m_model->object(m_current);
    // Only what changed: the counters say whether members or messages did.
    if (qint64(channel.value(u"members"_s).toDouble()) != m_shownMembers)
        fetchPresence();
    if (qint64(channel.value(u"messages"_s).toDouble()) != m_shownMessages)
        fetchHistory();
}

void ChannelsView::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    if (std::exchange(m_stale, false) && !m_current.isEmpty())
        refresh();
}

void ChannelsView::showSettings()
{
    if (m_current.isEmpty()) {
        m_title->setText(tr("No channel selected"));
        m_settings->setText(tr("Select a channel to see its members and recent messages."));
        return;
    }
    const QJsonObject channel = m_model->object(m_current);
    m_title->setText(m_current);
    const auto yesNo = [](bool value) { return value ? tr("yes") : tr("no"); };
    const int maxMembers = channel.value(u"max_members"_s).toInt();
    m_settings->setText(
        tr("%1 members (max %2) · %3 messages, %4/s · history %5 of %6 · presence %7 · auth %8 "
           "· binary %9")
            .arg(channel.value(u"members"_s).toInt())
            .arg(maxMembers > 0 ? QString::number(maxMembers) : tr("unlimited"))
            .arg(qint64(channel.value(u"messages"_s).toDouble()))
            .arg(channel.value(u"messages_per_s"_s).toDouble(), 0, 'f', 1)
            .arg(channel.value(u"history"_s).toInt())
            .arg(channel.value(u"history_limit"_s).toInt())
            .arg(yesNo(channel.value(u"presence"_s).toBool()),
                 yesNo(channel.value(u"auth"_s).toBool()),
                 yesNo(channel.value(u"binary"_s).toBool())));
}

void ChannelsView::refresh()
{
    if (m_current.isEmpty())
        return;
    if (!isVisible()) {
        m_stale = true;
        return;
    }
    showSettings();
    fetchPresence();
    fetchHistory();
}

void ChannelsView::answered()
{
    if (--m_pendingAnswers == 0)
        Q_EMIT detailsLoaded();
}

void ChannelsView::fetchPresence()
{
    const QString name = m_current;
    m_shownMembers = qint64(m_model->object(name).value(u"members"_s).toDouble());
    ++m_pendingAnswers;
    ++m_requests;
    m_client->call(u"presence"_s,
                   {{u"channel"_s, name}},
                   this,
                   [this, name](const ActionResult &result) {
                       if (name == m_current) {
                           if (result.ok)
                               fillPresence(result.data);
                           else
                               m_presence->clear();
                       }
                       answered();
                   });
}

void ChannelsView::fetchHistory()
{
    const QString name = m_current;
    m_shownMessages = qint64(m_model->object(name).value(u"messages"_s).toDouble());
    ++m_pendingAnswers;
    ++m_requests;
    m_client->call(u"history"_s,
                   {{u"channel"_s, name}, {u"limit"_s, 100}},
                   this,
                   [this, name](const ActionResult &result) {
                       if (name == m_current) {
                           if (result.ok) {
                               fillHistory(result.data);
                           } else {
                               m_history->clear();
                               auto *item = new QTreeWidgetItem(m_history);
                               item->setText(2, result.errorMessage);
                           }
                       }
                       answered();
                   });
}

void ChannelsView::fillPresence(const QJsonValue &answer)
{
    m_presence->clear();
    const QJsonArray members = answer.toObject().value(u"members"_s).toArray();
    QList<QTreeWidgetItem *> items;
    for (const QJsonValue &value : members) {
        const QJsonObject member = value.toObject();
        auto *item = new QTreeWidgetItem;
        item->setText(0, member.value(u"conn_id"_s).toString());
        item->setText(1, member.value(u"user_id"_s).toString());
        items.append(item);
    }
    m_presence->addTopLevelItems(items);
    m_presence->resizeColumnToContents(0);
}

QWidget *ChannelsView::makeMessagesBox(QWidget *parent)
{
    auto *box = new QGroupBox(tr("Messages (history, newest first)"), parent);
    auto *layout = new QVBoxLayout(box);
    m_history->setHeaderLabels({tr("Time"), tr("From"), tr("Payload")});
    m_history->setRootIsDecorated(false);
    m_history->setAlternatingRowColors(true);
    m_history->setWordWrap(false);
    m_history->setTextElideMode(Qt::ElideMiddle); // conn ids: the ends tell them apart
    m_history->header()->setStretchLastSection(true);
    m_history->setAccessibleName(tr("Messages"));
    connect(m_history, &QTreeWidget::currentItemChanged, this, &ChannelsView::showMessage);
    // Picking an older message means reading it: stop jumping to the newest.
    connect(m_history, &QTreeWidget::itemClicked, this, [this](QTreeWidgetItem *item) {
        if (m_history->indexOfTopLevelItem(item) > 0)
            m_follow->setChecked(false);
    });

    m_inspector = new QPlainTextEdit(box);
    m_inspector->setReadOnly(true);
    m_inspector->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_inspector->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_inspector->setPlaceholderText(tr("Select a message to see its whole payload."));
    m_inspector->setAccessibleName(tr("Message inspector"));
    m_inspector->setTabChangesFocus(true);

    m_follow = new QCheckBox(tr("&Follow new messages"), box);
    m_follow->setToolTip(tr("Select the newest message as it arrives"));
    m_follow->setChecked(true);
    m_copy = new QPushButton(tr("&Copy Payload"), box);
    m_copy->setEnabled(false);
    connect(m_copy, &QPushButton::clicked, this, [this] {
        if (QTreeWidgetItem *item = m_history->currentItem()) {
            const QJsonObject envelope = item->data(0, Qt::UserRole).toJsonObject();
            QApplication::clipboard()->setText(
                formatPayload(envelope.value(u"payload"_s).toObject()));
        }
    });
    auto *row = new QHBoxLayout;
    row->addWidget(m_follow);
    row->addStretch(1);
    row->addWidget(m_copy);

    auto *split = new QSplitter(Qt::Vertical, box);
    split->addWidget(m_history);
    split->addWidget(m_inspector);
    split->setChildrenCollapsible(false);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3); // the inspector is what is read
    layout->addWidget(split, 1);
    layout->addLayout(row);
    return box;
}

bool ChannelsView::selectMessage(const QString &envelopeId)
{
    for (int i = 0; i < m_history->topLevelItemCount(); ++i) {
        QTreeWidgetItem *item = m_history->topLevelItem(i);
        if (item->data(0, Qt::UserRole).toJsonObject().value(u"id"_s).toString() == envelopeId) {
            m_history->setCurrentItem(item);
            return true;
        }
    }
    return false;
}

void ChannelsView::showMessage()
{
    QTreeWidgetItem *item = m_history->currentItem();
    const QJsonObject envelope = item ? item->data(0, Qt::UserRole).toJsonObject() : QJsonObject();
    m_copy->setEnabled(!envelope.isEmpty());
    if (envelope.isEmpty()) {
        m_inspector->clear();
        return;
    }
    const QJsonObject payload = envelope.value(u"payload"_s).toObject();
    const QJsonObject metadata = envelope.value(u"metadata"_s).toObject();
    const QString from = metadata.value(u"from"_s).toString();
    const QString header = tr("id:   %1\ntime: %2\nfrom: %3\nkind: %4")
                               .arg(envelope.value(u"id"_s).toString(),
                                    JsonTableModel::formatTime(envelope.value(u"timestamp"_s)),
                                    from.isEmpty() ? tr("(not given)") : from,
                                    payload.value(u"kind"_s).toString());
    m_inspector->setPlainText(header + u"\n\n"_s + formatPayload(payload));
}

void ChannelsView::fillHistory(const QJsonValue &answer)
{
    // The list is read again whenever the channel's counters change: keep the operator's place
    // unless following, and keep the inspector on the message it shows.
    const QString selected = m_history->currentItem()
        ? m_history->currentItem()->data(0, Qt::UserRole).toJsonObject().value(u"id"_s).toString()
        : QString();
    const QSignalBlocker blocker(m_history);
    m_history->clear();
    const QJsonArray messages = answer.toObject().value(u"messages"_s).toArray();
    QList<QTreeWidgetItem *> items;
    QTreeWidgetItem *keep = nullptr;
    // Newest first: that is what an operator looks for.
    for (auto it = messages.end(); it != messages.begin();) {
        const QJsonObject envelope = (*--it).toObject();
        auto *item = new QTreeWidgetItem;
        item->setData(0, Qt::UserRole, envelope);
        item->setText(0, JsonTableModel::formatTime(envelope.value(u"timestamp"_s)));
        const QString from = envelope.value(u"metadata"_s).toObject().value(u"from"_s).toString();
        item->setText(1, from);
        item->setToolTip(1, from);
        const QString payload = payloadSummary(envelope.value(u"payload"_s).toObject());
        item->setText(2, payload);
        item->setToolTip(2, payload.left(500));
        if (!selected.isEmpty() && envelope.value(u"id"_s).toString() == selected)
            keep = item;
        items.append(item);
    }
    m_history->addTopLevelItems(items);
    m_history->resizeColumnToContents(0);
    m_history->setColumnWidth(1,
                              m_history->fontMetrics().horizontalAdvance(u"01M7Z4…J972M"_s) + 16);
    if (m_follow->isChecked() && !items.isEmpty())
        keep = items.constFirst();
    m_history->setCurrentItem(keep);
    showMessage();
}

} // namespace Mtw
