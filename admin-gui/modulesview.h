// SPDX-License-Identifier: MIT
#pragma once

#include <QWidget>

class QLabel;
class QTableView;

namespace Mtw {

class ModuleModel;

// Loaded modules: state, version, health and the error of a failed one. Lives in the GUI thread.
class ModulesView : public QWidget
{
    Q_OBJECT

public:
    explicit ModulesView(ModuleModel *model, QWidget *parent = nullptr);

    QTableView *table() const { return m_table; }

private:
    void showDetail();

    ModuleModel *m_model;
    QTableView *m_table;
    QLabel *m_summary;
    QLabel *m_detail;
};

} // namespace Mtw
