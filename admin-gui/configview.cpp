// SPDX-License-Identifier: MIT
#include "configview.h"

#include "adminclient.h"
#include "configeditor.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
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
{
    m_pathLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_pathLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_save->setShortcut(QKeySequence::Save);
    m_save->setToolTip(tr("Validate on the server and replace the file atomically (Ctrl+S)"));
    m_reload->setToolTip(tr("Discard edits and fetch the file from the server"));

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_pathLabel, 1);
    bar->addWidget(m_reload);
    bar->addWidget(m_validate);
    bar->addWidget(m_save);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_editor, 1);
    layout->addWidget(m_status);

    connect(m_reload, &QPushButton::clicked, this, &ConfigView::reload);
    connect(m_save, &QPushButton::clicked, this, &ConfigView::save);
    connect(m_validate, &QPushButton::clicked, this, [this] {
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
    });
    connect(m_editor, &ConfigEditor::validityChanged, this, &ConfigView::updateButtons);
    connect(m_editor, &ConfigEditor::validated, this, &ConfigView::updateButtons);
    connect(m_editor, &ConfigEditor::modificationChanged, this, &ConfigView::updateButtons);
    connect(client, &AdminClient::stateChanged, this, [this](AdminClient::State state) {
        if (state == AdminClient::State::Connected)
            reload();
        else if (state == AdminClient::State::Disconnected)
            m_loaded = false;
        updateButtons();
    });
    m_pathLabel->setText(tr("Not connected."));
    updateButtons();
}

void ConfigView::reload()
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
        m_path = answer.value(u"path"_s).toString();
        const QString text = answer.value(u"text"_s).toString();
        m_editor->setText(text, m_path.isEmpty() ? u"mtw.toml"_s : QFileInfo(m_path).fileName());
        // What is on disk is taken as what runs: the restart hint compares edits with it.
        if (const std::optional<Config> running = m_editor->config())
            m_editor->setRunningConfig(*running);
        else
            m_editor->clearRunningConfig();
        m_loaded = true;
        m_pathLabel->setText(m_path.isEmpty()
                                 ? tr("The server runs on built-in defaults (no file): edits "
                                      "can be validated but not saved.")
                                 : tr("File: %1").arg(m_path));
        setStatus(QString(), false);
        updateButtons();
        Q_EMIT loaded();
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
    updateButtons();
    const QString text = m_editor->text();
    m_client->call(u"save_config"_s,
                   {{u"text"_s, text}},
                   this,
                   [this, text](const ActionResult &result) {
                       m_busy = false;
                       if (!result.ok) {
                           const QString message = tr("Not saved: %1").arg(result.errorMessage);
                           setStatus(message, true);
                           updateButtons();
                           Q_EMIT savedResult(false, message);
                           return;
                       }
                       const QJsonObject answer = result.data.toObject();
                       const bool valid = answer.value(u"valid"_s).toBool();
                       if (valid && m_editor->text() == text)
                           m_editor->setModified(false);
                       showServerAnswer(answer, true);
                       updateButtons();
                       Q_EMIT savedResult(valid, m_status->text());
                   });
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
    if (valid) {
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
    m_status->setStyleSheet(error ? u"color: #b01e1e;"_s : QString());
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
