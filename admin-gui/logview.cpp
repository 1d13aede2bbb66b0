// SPDX-License-Identifier: MIT
#include "logview.h"

#include "logmodel.h"
#include "tableutil.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollBar>
#include <QTableView>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

LogView::LogView(LogModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_filter(new LogFilterModel(this))
    , m_level(new QComboBox(this))
    , m_category(new QComboBox(this))
    , m_text(new QLineEdit(this))
    , m_pause(new QPushButton(this))
    , m_export(new QPushButton(tr("&Export…"), this))
    , m_table(new QTableView(this))
{
    m_filter->setSourceModel(model);

    m_level->addItem(tr("Debug and above"), 0);
    m_level->addItem(tr("Info and above"), 1);
    m_level->addItem(tr("Warnings and errors"), 2);
    m_level->addItem(tr("Errors only"), 3);
    connect(m_level, &QComboBox::currentIndexChanged, this, [this] {
        m_filter->setMinimumLevel(m_level->currentData().toInt());
    });
    auto *levelLabel = new QLabel(tr("&Level:"), this);
    levelLabel->setBuddy(m_level);

    m_category->addItem(tr("All categories"), QString());
    m_category->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    connect(m_category, &QComboBox::currentIndexChanged, this, [this] {
        m_filter->setCategory(m_category->currentData().toString());
    });
    auto *categoryLabel = new QLabel(tr("&Category:"), this);
    categoryLabel->setBuddy(m_category);
    connect(model, &LogModel::categoriesChanged, this, &LogView::updateCategories);

    m_text->setPlaceholderText(tr("Search messages…"));
    m_text->setClearButtonEnabled(true);
    connect(m_text, &QLineEdit::textChanged, m_filter, &LogFilterModel::setText);
    auto *textLabel = new QLabel(tr("&Search:"), this);
    textLabel->setBuddy(m_text);

    m_pause->setCheckable(true);
    connect(m_pause, &QPushButton::toggled, this, [this](bool paused) {
        m_model->setPaused(paused);
        updatePauseText();
    });
    connect(model, &LogModel::heldBackChanged, this, &LogView::updatePauseText);
    updatePauseText();

    m_table->setModel(m_filter);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setContextMenuPolicy(Qt::ActionsContextMenu);
    auto *copy = new QAction(tr("&Copy"), m_table);
    copy->setShortcut(QKeySequence::Copy);
    copy->setShortcutContext(Qt::WidgetShortcut);
    connect(copy, &QAction::triggered, this, &LogView::copySelection);
    m_table->addAction(copy);
    // QAbstractItemView answers Ctrl+C itself with the current cell alone: the lines instead.
    m_table->installEventFilter(this);
    auto *copyAll = new QAction(tr("Copy &All Shown Lines"), m_table);
    connect(copyAll, &QAction::triggered, this, [this] {
        QApplication::clipboard()->setText(shownText());
    });
    m_table->addAction(copyAll);
    m_export->setToolTip(tr("Save the lines the filters show to a text file"));
    connect(m_export, &QPushButton::clicked, this, &LogView::exportFromDialog);
    m_table->setWordWrap(false);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    fitColumns(m_table, {u"00:00:00.000"_s, u"warning"_s, u"mtw.transport.x"_s});

    // Follow the newest line while the view is scrolled to the bottom.
    connect(m_filter, &QAbstractItemModel::rowsAboutToBeInserted, this, [this] {
        QScrollBar *bar = m_table->verticalScrollBar();
        m_follow = bar->value() >= bar->maximum() - 2;
    });
    connect(m_filter, &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_follow)
            m_table->scrollToBottom();
    });

    auto *bar = new QHBoxLayout;
    bar->addWidget(levelLabel);
    bar->addWidget(m_level);
    bar->addWidget(categoryLabel);
    bar->addWidget(m_category);
    bar->addWidget(textLabel);
    bar->addWidget(m_text, 1);
    bar->addWidget(m_pause);
    bar->addWidget(m_export);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_table, 1);
    updateCategories();
}

void LogView::updateCategories()
{
    const QString current = m_category->currentData().toString();
    const QStringList categories = m_model->categories();
    // Append only the new ones, so the user's choice and the keyboard focus stay.
    for (const QString &category : categories) {
        if (m_category->findData(category) < 0)
            m_category->addItem(category, category);
    }
    m_category->setCurrentIndex(std::max(0, m_category->findData(current)));
}

void LogView::updatePauseText()
{
    const int held = m_model->heldBack();
    if (!m_model->isPaused())
        m_pause->setText(tr("&Pause"));
    else
        m_pause->setText(held > 0 ? tr("&Resume (%n new)", nullptr, held) : tr("&Resume"));
}

} // namespace Mtw

namespace Mtw {

QString LogView::rowsText(const QList<int> &rows) const
{
    QString out;
    for (int row : rows) {
        QStringList fields;
        for (int column = 0; column < m_filter->columnCount(); ++column)
            fields.append(m_filter->index(row, column).data().toString());
        out += fields.join(u'\t') + u'\n';
    }
    return out;
}

QString LogView::shownText() const
{
    QList<int> rows;
    for (int row = 0; row < m_filter->rowCount(); ++row)
        rows.append(row);
    return rowsText(rows);
}

QString LogView::selectedText() const
{
    QList<int> rows;
    const QModelIndexList selected = m_table->selectionModel()->selectedRows();
    for (const QModelIndex &index : selected)
        rows.append(index.row());
    if (rows.isEmpty())
        return shownText();
    std::sort(rows.begin(), rows.end());
    return rowsText(rows);
}

bool LogView::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == m_table && event->type() == QEvent::KeyPress
        && static_cast<QKeyEvent *>(event)->matches(QKeySequence::Copy)) {
        copySelection();
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

void LogView::copySelection()
{
    QApplication::clipboard()->setText(selectedText());
}

bool LogView::exportTo(const QString &path, QString *error) const
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text) || file.write(shownText().toUtf8()) < 0
        || !file.commit()) {
        if (error)
            *error = file.errorString();
        return false;
    }
    return true;
}

void LogView::exportFromDialog()
{
    const QString path =
        QFileDialog::getSaveFileName(this,
                                     tr("Export Log"),
                                     u"mtwserver.log"_s,
                                     tr("Text files (*.log *.txt);;All files (*)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!exportTo(path, &error))
        QMessageBox::warning(this, tr("Export Log"), tr("Could not write %1: %2").arg(path, error));
}

} // namespace Mtw
