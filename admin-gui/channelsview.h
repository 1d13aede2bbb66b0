// SPDX-License-Identifier: MIT
#pragma once

#include <QJsonObject>
#include <QWidget>

class QCheckBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QTreeWidget;

namespace Mtw {

class AdminClient;
class ChannelModel;

// Channels with their counters, and for the selected one its settings, its members (the
// `presence` action) and its messages (the `history` action) with an inspector that shows a
// message's full payload. The admin API has no message tail, so the list follows new messages
// by reading the history again when the channel's counters say something changed, and only
// while the view is on screen: a hidden view asks the server nothing. Lives in the GUI thread.
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
    QPlainTextEdit *inspector() const { return m_inspector; }
    QPushButton *copyButton() const { return m_copy; }
    QCheckBox *followBox() const { return m_follow; }
    // presence and history requests sent so far (for tests).
    int requestCount() const { return m_requests; }
    // Selects the message with this envelope id in the list; false when it is not there.
    bool selectMessage(const QString &envelopeId);

Q_SIGNALS:
    // Every answer of the last refresh() arrived (for tests).
    void detailsLoaded();

protected:
    void showEvent(QShowEvent *event) override;

private:
    QWidget *makeDetailPane();
    QWidget *makeMessagesBox(QWidget *parent);
    void onCurrentChanged();
    void onChannelsChanged();
    void showSettings();
    void fetchPresence();
    void fetchHistory();
    void answered();
    void fillPresence(const QJsonValue &answer);
    void fillHistory(const QJsonValue &answer);
    void showMessage();

    AdminClient *m_client;
    ChannelModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QLineEdit *m_filter;
    QTableView *m_table;
    QLabel *m_title;
    QLabel *m_settings;
    QTreeWidget *m_presence;
    QTreeWidget *m_history;
    QPlainTextEdit *m_inspector = nullptr;
    QPushButton *m_copy = nullptr;
    QCheckBox *m_follow = nullptr;
    QString m_current;
    int m_pendingAnswers = 0;
    int m_requests = 0;
    bool m_stale = false; // something changed while hidden
    qint64 m_shownMembers = -1;
    qint64 m_shownMessages = -1;
};

} // namespace Mtw
