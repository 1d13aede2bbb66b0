// SPDX-License-Identifier: MIT
#pragma once

#include <QDialog>
#include <QUrl>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;

namespace Mtw {

class TokenStore;

// "Connect to a server": the admin URL (recent ones offered) and the admin token. The token of a
// known server is read from the OS keychain (TokenStore) and never from QSettings. Lives in the
// GUI thread.
class ConnectDialog : public QDialog
{
    Q_OBJECT

public:
    ConnectDialog(const QStringList &recentUrls, TokenStore *tokens, QWidget *parent = nullptr);

    QUrl url() const;
    void setUrl(const QString &url);
    QString token() const;
    bool rememberToken() const;
    // wss:// only: the CA (PEM file) that signed the server's certificate; empty = the
    // system's trust store.
    QString caFile() const;
    void setCaFile(const QString &path);

    // The canonical form of a server URL: the keychain key and the entry in the recent list.
    static QString canonicalUrl(const QUrl &url);
    static bool isValidAdminUrl(const QUrl &url);

private:
    void lookUpToken();
    void validate();

    TokenStore *m_tokens;
    QComboBox *m_url;
    QLineEdit *m_token;
    QLineEdit *m_caFile;
    QCheckBox *m_remember;
    QLabel *m_hint;
    QDialogButtonBox *m_buttons;
    bool m_tokenTyped = false;
};

} // namespace Mtw
