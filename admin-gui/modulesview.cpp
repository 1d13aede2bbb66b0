// SPDX-License-Identifier: MIT
#include "modulesview.h"

#include "jsontablemodel.h"
#include "tableutil.h"
#include "theme.h"

#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

ModulesView::ModulesView(ModuleModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_table(new QTableView(this))
    , m_summary(new QLabel(this))
    , m_detail(new QLabel(this))
{
    setUpRowTable(m_table,
                  model,
                  0,
                  {u"mtw-broker-redis"_s,
                   u"JWT authentication"_s,
                   u"10.10.10"_s,
                   u"storage"_s,
                   u"discovered"_s,
                   u"unhealthy"_s,
                   u"connected to redis"_s,
                   u"yes"_s,
                   u"module 'mtw-broker-redis' not found"_s});

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
            &ModulesView::showDetail);
    for (auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved}) {
        connect(model, signal, this, &ModulesView::showDetail);
    }
    connect(model, &QAbstractItemModel::modelReset, this, &ModulesView::showDetail);
    connect(model, &QAbstractItemModel::dataChanged, this, &ModulesView::showDetail);
    showDetail();
}

void ModulesView::showDetail()
{
    int failed = 0;
    int started = 0;
    const QStringList ids = m_model->keys();
    for (const QString &id : ids) {
        const QString state = m_model->object(id).value(u"state"_s).toString();
        failed += state == "failed"_L1;
        started += state == "started"_L1;
    }
    m_summary->setText(ids.isEmpty()
                           ? tr("No modules are loaded: the server runs with its "
                                "built-in features only.")
                           : tr("%n module(s): %1 started, %2 failed", nullptr, int(ids.size()))
                                 .arg(started)
                                 .arg(failed));

    const QModelIndex current = m_table->selectionModel()->currentIndex();
    if (!current.isValid()) {
        m_detail->setText(tr("Select a module to see its details."));
        return;
    }
    const QJsonObject module = m_model->object(current.data(JsonTableModel::KeyRole).toString());
    QString name = module.value(u"name"_s).toString();
    if (name.isEmpty())
        name = module.value(u"id"_s).toString();
    const QString state = module.value(u"state"_s).toString();
    QString text = u"<b>%1</b> %2"_s.arg(name.toHtmlEscaped(),
                                         module.value(u"version"_s).toString().toHtmlEscaped());
    const QString kind = module.value(u"kind"_s).toString();
    if (!kind.isEmpty())
        text += u" (%1)"_s.arg(kind.toHtmlEscaped());
    text += u" — "_s + state.toHtmlEscaped();
    if (state != "failed"_L1) {
        text += tr(", health %1").arg(module.value(u"health"_s).toString().toHtmlEscaped());
        const QString reason = module.value(u"health_reason"_s).toString();
        if (!reason.isEmpty())
            text += u": "_s + reason.toHtmlEscaped();
    }
    const QString error = module.value(u"error"_s).toString();
    if (!error.isEmpty())
        text += tr("<br><span style='color:%1'>Error: %2</span>")
                    .arg(errorTextColor(palette()).name(), error.toHtmlEscaped());
    const QString path = module.value(u"path"_s).toString();
    if (!path.isEmpty())
        text += u"<br>"_s + path.toHtmlEscaped();
    else if (state != "failed"_L1)
        text += u"<br>"_s + tr("Compiled into the program");
    m_detail->setText(text);
}

} // namespace Mtw
