// SPDX-License-Identifier: MIT
#include "connectdialog.h"

#include "tokenstore.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QStyle>

namespace Mtw {

using namespace Qt::StringLiterals;

ConnectDialog::ConnectDialog(const QStringList &recentUrls, TokenStore *tokens, QWidget *parent)
    : QDialog(parent)
    , m_tokens(tokens)
    , m_url(new QComboBox(this))
    , m_token(new QLineEdit(this))
    , m_caFile(new QLineEdit(this))
    , m_remember(new QCheckBox(tr("&Remember the token in the system keychain"), this))
    , m_hint(new QLabel(this))
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
{
    setWindowTitle(tr("Connect to a Server"));
    m_url->setEditable(true);
    m_url->addItems(recentUrls);
    m_url->setInsertPolicy(QComboBox::NoInsert);
    m_url->setMinimumContentsLength(36);
    if (recentUrls.isEmpty())
        m_url->setEditText(u"ws://127.0.0.1:8080/admin"_s);
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("not needed for a server on this machine without a token"));
    auto *show = m_token->addAction(style()->standardIcon(QStyle::SP_FileDialogContentsView),
                                    QLineEdit::TrailingPosition);
    show->setCheckable(true);
    show->setToolTip(tr("Show the token"));
    connect(show, &QAction::toggled, this, [this](bool visible) {
        m_token->setEchoMode(visible ? QLineEdit::Normal : QLineEdit::Password);
    });
    m_remember->setChecked(true);
    m_hint->setWordWrap(true);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("&Connect"));

    auto *form = new QFormLayout(this);
    form->addRow(tr("Server &URL:"), m_url);
    form->addRow(tr("Admin &token:"), m_token);
    m_caFile->setPlaceholderText(tr("wss:// only; empty trusts the system's CAs"));
    m_caFile->setToolTip(tr("PEM file of the CA that signed the server's TLS certificate"));
    form->addRow(tr("TLS &CA file:"), m_caFile);
    form->addRow(QString(), m_remember);
    form->addRow(QString(), m_hint);
    form->addRow(m_buttons);

    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_url, &QComboBox::editTextChanged, this, &ConnectDialog::validate);
    connect(m_url, &QComboBox::currentIndexChanged, this, &ConnectDialog::lookUpToken);
    connect(m_url->lineEdit(), &QLineEdit::editingFinished, this, &ConnectDialog::lookUpToken);
    connect(m_token, &QLineEdit::textEdited, this, [this] { m_tokenTyped = true; });
    if (m_tokens) {
        connect(m_tokens,
                &TokenStore::loaded,
                this,
                [this](const QString &server, const QString &token, bool ok, const QString &) {
                    if (!ok || m_tokenTyped || server != canonicalUrl(url()))
                        return;
                    m_token->setText(token);
                    m_hint->setText(tr("Token read from the system keychain."));
                });
    }
    validate();
    lookUpToken();
}

QUrl ConnectDialog::url() const
{
    return QUrl::fromUserInput(m_url->currentText().trimmed());
}

void ConnectDialog::setUrl(const QString &url)
{
    m_url->setEditText(url);
    lookUpToken();
}

QString ConnectDialog::token() const
{
    return m_token->text();
}

QString ConnectDialog::caFile() const
{
    return m_caFile->text().trimmed();
}

void ConnectDialog::setCaFile(const QString &path)
{
    m_caFile->setText(path);
}

bool ConnectDialog::rememberToken() const
{
    return m_remember->isChecked();
}

QString ConnectDialog::canonicalUrl(const QUrl &url)
{
    return url
        .adjusted(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment
                  | QUrl::StripTrailingSlash)
        .toString();
}

bool ConnectDialog::isValidAdminUrl(const QUrl &url)
{
    return url.isValid() && !url.host().isEmpty()
        && (url.scheme() == "ws"_L1 || url.scheme() == "wss"_L1);
}

void ConnectDialog::lookUpToken()
{
    if (!m_tokens || m_tokenTyped || !isValidAdminUrl(url()))
        return;
    m_token->clear();
    m_tokens->load(canonicalUrl(url()));
}

void ConnectDialog::validate()
{
    const bool valid = isValidAdminUrl(url());
    m_hint->setText(valid ? QString()
                          : tr("Enter the admin URL, e.g. ws://server.example:8080/admin."));
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(valid);
}

} // namespace Mtw
