// SPDX-License-Identifier: MIT
#pragma once

#include <QWidget>

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;

namespace Mtw {

class ConnectionModel;

// Every open client connection, sortable and filtered as you type (any column). Lives in the GUI
// thread.
class ConnectionsView : public QWidget
{
    Q_OBJECT

public:
    explicit ConnectionsView(ConnectionModel *model, QWidget *parent = nullptr);

    QStringList selectedConnIds() const;
    // Selects the row of `connId` (for tests and for jumping from other views).
    bool selectConnection(const QString &connId);

    QTableView *table() const { return m_table; }
    QLineEdit *filterEdit() const { return m_filter; }
    QSortFilterProxyModel *proxy() const { return m_proxy; }

Q_SIGNALS:
    void selectionChanged();
    // Del or the context menu on the table.
    void disconnectRequested();

private:
    void updateCount();

    ConnectionModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QLineEdit *m_filter;
    QTableView *m_table;
    QLabel *m_count;
};

} // namespace Mtw
