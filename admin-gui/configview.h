// SPDX-License-Identifier: MIT
#pragma once

#include <QJsonObject>
#include <QWidget>

class QFileSystemWatcher;
class QLabel;
class QPushButton;
class QTimer;

namespace Mtw {

class AdminClient;
class ConfigEditor;

// The server's mtw.toml in the ConfigEditor: fetched with get_config, checked as you type with
// the core's parser, saved with save_config (the server validates again and replaces the file
// atomically), and the keys that need a restart shown as the server reckons them. Changes made
// to the file by others are noticed (a file watcher when the server is on this machine, a
// get_config every few seconds while shown, and always right before a save): an unedited
// text is reloaded, edits are never overwritten or lost without asking. Lives in the GUI thread.
class ConfigView : public QWidget
{
    Q_OBJECT

public:
    explicit ConfigView(AdminClient *client, QWidget *parent = nullptr);

    // Fetches the file from the server (get_config); asks first when there are edits.
    void reload();
    // Sends the text with save_config; savedResult() follows.
    void save();
    // Compares the file on the server with the text last loaded or saved (get_config).
    void checkDisk();
    bool isSaving() const { return m_saving; }

    ConfigEditor *editor() const { return m_editor; }
    QPushButton *saveButton() const { return m_save; }
    QLabel *statusLabel() const { return m_status; }
    QWidget *diskBanner() const { return m_diskBanner; }
    QPushButton *diskReloadButton() const { return m_diskReload; }
    QPushButton *diskKeepButton() const { return m_diskKeep; }
    QString path() const { return m_path; }
    // How often checkDisk() runs while the view is shown.
    void setDiskCheckInterval(int msecs);

Q_SIGNALS:
    void loaded();
    // The server's answer to save_config (or the reason it was not sent).
    void savedResult(bool saved, const QString &message);
    // The file on the server differs from what was loaded, and there are edits (the banner
    // asks what to do).
    void diskChanged();
    // The restart hint now shows the server's list (validate_config).
    void restartKeysChecked(const QStringList &keys);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void makeDiskBanner();
    void validateOnServer();
    void onStateChanged();
    void fetch();
    void resume();
    void applyLoaded(const QJsonObject &answer);
    void sendSave(const QString &text);
    void checkRestartKeys();
    void watchFile();
    void updateButtons();
    void updatePathLabel();
    void showServerAnswer(const QJsonObject &answer, bool save);
    void setStatus(const QString &text, bool error);
    void finishSave(bool saved, const QString &message);

    AdminClient *m_client;
    ConfigEditor *m_editor;
    QLabel *m_pathLabel;
    QLabel *m_status;
    QPushButton *m_reload;
    QPushButton *m_validate;
    QPushButton *m_save;
    QWidget *m_diskBanner = nullptr;
    QPushButton *m_diskReload = nullptr;
    QPushButton *m_diskKeep = nullptr;
    QFileSystemWatcher *m_watcher;
    QTimer *m_watchDebounce;
    QTimer *m_diskTimer;
    QTimer *m_restartTimer;
    QString m_path;
    QString m_baseText;     // the file as loaded or last saved
    QString m_keptDiskText; // a version on disk the operator chose to overwrite
    QJsonObject m_diskAnswer;
    bool m_loaded = false;
    bool m_busy = false;
    bool m_saving = false;
    bool m_checking = false;
};

} // namespace Mtw
