// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>

#include <QDialog>

class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace Mtw {

class ProviderKeyStore;

// "Run a server here": a config file (or the built-in defaults) and the address to listen on,
// 127.0.0.1 unless changed. The file is checked with the core's loader before OK is enabled.
// Lives in the GUI thread.
class RunServerDialog : public QDialog
{
    Q_OBJECT

public:
    explicit RunServerDialog(QWidget *parent = nullptr);
    ~RunServerDialog() override;

    void setConfigPath(const QString &path);
    QString configPath() const;
    QString host() const;
    int port() const;
    void setPort(int port);
    // Host and port together (the Run dialog's saved choice).
    void setAddress(const QString &host, int port);
    // The configuration to run (valid once OK is enabled).
    Config config() const { return m_config; }
    // Shows which modules of the file take a provider key, with a button to the keys.
    void setProviderKeys(ProviderKeyStore *keys);
    QLabel *providerKeysLabel() const { return m_keysLabel; }

private:
    void browse();
    void validate();

    QLineEdit *m_path;
    QLineEdit *m_host;
    QSpinBox *m_port;
    QLabel *m_status;
    QDialogButtonBox *m_buttons;
    QLabel *m_keysRowLabel = nullptr;
    QLabel *m_keysLabel;
    QPushButton *m_keysButton;
    ProviderKeyStore *m_keys = nullptr;
    Config m_config;
};

} // namespace Mtw
