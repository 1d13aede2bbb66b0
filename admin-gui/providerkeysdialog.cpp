// SPDX-License-Identifier: MIT
#include "providerkeysdialog.h"

#include "theme.h"

#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

ProviderKeysDialog::ProviderKeysDialog(ProviderKeyStore *store,
                                       const QStringList &modules,
                                       QWidget *parent)
    : QDialog(parent)
    , m_keys(store)
    , m_table(new QTreeWidget(this))
    , m_key(new QLineEdit(this))
    , m_status(new QLabel(this))
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Close, this))
{
    setWindowTitle(tr("Provider API Keys"));
    auto *intro = new QLabel(
        tr("Keys for the AI provider modules of the server run here. A stored key is given to "
           "its module as api_key when the server starts, in place of what the config "
           "file says; it stays in the system keychain and is never written to mtw.toml, the "
           "log or the environment."),
        this);
    intro->setWordWrap(true);
    intro->setTextFormat(Qt::PlainText);

    m_table->setColumnCount(2);
    m_table->setHeaderLabels({tr("Module"), tr("Key")});
    m_table->setRootIsDecorated(false);
    m_table->setUniformRowHeights(true);
    m_table->header()->setSectionResizeMode(Module, QHeaderView::ResizeToContents);
    m_table->header()->setStretchLastSection(true);
    QStringList listed = modules;
    for (const QString &shipped : ProviderKeyStore::shippedProviders()) {
        if (!listed.contains(shipped))
            listed.append(shipped);
    }
    for (const QString &module : std::as_const(listed)) {
        auto *item = new QTreeWidgetItem(m_table, {module, tr("checking…")});
        item->setData(Module, Qt::UserRole, module);
    }
    m_table->setMinimumHeight(m_table->sizeHintForRow(0) * (int(listed.size()) + 2));

    m_key->setEchoMode(QLineEdit::Password);
    m_key->setClearButtonEnabled(true);
    m_key->setMinimumWidth(320);
    m_storeButton = new QPushButton(tr("&Store Key"), this);
    m_removeButton = new QPushButton(tr("&Remove Key"), this);
    auto *keyRow = new QHBoxLayout;
    keyRow->addWidget(m_key, 1);
    keyRow->addWidget(m_storeButton);
    keyRow->addWidget(m_removeButton);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addWidget(m_table, 1);
    auto *keyLabel = new QLabel(tr("&New key for the selected module:"), this);
    keyLabel->setBuddy(m_key);
    layout->addWidget(keyLabel);
    layout->addLayout(keyRow);
    layout->addWidget(m_status);
    layout->addWidget(m_buttons);

    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_storeButton, &QPushButton::clicked, this, &ProviderKeysDialog::storeKey);
    connect(m_removeButton, &QPushButton::clicked, this, &ProviderKeysDialog::removeKey);
    connect(m_key, &QLineEdit::textChanged, this, &ProviderKeysDialog::updateButtons);
    connect(m_key, &QLineEdit::returnPressed, this, &ProviderKeysDialog::storeKey);
    connect(m_table, &QTreeWidget::currentItemChanged, this, [this] {
        m_key->setPlaceholderText(selectedModule().isEmpty()
                                      ? QString()
                                      : tr("paste the key for %1").arg(selectedModule()));
        updateButtons();
    });
    connect(store, &ProviderKeyStore::stateChanged, this, &ProviderKeysDialog::onState);
    if (m_table->topLevelItemCount() > 0)
        m_table->setCurrentItem(m_table->topLevelItem(0));
    for (const QString &module : std::as_const(listed))
        m_keys->check(module);
    updateButtons();
}

QTreeWidgetItem *ProviderKeysDialog::itemOf(const QString &module) const
{
    for (int i = 0; i < m_table->topLevelItemCount(); ++i) {
        if (m_table->topLevelItem(i)->data(Module, Qt::UserRole).toString() == module)
            return m_table->topLevelItem(i);
    }
    return nullptr;
}

bool ProviderKeysDialog::selectModule(const QString &module)
{
    QTreeWidgetItem *item = itemOf(module);
    if (item)
        m_table->setCurrentItem(item);
    return item != nullptr;
}

QString ProviderKeysDialog::stateText(const QString &module) const
{
    const QTreeWidgetItem *item = itemOf(module);
    return item ? item->text(Key) : QString();
}

QString ProviderKeysDialog::selectedModule() const
{
    const QTreeWidgetItem *item = m_table->currentItem();
    return item ? item->data(Module, Qt::UserRole).toString() : QString();
}

void ProviderKeysDialog::onState(quint64 request,
                                 const QString &module,
                                 ProviderKeyStore::State state,
                                 const QString &error)
{
    QTreeWidgetItem *item = itemOf(module);
    if (!item)
        return;
    m_states.insert(module, state);
    switch (state) {
    case ProviderKeyStore::State::Stored:
        item->setText(Key, tr("stored in the keychain"));
        break;
    case ProviderKeyStore::State::NotStored:
        item->setText(Key, tr("not stored"));
        break;
    case ProviderKeyStore::State::Failed:
        item->setText(Key, tr("unknown: the keychain failed"));
        break;
    }
    item->setForeground(Key,
                        state == ProviderKeyStore::State::Failed ? QBrush(errorTextColor(palette()))
                                                                 : QBrush(palette().text()));
    if (request == m_busy) {
        m_busy = 0;
        m_status->setStyleSheet(state == ProviderKeyStore::State::Failed
                                    ? u"color: %1;"_s.arg(errorTextColor(palette()).name())
                                    : QString());
        if (state == ProviderKeyStore::State::Failed)
            m_status->setText(error);
        else if (state == ProviderKeyStore::State::Stored)
            m_status->setText(tr("The key for %1 is stored. A server run here gets it at its next "
                                 "start.")
                                  .arg(module));
        else
            m_status->setText(tr("The key for %1 is removed. A server run here starts without "
                                 "it from its next start.")
                                  .arg(module));
    } else if (state == ProviderKeyStore::State::Failed && m_status->text().isEmpty()) {
        m_status->setStyleSheet(u"color: %1;"_s.arg(errorTextColor(palette()).name()));
        m_status->setText(error);
    }
    updateButtons();
}

void ProviderKeysDialog::storeKey()
{
    const QString module = selectedModule();
    const QString key = m_key->text().trimmed();
    if (module.isEmpty() || key.isEmpty() || m_busy != 0)
        return;
    // The field never keeps the key once it is on its way to the keychain.
    m_key->clear();
    m_status->setStyleSheet(QString());
    m_status->setText(tr("Storing the key for %1…").arg(module));
    m_busy = m_keys->store(module, key);
    updateButtons();
}

void ProviderKeysDialog::removeKey()
{
    const QString module = selectedModule();
    if (module.isEmpty() || m_busy != 0)
        return;
    m_status->setStyleSheet(QString());
    m_status->setText(tr("Removing the key for %1…").arg(module));
    m_busy = m_keys->remove(module);
    updateButtons();
}

void ProviderKeysDialog::updateButtons()
{
    const QString module = selectedModule();
    const bool idle = m_busy == 0 && !module.isEmpty();
    m_storeButton->setEnabled(idle && !m_key->text().trimmed().isEmpty());
    m_removeButton->setEnabled(idle
                               && m_states.value(module, ProviderKeyStore::State::NotStored)
                                   == ProviderKeyStore::State::Stored);
}

} // namespace Mtw
