// SPDX-License-Identifier: MIT
#pragma once

#include "jsontablemodel.h"

#include <QElapsedTimer>
#include <QWidget>

class QLabel;
class QSortFilterProxyModel;
class QTableView;
class QTimer;

namespace Mtw {

class AdminClient;
struct ActionResult;

// The cluster's nodes from the admin API's `nodes` action; key id. "Last seen" is shown as an
// age that grows between answers (tick()), this node's row is bold and says "(this node)", and
// while the registry cannot be read the rows are kept but greyed out (setStale()).
// Lives in the GUI thread.
class NodeModel : public JsonTableModel
{
    Q_OBJECT

public:
    enum ColumnId { Name, Id, Address, Version, Connections, Started, LastSeen };
    enum NodeRole {
        IsSelfRole = KeyRole + 1, // bool: the node the admin client is attached to
        StaleRole,                // bool: the registry could not be read since this answer
    };

    explicit NodeModel(QObject *parent = nullptr);

    // Replaces the rows with `nodes` (one answer), incrementally: rows that are still there are
    // updated in place, rows that are gone are removed. Clears the stale mark.
    void setNodes(const QJsonArray &nodes);
    void setStale(bool stale);
    bool isStale() const { return m_stale; }
    // The ages in "Last seen" moved on: repaint that column.
    void tick();

    // How long ago a heartbeat was, in words: "0.4 s ago", "1 min 5 s ago", "2 h 3 min ago".
    static QString formatAge(qint64 ms);

    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

private:
    qint64 ageOf(const QJsonObject &node) const;

    // `last_seen` is in Redis's clock, not ours. At each answer Redis's "now" is estimated as
    // this computer's clock, but never earlier than the newest heartbeat in the answer (a clock
    // behind Redis's would give negative ages); from there a monotonic timer advances it.
    qint64 m_redisNowAtAnswer = 0;
    QElapsedTimer m_sinceAnswer;
    bool m_stale = false;
};

// The Nodes view: a status line (single node, cluster of N nodes, Redis unreachable) over the
// table of nodes. It asks the server only while it is shown: once when it appears, then every
// pollInterval; the ages tick meanwhile. Lives in the GUI thread.
class NodesView : public QWidget
{
    Q_OBJECT

public:
    enum class Status { NotConnected, Loading, SingleNode, Cluster, Unreachable, Failed };
    Q_ENUM(Status)

    static constexpr int pollInterval = 2000; // ms
    static constexpr int tickInterval = 500;  // ms, the "last seen" ages

    explicit NodesView(AdminClient *client, QWidget *parent = nullptr);

    // Asks the server now (does nothing while an answer is awaited or when not connected).
    void refresh();

    Status status() const { return m_status; }
    QString statusText() const;
    bool isPolling() const;
    NodeModel *model() const { return m_model; }
    QTableView *table() const { return m_table; }
    QLabel *statusLabel() const { return m_statusText; }

Q_SIGNALS:
    // An answer to `nodes` was shown (for tests).
    void nodesLoaded(Mtw::NodesView::Status status);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void onStateChanged();
    void onAnswer(const ActionResult &result);
    void setStatus(Status status, const QString &text);

    AdminClient *m_client;
    NodeModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QLabel *m_statusIcon;
    QLabel *m_statusText;
    QTimer *m_pollTimer;
    QTimer *m_tickTimer;
    Status m_status = Status::NotConnected;
    bool m_awaiting = false;
};

} // namespace Mtw
