// SPDX-License-Identifier: MIT
#include "runserverdialog.h"

#include "localserver.h"
#include "providerkeys.h"
#include "providerkeysdialog.h"
#include "theme.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHostAddress>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace Mtw {

using namespace Qt::StringLiterals;

RunServerDialog::RunServerDialog(QWidget *parent)
    : QDialog(parent)
    , m_path(new QLineEdit(this))
    , m_host(new QLineEdit(u"127.0.0.1"_s, this))
    , m_port(new QSpinBox(this))
    , m_status(new QLabel(this))
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
    , m_keysLabel(new QLabel(this))
    , m_keysButton(new QPushButton(tr("Provider &Keys…"), this))
{
    setWindowTitle(tr("Run a Server Here"));
    m_path->setPlaceholderText(tr("none: built-in defaults"));
    m_path->setClearButtonEnabled(true);
    m_path->setMinimumWidth(360);
    auto *browseButton = new QPushButton(tr("&Browse…"), this);
    connect(browseButton, &QPushButton::clicked, this, &RunServerDialog::browse);
    auto *pathRow = new QHBoxLayout;
    pathRow->addWidget(m_path, 1);
    pathRow->addWidget(browseButton);

    m_port->setRange(0, 65535);
    m_port->setValue(8080);
    m_port->setSpecialValueText(tr("any free port"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("&Start"));

    auto *form = new QFormLayout(this);
    // A label of its own: addRow() with a layout gives the label no buddy, and a label without
    // one shows its "&" literally.
    auto *pathLabel = new QLabel(tr("&Config file:"), this);
    pathLabel->setBuddy(m_path);
    form->addRow(pathLabel, pathRow);
    form->addRow(tr("&Host:"), m_host);
    form->addRow(tr("&Port:"), m_port);
    form->addRow(QString(), m_status);
    auto *keysRow = new QHBoxLayout;
    m_keysLabel->setWordWrap(true);
    keysRow->addWidget(m_keysLabel, 1);
    keysRow->addWidget(m_keysButton);
    m_keysRowLabel = new QLabel(tr("API keys:"), this);
    form->addRow(m_keysRowLabel, keysRow);
    for (QWidget *widget : {static_cast<QWidget *>(m_keysRowLabel),
                            static_cast<QWidget *>(m_keysLabel),
                            static_cast<QWidget *>(m_keysButton)})
        widget->setVisible(false);
    connect(m_keysButton, &QPushButton::clicked, this, [this] {
        if (!m_keys)
            return;
        ProviderKeysDialog dialog(m_keys, ProviderKeyStore::modulesTakingKeys(m_config), this);
        dialog.exec();
    });
    form->addRow(m_buttons);

    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_path, &QLineEdit::editingFinished, this, &RunServerDialog::validate);
    connect(m_path, &QLineEdit::textChanged, this, [this](const QString &text) {
        if (text.isEmpty())
            validate();
    });
    connect(m_host, &QLineEdit::textChanged, this, &RunServerDialog::validate);
    connect(m_port, &QSpinBox::valueChanged, this, &RunServerDialog::validate);
    validate();
}

void RunServerDialog::setConfigPath(const QString &path)
{
    m_path->setText(path);
    // The file's own address is the starting point; the fields may still override it.
    if (!path.isEmpty()) {
        if (const Result<Config> config = LocalServer::makeConfig(path, QString(), -1)) {
            m_host->setText(config->server.host);
            m_port->setValue(config->server.port);
        }
    }
    validate();
}

QString RunServerDialog::configPath() const
{
    return m_path->text().trimmed();
}

QString RunServerDialog::host() const
{
    return m_host->text().trimmed();
}

int RunServerDialog::port() const
{
    return m_port->value();
}

void RunServerDialog::setPort(int port)
{
    m_port->setValue(port);
}

// ~QDialog hides the dialog, and the hide takes the focus from a line edit, whose
// editingFinished would then call validate() on a RunServerDialog already destroyed (UBSan:
// "downcast ... which does not point to an object of type 'RunServerDialog'"). Nothing of this
// dialog may run after its own destructor.
RunServerDialog::~RunServerDialog()
{
    m_path->disconnect(this);
    m_host->disconnect(this);
    m_port->disconnect(this);
}

void RunServerDialog::setProviderKeys(ProviderKeyStore *keys)
{
    m_keys = keys;
    m_keysRowLabel->setVisible(keys != nullptr);
    m_keysLabel->setVisible(keys != nullptr);
    m_keysButton->setVisible(keys != nullptr);
    validate();
}

void RunServerDialog::setAddress(const QString &host, int port)
{
    m_host->setText(host);
    m_port->setValue(port);
    validate();
}

void RunServerDialog::browse()
{
    const QString path = QFileDialog::getOpenFileName(this,
                                                      tr("Choose a Config File"),
                                                      configPath(),
                                                      tr("TOML files (*.toml);;All files (*)"));
    if (!path.isEmpty())
        setConfigPath(path);
}

void RunServerDialog::validate()
{
    const Result<Config> config = LocalServer::makeConfig(configPath(), host(), port());
    bool ok = bool(config) && !host().isEmpty();
    if (!config) {
        m_status->setText(config.error().message);
        m_status->setStyleSheet(u"color: %1;"_s.arg(errorTextColor(palette()).name()));
    } else {
        m_config = *config;
        m_status->setStyleSheet(QString());
        const QString address =
            port() == 0 ? tr("%1, any free port").arg(host()) : u"%1:%2"_s.arg(host()).arg(port());
        QString text = configPath().isEmpty()
            ? tr("Runs with the built-in defaults on %1.").arg(address)
            : tr("The file is valid. Listens on %1.").arg(address);
        const QHostAddress bound(host());
        if (bound == QHostAddress::AnyIPv4 || bound == QHostAddress::AnyIPv6
            || bound == QHostAddress::Any)
            text += u' ' + tr("That is every network interface: other machines can connect.");
        m_status->setText(text);
        const QStringList modules = ProviderKeyStore::modulesTakingKeys(m_config);
        m_keysLabel->setText(modules.isEmpty()
                                 ? tr("No module of this configuration takes a provider key.")
                                 : tr("Stored keys go to: %1").arg(modules.join(u", "_s)));
    }
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(ok);
}

} // namespace Mtw
