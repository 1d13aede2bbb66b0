// SPDX-License-Identifier: MIT
#pragma once

#include <QJsonObject>
#include <QWidget>

class QLabel;
class QPushButton;

namespace Mtw {

class AdminClient;
class ConfigEditor;

// The server's mtw.toml in the ConfigEditor: fetched with get_config, checked as you type with
// the core's parser, saved with save_config (the server validates again and replaces the file
// atomically), and the keys that need a restart shown. Lives in the GUI thread.
class ConfigView : public QWidget
{
    Q_OBJECT

public:
    explicit ConfigView(AdminClient *client, QWidget *parent = nullptr);

    // Fetches the file from the server (get_config).
    void reload();
    // Sends the text with save_config; savedResult() follows.
    void save();

    ConfigEditor *editor() const { return m_editor; }
    QPushButton *saveButton() const { return m_save; }
    QLabel *statusLabel() const { return m_status; }
    QString path() const { return m_path; }

Q_SIGNALS:
    void loaded();
    // The server's answer to save_config (or the reason it was not sent).
    void savedResult(bool saved, const QString &message);

private:
    void updateButtons();
    void showServerAnswer(const QJsonObject &answer, bool save);
    void setStatus(const QString &text, bool error);

    AdminClient *m_client;
    ConfigEditor *m_editor;
    QLabel *m_pathLabel;
    QLabel *m_status;
    QPushButton *m_reload;
    QPushButton *m_validate;
    QPushButton *m_save;
    QString m_path;
    bool m_loaded = false;
    bool m_busy = false;
};

} // namespace Mtw
