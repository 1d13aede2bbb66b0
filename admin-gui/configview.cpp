// SPDX-License-Identifier: MIT
#include "configview.h"

#include "adminclient.h"
#include "ask.h"
#include "configeditor.h"
#include "theme.h"

#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QHBoxLayout>
#include <QHostAddress>
#include <QJsonArray>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

ConfigView::ConfigView(AdminClient *client, QWidget *parent)
    : QWidget(parent)
    , m_client(client)
    , m_editor(new ConfigEditor(this))
    , m_pathLabel(new QLabel(this))
    , m_status(new QLabel(this))
    , m_reload(new QPushButton(tr("Re&load"), this))
    , m_validate(new QPushButton(tr("&Validate on server"), this))
    , m_save(new QPushButton(tr("&Save"), this))
    , m_watcher(new QFileSystemWatcher(this))
    , m_watchDebounce(new QTimer(this))
    , m_diskTimer(new QTimer(this))
    , m_restartTimer(new QTimer(this))
{
    m_pathLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_pathLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_save->setShortcut(QKeySequence::Save);
    m_save->setToolTip(tr("Validate on the server and replace the file atomically (Ctrl+S)"));
    m_reload->setToolTip(tr("Fetch the file from the server again"));

    makeDiskBanner();

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_pathLabel, 1);
    bar->addWidget(m_reload);
    bar->addWidget(m_validate);
    bar->addWidget(m_save);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_diskBanner);
    layout->addWidget(m_editor, 1);
    layout->addWidget(m_status);

    m_watchDebounce->setSingleShot(true);
    m_watchDebounce->setInterval(200); // an atomic replace is several events
    connect(m_watcher,
            &QFileSystemWatcher::fileChanged,
            m_watchDebounce,
            qOverload<>(&QTimer::start));
    connect(m_watchDebounce, &QTimer::timeout, this, [this] {
        watchFile(); // a replaced file is a new inode: watch it again
        checkDisk();
    });
    m_diskTimer->setInterval(5000);
    connect(m_diskTimer, &QTimer::timeout, this, &ConfigView::checkDisk);
    m_restartTimer->setSingleShot(true);
    m_restartTimer->setInterval(400);
    connect(m_restartTimer, &QTimer::timeout, this, &ConfigView::checkRestartKeys);

    connect(m_reload, &QPushButton::clicked, this, &ConfigView::reload);
    connect(m_save, &QPushButton::clicked, this, &ConfigView::save);
    connect(m_validate, &QPushButton::clicked, this, &ConfigView::validateOnServer);
    connect(m_editor, &ConfigEditor::validityChanged, this, &ConfigView::updateButtons);
    connect(m_editor, &ConfigEditor::validated, this, [this] {
        updateButtons();
        // The hint under the editor compares with what the server runs, which only the server
        // knows (keys saved earlier that wait for a restart, --port and the like): ask it.
        if (m_loaded && m_editor->isValid())
            m_restartTimer->start();
    });
    connect(m_editor, &ConfigEditor::modificationChanged, this, [this] {
        updateButtons();
        updatePathLabel();
    });
    connect(client, &AdminClient::stateChanged, this, &ConfigView::onStateChanged);
    updatePathLabel();
    updateButtons();
}

void ConfigView::validateOnServer()
{
    m_busy = true;
    updateButtons();
    m_client->call(u"validate_config"_s,
                   {{u"text"_s, m_editor->text()}},
                   this,
                   [this](const ActionResult &result) {
                       m_busy = false;
                       updateButtons();
                       if (!result.ok)
                           setStatus(result.errorMessage, true);
                       else
                           showServerAnswer(result.data.toObject(), false);
                   });
}

void ConfigView::onStateChanged()
{
    const AdminClient::State state = m_client->state();
    if (state == AdminClient::State::Connected) {
        if (m_editor->isModified())
            resume(); // reconnected with edits: never replace them unasked
        else
            fetch();
    } else if (state == AdminClient::State::Disconnected) {
        m_loaded = false;
        m_diskTimer->stop();
        if (!m_watcher->files().isEmpty())
            m_watcher->removePaths(m_watcher->files());
    }
    updateButtons();
    updatePathLabel();
}

void ConfigView::makeDiskBanner()
{
    m_diskBanner = new QWidget(this);
    auto *bannerLayout = new QHBoxLayout(m_diskBanner);
    bannerLayout->setContentsMargins(6, 4, 6, 4);
    auto *bannerText = new QLabel(
        tr("The file changed on disk since it was loaded. Reload it (your edits are lost) or "
           "keep your version (saving then replaces the file)."),
        m_diskBanner);
    bannerText->setWordWrap(true);
    m_diskReload = new QPushButton(tr("Reload from Disk"), m_diskBanner);
    m_diskKeep = new QPushButton(tr("Keep Mine"), m_diskBanner);
    bannerLayout->addWidget(bannerText, 1);
    bannerLayout->addWidget(m_diskReload);
    bannerLayout->addWidget(m_diskKeep);
    m_diskBanner->setAttribute(Qt::WA_StyledBackground);
    m_diskBanner->setObjectName(u"diskBanner"_s);
    m_diskBanner->hide();
    connect(m_diskReload, &QPushButton::clicked, this, [this] {
        m_diskBanner->hide();
        applyLoaded(m_diskAnswer);
    });
    connect(m_diskKeep, &QPushButton::clicked, this, [this] {
        m_diskBanner->hide();
        m_keptDiskText = m_diskAnswer.value(u"text"_s).toString();
        setStatus(tr("Keeping your version: saving replaces the file's newer contents."), false);
    });
}

void ConfigView::setDiskCheckInterval(int msecs)
{
    m_diskTimer->setInterval(msecs);
}

void ConfigView::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    m_diskBanner->setStyleSheet(
        u"#diskBanner { %1 }"_s.arg(bannerStyleSheet(palette(), BannerKind::Warning)));
    checkDisk();
    m_diskTimer->start();
}

void ConfigView::hideEvent(QHideEvent *event)
{
    QWidget::hideEvent(event);
    m_diskTimer->stop();
}

void ConfigView::reload()
{
    if (m_editor->isModified()) {
        const int answer = ask(this,
                               Question{tr("Discard Edits?"),
                                        tr("Reloading replaces your unsaved edits with the file "
                                           "from the server."),
                                        {tr("Discard and Reload"), tr("Cancel")},
                                        1,
                                        1,
                                        QMessageBox::Warning});
        if (answer != 0)
            return;
    }
    fetch();
}

void ConfigView::fetch()
{
    m_busy = true;
    updateButtons();
    m_client->call(u"get_config"_s, {}, this, [this](const ActionResult &result) {
        m_busy = false;
        if (!result.ok) {
            setStatus(tr("Could not fetch the configuration: %1").arg(result.errorMessage), true);
            updateButtons();
            return;
        }
        applyLoaded(result.data.toObject());
    });
}

void ConfigView::applyLoaded(const QJsonObject &answer)
{
    m_path = answer.value(u"path"_s).toString();
    const QString text = answer.value(u"text"_s).toString();
    m_baseText = text;
    m_keptDiskText.clear();
    m_diskBanner->hide();
    m_editor->setText(text, m_path.isEmpty() ? u"mtw.toml"_s : QFileInfo(m_path).fileName());
    // The local estimate until the server's answer (checkRestartKeys) replaces it.
    if (const std::optional<Config> running = m_editor->config())
        m_editor->setRunningConfig(*running);
    else
        m_editor->clearRunningConfig();
    m_loaded = true;
    updatePathLabel();
    setStatus(QString(), false);
    updateButtons();
    watchFile();
    if (isVisible())
        m_diskTimer->start();
    m_restartTimer->start(); // the server's restart list for this text
    Q_EMIT loaded();
}

void ConfigView::watchFile()
{
    if (!m_watcher->files().isEmpty())
        m_watcher->removePaths(m_watcher->files());
    // Only a server on this machine has its file here; elsewhere the same path is another file.
    const QString host = m_client->url().host();
    const bool local = host == "localhost"_L1 || QHostAddress(host).isLoopback();
    if (local && !m_path.isEmpty() && QFileInfo::exists(m_path))
        m_watcher->addPath(m_path);
}

void ConfigView::resume()
{
    m_busy = true;
    updateButtons();
    m_client->call(u"get_config"_s, {}, this, [this](const ActionResult &result) {
        m_busy = false;
        if (!result.ok) {
            setStatus(tr("Could not fetch the configuration: %1").arg(result.errorMessage), true);
            updateButtons();
            return;
        }
        const QJsonObject answer = result.data.toObject();
        const QString path = answer.value(u"path"_s).toString();
        const QString text = answer.value(u"text"_s).toString();
        m_loaded = true;
        if (path == m_path && (text == m_baseText || text == m_keptDiskText)) {
            setStatus(tr("Connected again: your unsaved edits are kept."), false);
        } else {
            // Another file, or the file changed meanwhile: the operator decides.
            m_path = path;
            m_diskAnswer = answer;
            setStatus(QString(), false);
            m_diskBanner->show();
            Q_EMIT diskChanged();
        }
        updatePathLabel();
        updateButtons();
        watchFile();
    });
}

void ConfigView::checkDisk()
{
    if (m_checking || m_busy || !m_loaded || m_path.isEmpty()
        || m_client->state() != AdminClient::State::Connected)
        return;
    m_checking = true;
    m_client->call(u"get_config"_s, {}, this, [this](const ActionResult &result) {
        m_checking = false;
        if (!result.ok || m_busy)
            return;
        const QJsonObject answer = result.data.toObject();
        const QString text = answer.value(u"text"_s).toString();
        if (text == m_baseText || text == m_keptDiskText)
            return;
        m_diskAnswer = answer;
        if (!m_editor->isModified()) {
            applyLoaded(answer);
            setStatus(tr("The file changed on disk and was loaded again."), false);
            return;
        }
        setStatus(QString(), false);
        m_diskBanner->show();
        Q_EMIT diskChanged();
    });
}

void ConfigView::checkRestartKeys()
{
    if (!m_loaded || m_busy || m_client->state() != AdminClient::State::Connected)
        return;
    const QString text = m_editor->text();
    m_client->call(
        u"validate_config"_s,
        {{u"text"_s, text}},
        this,
        [this, text](const ActionResult &result) {
            if (!result.ok || m_editor->text() != text)
                return;
            const QJsonObject answer = result.data.toObject();
            if (!answer.value(u"valid"_s).toBool())
                return;
            QStringList keys;
            for (const QJsonValue &key : answer.value(u"restart_required"_s).toArray())
                keys.append(key.toString());
            m_editor->restartLabel()->setText(
                keys.isEmpty()
                    ? tr("No restart required: the server checked it.")
                    : tr("Restart required for: %1 (the server's check).").arg(keys.join(u", "_s)));
            m_editor->restartLabel()->show();
            Q_EMIT restartKeysChecked(keys);
        });
}

void ConfigView::save()
{
    m_editor->validate(); // the debounce may not have run yet
    if (!m_editor->isValid()) {
        const QList<ConfigDiagnostic> diagnostics = m_editor->diagnostics();
        QString first;
        for (const ConfigDiagnostic &diagnostic : diagnostics) {
            if (diagnostic.severity == ConfigDiagnostic::Severity::Error) {
                first = diagnostic.toString();
                break;
            }
        }
        const QString message = tr("Not saved: the file has errors. %1").arg(first);
        setStatus(message, true);
        updateButtons();
        Q_EMIT savedResult(false, message);
        return;
    }
    if (m_path.isEmpty() || m_client->state() != AdminClient::State::Connected) {
        const QString message = tr("Not saved: there is no file to write.");
        setStatus(message, true);
        Q_EMIT savedResult(false, message);
        return;
    }
    m_busy = true;
    m_saving = true;
    updateButtons();
    const QString text = m_editor->text();
    // What is on disk now, right before writing: someone may have changed it since it was
    // loaded, and a save must not silently throw their change away.
    m_client->call(u"get_config"_s, {}, this, [this, text](const ActionResult &result) {
        if (!result.ok) {
            finishSave(false, tr("Not saved: %1").arg(result.errorMessage));
            return;
        }
        const QJsonObject answer = result.data.toObject();
        const QString disk = answer.value(u"text"_s).toString();
        if (disk != m_baseText && disk != m_keptDiskText) {
            const int choice =
                ask(this,
                    Question{tr("The File Changed on Disk"),
                             tr("%1 was changed since it was loaded. Saving "
                                "replaces those changes with your version.")
                                 .arg(m_path),
                             {tr("&Overwrite"), tr("&Reload (Lose My Edits)"), tr("Cancel")},
                             2,
                             2,
                             QMessageBox::Warning});
            if (choice == 1) {
                m_busy = false;
                applyLoaded(answer);
                finishSave(false, tr("Not saved: the file was loaded again from disk."));
                return;
            }
            if (choice != 0) {
                finishSave(false, tr("Not saved: the file changed on disk."));
                return;
            }
        }
        sendSave(text);
    });
}

void ConfigView::sendSave(const QString &text)
{
    m_client->call(u"save_config"_s,
                   {{u"text"_s, text}},
                   this,
                   [this, text](const ActionResult &result) {
                       if (!result.ok) {
                           finishSave(false, tr("Not saved: %1").arg(result.errorMessage));
                           return;
                       }
                       const QJsonObject answer = result.data.toObject();
                       const bool valid = answer.value(u"valid"_s).toBool();
                       if (valid) {
                           m_baseText = text;
                           m_keptDiskText.clear();
                           m_diskBanner->hide();
                           if (m_editor->text() == text)
                               m_editor->setModified(false);
                       }
                       showServerAnswer(answer, true);
                       m_busy = false;
                       m_saving = false;
                       updateButtons();
                       Q_EMIT savedResult(valid, m_status->text());
                   });
}

void ConfigView::finishSave(bool saved, const QString &message)
{
    m_busy = false;
    m_saving = false;
    setStatus(message, !saved);
    updateButtons();
    Q_EMIT savedResult(saved, message);
}

void ConfigView::updatePathLabel()
{
    if (!m_loaded) {
        m_pathLabel->setText(m_client->state() == AdminClient::State::Connected
                                 ? tr("Loading…")
                                 : tr("Not connected."));
        return;
    }
    if (m_path.isEmpty()) {
        m_pathLabel->setText(tr("The server runs on built-in defaults (no file): edits can be "
                                "validated but not saved."));
        return;
    }
    m_pathLabel->setText(m_editor->isModified() ? tr("File: %1 — unsaved changes").arg(m_path)
                                                : tr("File: %1").arg(m_path));
}
void ConfigView::showServerAnswer(const QJsonObject &answer, bool save)
{
    const bool valid = answer.value(u"valid"_s).toBool();
    QStringList problems;
    const QJsonArray diagnostics = answer.value(u"diagnostics"_s).toArray();
    for (const QJsonValue &value : diagnostics) {
        const QJsonObject diagnostic = value.toObject();
        QString text = diagnostic.value(u"text"_s).toString();
        if (text.isEmpty())
            text = u"%1:%2: %3"_s.arg(diagnostic.value(u"line"_s).toInt())
                       .arg(diagnostic.value(u"column"_s).toInt())
                       .arg(diagnostic.value(u"message"_s).toString());
        problems.append(text.toHtmlEscaped());
    }
    QStringList restart;
    const QJsonArray keys = answer.value(u"restart_required"_s).toArray();
    for (const QJsonValue &key : keys)
        restart.append(key.toString().toHtmlEscaped());

    QString text;
    if (!valid)
        text = (save ? tr("<b>Not saved</b>: the server found errors.")
                     : tr("<b>Invalid</b>: the server found errors."));
    else
        text = save ? tr("<b>Saved</b> to %1.").arg(m_path.toHtmlEscaped())
                    : tr("<b>Valid</b> for the server.");
    if (valid && save && answer.contains(u"reloaded"_s)) {
        // The server reloaded the saved file as on SIGHUP (all or nothing).
        if (answer.value(u"reloaded"_s).toBool()) {
            QStringList applied;
            for (const QJsonValue &key : answer.value(u"applied"_s).toArray())
                applied.append(key.toString().toHtmlEscaped());
            text = tr("<b>Saved</b> to %1: %2.")
                       .arg(m_path.toHtmlEscaped(),
                            AdminClient::describeReload(applied, restart).toLower());
        } else {
            QStringList errors;
            for (const QJsonValue &error : answer.value(u"reload_errors"_s).toArray())
                errors.append(error.toString().toHtmlEscaped());
            text = tr("<b>Saved</b> to %1, but the reload was refused (the server keeps its "
                      "configuration): %2")
                       .arg(m_path.toHtmlEscaped(), errors.join(u"<br>"_s));
        }
    } else if (valid) {
        text += u' '
            + (restart.isEmpty() ? tr("No restart required.")
                                 : tr("Restart required for: %1").arg(restart.join(u", "_s)));
        QStringList applied; // the live keys, which the server took with the save
        for (const QJsonValue &key : answer.value(u"applied"_s).toArray())
            applied.append(key.toString().toHtmlEscaped());
        if (!applied.isEmpty())
            text += u' ' + tr("Applied now: %1.").arg(applied.join(u", "_s));
    }
    if (!problems.isEmpty())
        text += u"<br>"_s + problems.mid(0, 5).join(u"<br>"_s);
    setStatus(text, !valid);
}

void ConfigView::setStatus(const QString &text, bool error)
{
    m_status->setText(text);
    m_status->setStyleSheet(error ? u"color: %1;"_s.arg(errorTextColor(palette()).name())
                                  : QString());
    m_status->setVisible(!text.isEmpty());
}

void ConfigView::updateButtons()
{
    const bool connected = m_client->state() == AdminClient::State::Connected;
    m_reload->setEnabled(connected && !m_busy);
    m_validate->setEnabled(connected && m_loaded && !m_busy);
    m_save->setEnabled(connected && m_loaded && !m_busy && !m_path.isEmpty() && m_editor->isValid()
                       && m_editor->isModified());
    m_editor->setEnabled(m_loaded);
}

} // namespace Mtw
