// SPDX-License-Identifier: MIT
#pragma once

#include "providerkeys.h"

#include <QDialog>

class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace Mtw {

// Provider API keys for the in-process server: one row per provider module (the shipped ones
// and those of the configuration to run) saying whether the keychain holds a key for it, never
// the key; a password field to store one and a button to remove it. Lives in the GUI thread.
class ProviderKeysDialog : public QDialog
{
    Q_OBJECT

public:
    enum Column { Module, Key };

    // `modules`: the configuration's modules that take a key (ProviderKeyStore::
    // modulesTakingKeys), listed before the shipped providers.
    ProviderKeysDialog(ProviderKeyStore *store,
                       const QStringList &modules,
                       QWidget *parent = nullptr);

    // Selects the module's row; false when it is not listed.
    bool selectModule(const QString &module);
    // What the Key column says for `module` ("stored in the keychain", "not stored", …).
    QString stateText(const QString &module) const;
    QLineEdit *keyEdit() const { return m_key; }
    QPushButton *storeButton() const { return m_storeButton; }
    QPushButton *removeButton() const { return m_removeButton; }
    QTreeWidget *table() const { return m_table; }
    QLabel *status() const { return m_status; }

private:
    QTreeWidgetItem *itemOf(const QString &module) const;
    QString selectedModule() const;
    void onState(quint64 request,
                 const QString &module,
                 ProviderKeyStore::State state,
                 const QString &error);
    void storeKey();
    void removeKey();
    void updateButtons();

    ProviderKeyStore *m_keys;
    QTreeWidget *m_table;
    QLineEdit *m_key;
    QPushButton *m_storeButton = nullptr;
    QPushButton *m_removeButton = nullptr;
    QLabel *m_status;
    QDialogButtonBox *m_buttons;
    QMap<QString, ProviderKeyStore::State> m_states;
    quint64 m_busy = 0; // the store or remove under way
};

} // namespace Mtw
