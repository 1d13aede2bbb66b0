// SPDX-License-Identifier: MIT
#pragma once

#include <QHash>
#include <QWidget>

class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace Mtw {

class ConnectionModel;

// Every open client connection, sortable and filtered as you type (any column), and beside the
// table the details of the selected one (double-click a row to go there) with a disconnect
// that carries a reason. Lives in the GUI thread.
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
    QLabel *countLabel() const { return m_count; }
    QWidget *detailsPane() const { return m_details; }
    QLineEdit *reasonEdit() const { return m_reason; }
    QPushButton *disconnectButton() const { return m_disconnectButton; }
    // The reason typed in the details pane (empty: the default one).
    QString disconnectReason() const;
    // The value shown for a field of the details pane ("remote_address", "channels", ...).
    QString detailText(const QString &field) const;

Q_SIGNALS:
    void selectionChanged();
    // Del or the context menu on the table.
    void disconnectRequested();

private:
    void updateCount();
    QWidget *makeDetailsPane();
    void showDetails();

    ConnectionModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QLineEdit *m_filter;
    QTableView *m_table;
    QLabel *m_count;
    QWidget *m_details = nullptr;
    QLabel *m_detailsTitle = nullptr;
    QHash<QString, QLabel *> m_fields;
    QLineEdit *m_reason = nullptr;
    QPushButton *m_disconnectButton = nullptr;
};

} // namespace Mtw
