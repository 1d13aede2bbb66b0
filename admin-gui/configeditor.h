// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/result.h>

#include <QMap>
#include <QProcessEnvironment>
#include <QWidget>

#include <optional>

class QLabel;
class QListWidget;
class QListWidgetItem;
class QPlainTextEdit;
class QTimer;

namespace Mtw {

class TomlHighlighter;
namespace Internal {
class ConfigTextEdit;
}

// An editor for mtw.toml: line numbers, syntax colouring, and validation as you type with the
// server's own parser (Mtw::parseConfig), so what the editor accepts is exactly what the server
// accepts. Errors and warnings are marked in the gutter and underlined at their line:column, and
// listed below the text; clicking an entry moves the cursor there. Lives in the GUI thread.
//
// ${VAR} references are resolved with the system environment by default, as a server started
// from this machine would resolve them; setEnvironment() changes that (a remote server resolves
// them in its own environment, so its validate_config answer is the authoritative one).
class ConfigEditor : public QWidget
{
    Q_OBJECT
public:
    explicit ConfigEditor(QWidget *parent = nullptr);
    ~ConfigEditor() override;

    // The text exactly as edited; saving writes these characters and nothing else.
    QString text() const;
    // Replaces the text (undo history is reset, the document is unmodified) and validates it at
    // once. `fileName` names the file in diagnostics, as given; empty means "mtw.toml".
    void setText(const QString &text, const QString &fileName);
    QString fileName() const;
    // Reads `path` as UTF-8 and calls setText(). A missing file is Error 404, an unreadable one 403.
    Result<void> loadFromFile(const QString &path);

    // The state of the last validation; validate() brings it up to date with the text.
    bool isValid() const;
    QList<ConfigDiagnostic> diagnostics() const;
    // The parsed configuration when valid.
    std::optional<Config> config() const;
    // Validates now instead of waiting for the debounce timer.
    void validate();

    void setEnvironment(const QProcessEnvironment &env);
    QProcessEnvironment environment() const;

    // Dotted keys whose value in the edited text differs from `running` and that take effect only
    // after a restart, as Mtw::diffConfigs() classifies them, e.g. "server.port",
    // "channels[1].history", "modules[0].config.secret", "channels[2]" (an entry added or removed).
    // Empty when the text is invalid: nothing can be applied then.
    QStringList restartRequiredKeys(const Config &running) const;
    static QStringList restartRequiredKeys(const Config &edited, const Config &running);

    // The configuration the server runs with; the label below the editor then says which of the
    // edited keys need a restart. Without one the label is hidden.
    void setRunningConfig(const Config &running);
    void clearRunningConfig();

    // Writes the text to `path` atomically (QSaveFile): the old file stays untouched unless the
    // whole new text was written. Refuses invalid text (Error 400 with the first error), and
    // reports I/O failures (Error 500 with the path and the OS reason). Marks the document
    // unmodified on success.
    Result<void> saveToFile(const QString &path);

    bool isModified() const;
    void setModified(bool modified);

    // The pieces, for the window that embeds the editor and for tests.
    QPlainTextEdit *textEdit() const;
    QListWidget *diagnosticsView() const;
    QLabel *restartLabel() const;
    TomlHighlighter *highlighter() const;
    // Lines (1-based) with a gutter marker and the worst severity found on each.
    QMap<int, ConfigDiagnostic::Severity> markedLines() const;

    static constexpr int ValidationDelayMs = 300;

Q_SIGNALS:
    void validityChanged(bool valid);
    // After every validation, valid or not.
    void validated();
    void modificationChanged(bool modified);

private:
    void scheduleValidation();
    void applyDiagnostics();
    void updateRestartLabel();
    void jumpTo(QListWidgetItem *item);

    Internal::ConfigTextEdit *m_edit = nullptr;
    TomlHighlighter *m_highlighter = nullptr;
    QListWidget *m_diagnosticsView = nullptr;
    QLabel *m_restartLabel = nullptr;
    QTimer *m_validationTimer = nullptr;

    QString m_fileName;
    bool m_crlf = false; // the text used "\r\n" line breaks
    QProcessEnvironment m_environment;
    ConfigLoadResult m_result;
    bool m_valid = true;
    std::optional<Config> m_running;
};

} // namespace Mtw
