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
// the operator can read. Follows the newest line unless scrolled up. Lines can be copied
// (Ctrl+C, the context menu) and the shown ones exported to a file. Lives in the GUI thread.
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
    QPushButton *exportButton() const { return m_export; }

    // The selected lines (all shown ones when none is selected), tab-separated, one a line.
    QString selectedText() const;
    QString shownText() const;
    // Copies selectedText() to the clipboard (Ctrl+C, the context menu).
    void copySelection();
    // Writes every line the filters show to `path` as UTF-8 text; false with `error` set.
    bool exportTo(const QString &path, QString *error = nullptr) const;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void updateCategories();
    void updatePauseText();
    void exportFromDialog();
    QString rowsText(const QList<int> &rows) const;

    LogModel *m_model;
    LogFilterModel *m_filter;
    QComboBox *m_level;
    QComboBox *m_category;
    QLineEdit *m_text;
    QPushButton *m_pause;
    QPushButton *m_export;
    QTableView *m_table;
    bool m_follow = true;
};

} // namespace Mtw
