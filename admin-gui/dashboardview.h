// SPDX-License-Identifier: MIT
#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QWidget>

class QLabel;

namespace Mtw {

class AdminClient;
class RateChart;

// Live counters, the server's identity and a chart of message rates. Lives in the GUI thread.
class DashboardView : public QWidget
{
    Q_OBJECT

public:
    explicit DashboardView(AdminClient *client, QWidget *parent = nullptr);

    RateChart *chart() const { return m_chart; }
    // The text shown for a counter ("connections", "messages_in", ...), for tests.
    QString counterText(const QString &key) const;

private:
    void showServer(const QJsonObject &server);
    void showCounters(const QJsonObject &counters);
    QWidget *makeCard(const QString &key, const QString &title);

    AdminClient *m_client;
    RateChart *m_chart;
    QLabel *m_serverLabel;
    QHash<QString, QLabel *> m_values;
    QJsonObject m_server;
    QElapsedTimer m_snapshotClock;
};

} // namespace Mtw
