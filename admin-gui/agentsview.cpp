// SPDX-License-Identifier: MIT
#include "agentsview.h"

#include "jsontablemodel.h"
#include "tableutil.h"

#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QTableView>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

AgentsView::AgentsView(AgentModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_table(new QTableView(this))
    , m_summary(new QLabel(this))
    , m_detail(new QLabel(this))
{
    setUpRowTable(m_table,
                  model,
                  0,
                  {u"support-helper"_s,
                   u"mtw-ai-anthropic"_s,
                   u"claude-sonnet-4-5"_s,
                   u"support.*, help"_s,
                   u"Running"_s,
                   u"Queued"_s,
                   u"1,000,000"_s,
                   u"1,000,000"_s,
                   u"Errors"_s});

    m_detail->setWordWrap(true);
    m_detail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detail->setFrameShape(QFrame::StyledPanel);
    m_detail->setMargin(6);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_detail);

    connect(m_table->selectionModel(),
            &QItemSelectionModel::currentRowChanged,
            this,
            &AgentsView::showDetail);
    for (auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
        connect(model, signal, this, &AgentsView::showDetail);
    connect(model, &QAbstractItemModel::modelReset, this, &AgentsView::showDetail);
    connect(model, &QAbstractItemModel::dataChanged, this, &AgentsView::showDetail);
    showDetail();
}

void AgentsView::showDetail()
{
    qint64 running = 0;
    qint64 queued = 0;
    const QStringList names = m_model->keys();
    for (const QString &name : names) {
        const QJsonObject agent = m_model->object(name);
        running += agent.value(u"running"_s).toInteger();
        queued += agent.value(u"queued"_s).toInteger();
    }
    m_summary->setText(
        names.isEmpty()
            ? tr("No agents: the server's configuration has no [[agents]].")
            : tr("%n agent(s): %1 task(s) running, %2 queued", nullptr, int(names.size()))
                  .arg(running)
                  .arg(queued));

    const QModelIndex current = m_table->selectionModel()->currentIndex();
    if (!current.isValid()) {
        m_detail->setText(tr("Select an agent to see its tasks and errors."));
        return;
    }
    const QJsonObject agent = m_model->object(current.data(JsonTableModel::KeyRole).toString());
    QStringList errors;
    const QJsonObject byKind = agent.value(u"errors_by_kind"_s).toObject();
    for (auto it = byKind.begin(); it != byKind.end(); ++it) {
        if (it.value().toInteger() > 0)
            errors.append(u"%1 %2"_s.arg(it.value().toInteger()).arg(it.key()));
    }
    const QString model = agent.value(u"model"_s).toString();
    m_detail->setText(
        tr("<b>%1</b> on %2, model %3 — %4 completed, %5 failed; provider errors: %6")
            .arg(agent.value(u"name"_s).toString().toHtmlEscaped(),
                 agent.value(u"provider"_s).toString().toHtmlEscaped(),
                 model.isEmpty() ? tr("the provider's default") : model.toHtmlEscaped())
            .arg(agent.value(u"completed"_s).toInteger())
            .arg(agent.value(u"failed"_s).toInteger())
            .arg(errors.isEmpty() ? tr("none") : errors.join(u", "_s).toHtmlEscaped()));
}

} // namespace Mtw
