// SPDX-License-Identifier: MIT
#pragma once

#include <QWidget>

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
class QTreeWidget;

namespace Mtw {

class AdminClient;
class ChannelModel;

// Channels with their counters, and for the selected one its settings, its members (the
// `presence` action) and its recent messages (the `history` action). Lives in the GUI thread.
class ChannelsView : public QWidget
{
    Q_OBJECT

public:
    explicit ChannelsView(AdminClient *client, QWidget *parent = nullptr);

    QString currentChannel() const { return m_current; }
    bool selectChannel(const QString &name);
    // Fetches presence and history of the selected channel again.
    void refresh();

    QTableView *table() const { return m_table; }
    QTreeWidget *presenceList() const { return m_presence; }
    QTreeWidget *historyList() const { return m_history; }

Q_SIGNALS:
    // Both answers of the last refresh() arrived (for tests).
    void detailsLoaded();

private:
    QWidget *makeDetailPane();
    void onCurrentChanged();
    void showSettings();
    void fillPresence(const QJsonValue &answer);
    void fillHistory(const QJsonValue &answer);

    AdminClient *m_client;
    ChannelModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QLineEdit *m_filter;
    QTableView *m_table;
    QLabel *m_title;
    QLabel *m_settings;
    QTreeWidget *m_presence;
    QTreeWidget *m_history;
    QString m_current;
    int m_pendingAnswers = 0;
    qint64 m_shownMembers = -1;
    qint64 m_shownMessages = -1;
};

} // namespace Mtw
