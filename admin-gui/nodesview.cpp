// SPDX-License-Identifier: MIT
#include "nodesview.h"

#include "adminclient.h"
#include "tableutil.h"

#include <QDateTime>
#include <QFont>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QPalette>
#include <QRegularExpression>
#include <QSet>
#include <QSortFilterProxyModel>
#include <QStyle>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

NodeModel::NodeModel(QObject *parent)
    : JsonTableModel(u"id"_s,
                     {{tr("Name"), u"name"_s, Format::Text},
                      {tr("Node id"), u"id"_s, Format::Text},
                      {tr("Address"), u"address"_s, Format::Text},
                      {tr("Version"), u"version"_s, Format::Text},
                      {tr("Connections"), u"connections"_s, Format::Number},
                      {tr("Started"), u"started_at"_s, Format::Time},
                      // Shown as an age (data()); the raw value sorts and aligns as a number.
                      {tr("Last seen"), u"last_seen"_s, Format::Number}},
                     parent)
{ }

void NodeModel::setNodes(const QJsonArray &nodes)
{
    qint64 newest = 0;
    QSet<QString> ids;
    for (const QJsonValue &value : nodes) {
        const QJsonObject node = value.toObject();
        newest = std::max(newest, qint64(node.value(u"last_seen"_s).toDouble()));
        ids.insert(node.value(u"id"_s).toString());
    }
    m_redisNowAtAnswer = std::max(QDateTime::currentMSecsSinceEpoch(), newest);
    m_sinceAnswer.start();

    const QStringList known = keys();
    for (const QString &id : known) {
        if (!ids.contains(id))
            remove(id);
    }
    upsertAll(nodes);
    if (m_stale)
        setStale(false);
    else
        tick();
}

void NodeModel::setStale(bool stale)
{
    if (m_stale == stale)
        return;
    m_stale = stale;
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0, 0),
                           index(rowCount() - 1, columnCount() - 1),
                           {Qt::DisplayRole, Qt::ForegroundRole});
}

void NodeModel::tick()
{
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0, LastSeen), index(rowCount() - 1, LastSeen), {Qt::DisplayRole});
}

QString NodeModel::formatAge(qint64 ms)
{
    ms = std::max<qint64>(ms, 0);
    if (ms < 60'000)
        return tr("%1 s ago").arg(QLocale().toString(double(ms) / 1000.0, 'f', 1));
    const qint64 s = ms / 1000;
    if (s < 3600)
        return tr("%1 min %2 s ago").arg(s / 60).arg(s % 60);
    if (s < 86400)
        return tr("%1 h %2 min ago").arg(s / 3600).arg(s % 3600 / 60);
    return tr("%1 d %2 h ago").arg(s / 86400).arg(s % 86400 / 3600);
}

qint64 NodeModel::ageOf(const QJsonObject &node) const
{
    if (!m_sinceAnswer.isValid())
        return 0;
    const qint64 lastSeen = qint64(node.value(u"last_seen"_s).toDouble());
    return std::max<qint64>(0, m_redisNowAtAnswer + m_sinceAnswer.elapsed() - lastSeen);
}

QVariant NodeModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    switch (role) {
    case Qt::DisplayRole: {
        if (index.column() != Name && index.column() != LastSeen)
            break;
        const QJsonObject node = object(keyAt(index.row()));
        if (index.column() == LastSeen)
            return formatAge(ageOf(node));
        const QString name = JsonTableModel::data(index, role).toString();
        return node.value(u"self"_s).toBool() ? tr("%1 (this node)").arg(name) : name;
    }
    case Qt::ToolTipRole:
        if (index.column() == LastSeen || index.column() == Started) {
            const QJsonValue time =
                object(keyAt(index.row()))
                    .value(index.column() == LastSeen ? u"last_seen"_s : u"started_at"_s);
            const QString local =
                QDateTime::fromMSecsSinceEpoch(qint64(time.toDouble())).toString(Qt::ISODateWithMs);
            return index.column() == LastSeen ? tr("%1 (Redis's clock)").arg(local) : local;
        }
        break;
    case Qt::FontRole:
        if (object(keyAt(index.row())).value(u"self"_s).toBool()) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    case Qt::ForegroundRole:
        // The palette's own disabled text colour, so it stays readable on a dark palette.
        if (m_stale)
            return QGuiApplication::palette().brush(QPalette::Disabled, QPalette::Text);
        return {};
    case Qt::TextAlignmentRole:
        // An age in words, not a number: beside the other values, not at the far right.
        if (index.column() == LastSeen)
            return QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter);
        break;
    case IsSelfRole:
        return object(keyAt(index.row())).value(u"self"_s).toBool();
    case StaleRole:
        return m_stale;
    case SortRole:
        // Ports as numbers: 127.0.0.1:9000 before 127.0.0.1:10000.
        if (index.column() == Address) {
            const QString address = object(keyAt(index.row())).value(u"address"_s).toString();
            const qsizetype colon = address.lastIndexOf(u':');
            if (colon > 0)
                return address.left(colon + 1) + address.mid(colon + 1).rightJustified(5, u'0');
            return address;
        }
        break;
    default:
        break;
    }
    return JsonTableModel::data(index, role);
}

namespace {

// Stale rows are drawn in the palette's disabled colours, the selected one too: a selection
// drawn in the normal colours would look like fresh data.
class NodeDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;

protected:
    void initStyleOption(QStyleOptionViewItem *option, const QModelIndex &index) const override
    {
        QStyledItemDelegate::initStyleOption(option, index);
        if (!index.data(NodeModel::StaleRole).toBool())
            return;
        for (const auto role : {QPalette::Highlight, QPalette::HighlightedText}) {
            const QBrush disabled = option->palette.brush(QPalette::Disabled, role);
            option->palette.setBrush(QPalette::Active, role, disabled);
            option->palette.setBrush(QPalette::Inactive, role, disabled);
        }
    }
};

} // namespace

NodesView::NodesView(AdminClient *client, QWidget *parent)
    : QWidget(parent)
    , m_client(client)
    , m_model(new NodeModel(this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_table(new QTableView(this))
    , m_statusIcon(new QLabel(this))
    , m_statusText(new QLabel(this))
    , m_pollTimer(new QTimer(this))
    , m_tickTimer(new QTimer(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(JsonTableModel::SortRole);

    m_statusText->setWordWrap(true);
    m_statusText->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_statusText->setAccessibleName(tr("Cluster status"));
    auto *statusRow = new QHBoxLayout;
    statusRow->addWidget(m_statusIcon, 0, Qt::AlignTop);
    statusRow->addWidget(m_statusText, 1);

    m_table->setModel(m_proxy);
    m_table->setItemDelegate(new NodeDelegate(m_table));
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(NodeModel::Address, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    fitColumns(m_table,
               {u"node-01 (this node)"_s,
                u"node-01-01HV3K7Q2Z"_s,
                u"10.0.100.120:8080"_s,
                u"0.10.0-rc1"_s,
                u"000,000"_s,
                u"2024-03-31 12:00:00"_s,
                u"59 min 59 s ago"_s});

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(statusRow);
    layout->addWidget(m_table, 1);

    m_pollTimer->setInterval(pollInterval);
    connect(m_pollTimer, &QTimer::timeout, this, &NodesView::refresh);
    m_tickTimer->setInterval(tickInterval);
    connect(m_tickTimer, &QTimer::timeout, m_model, &NodeModel::tick);
    connect(m_client, &AdminClient::stateChanged, this, &NodesView::onStateChanged);
    onStateChanged();
}

QString NodesView::statusText() const
{
    return m_statusText->text();
}

bool NodesView::isPolling() const
{
    return m_pollTimer->isActive();
}

void NodesView::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    refresh();
    m_pollTimer->start();
    m_tickTimer->start();
}

void NodesView::hideEvent(QHideEvent *event)
{
    // Hidden behind another view or minimized: nobody reads the table, so the server is not asked.
    m_pollTimer->stop();
    m_tickTimer->stop();
    QWidget::hideEvent(event);
}

void NodesView::onStateChanged()
{
    if (m_client->state() == AdminClient::State::Connected) {
        setStatus(Status::Loading, tr("Asking the server for its nodes…"));
        if (isVisible())
            refresh();
        return;
    }
    m_model->clear();
    setStatus(Status::NotConnected, tr("Not connected to a server."));
}

void NodesView::refresh()
{
    if (m_awaiting || m_client->state() != AdminClient::State::Connected)
        return;
    m_awaiting = true;
    m_client->call(u"nodes"_s, {}, this, [this](const ActionResult &result) { onAnswer(result); });
}

void NodesView::onAnswer(const ActionResult &result)
{
    m_awaiting = false;
    if (result.ok) {
        const QJsonObject answer = result.data.toObject();
        if (!answer.value(u"cluster"_s).toBool()) {
            m_model->clear();
            setStatus(Status::SingleNode, tr("Single node (no cluster broker)"));
        } else {
            const QJsonArray nodes = answer.value(u"nodes"_s).toArray();
            m_model->setNodes(nodes);
            // Spelled out: without a translation %n would leave "node(s)".
            setStatus(Status::Cluster,
                      nodes.size() == 1 ? tr("Cluster: 1 node")
                                        : tr("Cluster: %1 nodes").arg(nodes.size()));
        }
    } else if (result.errorCode == 503) {
        // The registry is in Redis: without it the last answer is all there is. Its rows stay,
        // greyed out, with their ages still growing.
        QString why = result.errorMessage;
        why.remove(QRegularExpression(u"^cluster broker unreachable: "_s));
        m_model->setStale(true);
        setStatus(
            Status::Unreachable,
            m_model->rowCount() > 0
                ? tr("Redis unreachable: %1\nThe table shows the nodes as last seen.").arg(why)
                : tr("Redis unreachable: %1").arg(why));
    } else {
        m_model->clear();
        setStatus(Status::Failed, tr("Could not list the nodes: %1").arg(result.errorMessage));
    }
    Q_EMIT nodesLoaded(m_status);
}

void NodesView::setStatus(Status status, const QString &text)
{
    m_status = status;
    m_statusText->setText(text);
    const bool warn = status == Status::Unreachable || status == Status::Failed;
    const int size = style()->pixelMetric(QStyle::PM_SmallIconSize, nullptr, this);
    m_statusIcon->setPixmap(
        style()
            ->standardIcon(warn ? QStyle::SP_MessageBoxWarning : QStyle::SP_MessageBoxInformation)
            .pixmap(size, size));
    // Which node this is and how it reaches Redis, as the snapshot said.
    const QJsonObject cluster = m_client->serverInfo().value(u"cluster"_s).toObject();
    m_statusText->setToolTip(cluster.isEmpty() ? QString()
                                               : tr("This node: %1\n%2")
                                                     .arg(cluster.value(u"node_id"_s).toString(),
                                                          cluster.value(u"detail"_s).toString()));
}

} // namespace Mtw
