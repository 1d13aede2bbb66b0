// SPDX-License-Identifier: MIT
#pragma once

#include <QWidget>

class QLabel;
class QTableView;

namespace Mtw {

class AgentModel;

// The server's [[agents]]: provider, model, channels and their live numbers (tasks running and
// queued, tokens, provider errors), from the admin API's agent rows. Lives in the GUI thread.
class AgentsView : public QWidget
{
    Q_OBJECT

public:
    explicit AgentsView(AgentModel *model, QWidget *parent = nullptr);

    QTableView *table() const { return m_table; }
    QLabel *summary() const { return m_summary; }
    QLabel *detail() const { return m_detail; }

private:
    void showDetail();

    AgentModel *m_model;
    QTableView *m_table;
    QLabel *m_summary;
    QLabel *m_detail;
};

} // namespace Mtw
