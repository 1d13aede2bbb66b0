// SPDX-License-Identifier: MIT
#pragma once

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableView;

namespace Mtw {

class LogFilterModel;
class LogModel;

// The server's log, live: filter by level, category and text; Pause holds new lines back so
// the operator can read. Follows the newest line unless scrolled up. Lives in the GUI thread.
class LogView : public QWidget
{
    Q_OBJECT

public:
    explicit LogView(LogModel *model, QWidget *parent = nullptr);

    QTableView *table() const { return m_table; }
    QComboBox *levelBox() const { return m_level; }
    QComboBox *categoryBox() const { return m_category; }
    QPushButton *pauseButton() const { return m_pause; }
    LogFilterModel *filter() const { return m_filter; }

private:
    void updateCategories();
    void updatePauseText();

    LogModel *m_model;
    LogFilterModel *m_filter;
    QComboBox *m_level;
    QComboBox *m_category;
    QLineEdit *m_text;
    QPushButton *m_pause;
    QTableView *m_table;
    bool m_follow = true;
};

} // namespace Mtw
