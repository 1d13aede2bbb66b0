// SPDX-License-Identifier: MIT
#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QUrl>
#include <QWidget>

class QComboBox;
class QLabel;
class QPushButton;

namespace Mtw {

class AdminClient;
class MetricChart;

// Live counters, the server's identity and charts of the session's metrics, each with its own
// scale and unit. Before the first connection it is the first-run screen: what mtwadmin does,
// with a button for each of the two ways in. Lives in the GUI thread.
class DashboardView : public QWidget
{
    Q_OBJECT

public:
    enum Metric {
        MessagesIn,
        MessagesOut,
        Connections,
        BytesIn,
        BytesOut,
        Subscriptions,
        MetricCount
    };

    explicit DashboardView(AdminClient *client, QWidget *parent = nullptr);

    MetricChart *chart(Metric metric) const { return m_charts.value(metric); }
    QComboBox *rangeBox() const { return m_range; }
    // The text shown for a counter ("connections", "messages_in", ...), for tests.
    QString counterText(const QString &key) const;
    // One sample of every chart at `msecsSinceEpoch` (what each counters message adds).
    void addSample(qint64 msecsSinceEpoch, const QJsonObject &counters);
    QWidget *welcomePanel() const { return m_welcome; }
    QPushButton *runButton() const { return m_runButton; }
    QPushButton *connectButton() const { return m_connectButton; }

Q_SIGNALS:
    void runRequested();
    void connectRequested();

private:
    void showServer(const QJsonObject &server);
    void showCounters(const QJsonObject &counters);
    void showDisconnected();
    QWidget *makeCard(const QString &key, const QString &title);
    QWidget *makeWelcome();
    QWidget *makeCharts();

    AdminClient *m_client;
    QLabel *m_serverLabel;
    QWidget *m_welcome = nullptr;
    QWidget *m_cards = nullptr;
    QWidget *m_chartArea = nullptr;
    QPushButton *m_runButton = nullptr;
    QPushButton *m_connectButton = nullptr;
    QComboBox *m_range = nullptr;
    QList<MetricChart *> m_charts;
    QHash<QString, QLabel *> m_values;
    QJsonObject m_server;
    QUrl m_chartedUrl; // the server whose samples the charts hold
    QElapsedTimer m_snapshotClock;
};

} // namespace Mtw
