// SPDX-License-Identifier: MIT
#include "configeditor.h"

#include "theme.h"
#include "tomlhighlighter.h"

#include <mtw/configschema.h>

#include <QFile>
#include <QFontDatabase>
#include <QHelpEvent>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPlainTextEdit>
#include <QSaveFile>
#include <QSplitter>
#include <QStyle>
#include <QTextBlock>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace Mtw {
namespace Internal {

namespace {

using Severity = ConfigDiagnostic::Severity;

QColor markerColour(Severity severity)
{
    return severity == Severity::Error ? QColor(0xd3, 0x2f, 0x2f) : QColor(0xe0, 0xa0, 0x00);
}

QColor lineTint(Severity severity, const QPalette &palette)
{
    if (isDarkPalette(palette))
        return severity == Severity::Error ? QColor(0x4a, 0x1c, 0x1c) : QColor(0x4a, 0x3a, 0x12);
    return severity == Severity::Error ? QColor(0xff, 0xeb, 0xee) : QColor(0xff, 0xf8, 0xe1);
}

// What to underline for a diagnostic at 1-based `column` of `line`: the value that starts there
// (a quoted string, or a bare word up to a separator), else the whole non-blank line.
std::pair<int, int> underlineSpan(const QString &line, int column)
{
    const int size = int(line.size());
    if (column > size) // at the end of the line: mark its last character
        return {qMax(0, size - 1), size > 0 ? 1 : 0};
    if (column < 1) {
        const QStringView trimmed = QStringView(line).trimmed();
        if (trimmed.isEmpty())
            return {0, 0};
        return {int(trimmed.data() - line.constData()), int(trimmed.size())};
    }
    const int start = column - 1;
    const QChar c = line.at(start);
    int end = start + 1;
    if (c == u'"' || c == u'\'') {
        while (end < size && line.at(end) != c) {
            if (c == u'"' && line.at(end) == u'\\')
                ++end;
            ++end;
        }
        end = qMin(end + 1, size);
    } else if (c == u'[' || c == u'{') {
        const int close = int(line.indexOf(c == u'[' ? u']' : u'}', start));
        end = close < 0 ? size : close + 1;
    } else {
        while (end < size && !line.at(end).isSpace() && line.at(end) != u',' && line.at(end) != u']'
               && line.at(end) != u'}' && line.at(end) != u'#')
            ++end;
    }
    return {start, end - start};
}

} // namespace

class ConfigTextEdit;

// The line-number and marker column left of the text.
class Gutter : public QWidget
{
public:
    explicit Gutter(ConfigTextEdit *edit);
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;
    bool event(QEvent *event) override;

private:
    ConfigTextEdit *m_edit;
};

// QPlainTextEdit with a gutter; the viewport margin it needs is protected API, hence the subclass.
class ConfigTextEdit : public QPlainTextEdit
{
    Q_OBJECT
public:
    explicit ConfigTextEdit(QWidget *parent)
        : QPlainTextEdit(parent)
        , m_gutter(new Gutter(this))
    {
        connect(this, &QPlainTextEdit::blockCountChanged, this, [this] {
            setViewportMargins(gutterWidth(), 0, 0, 0);
        });
        connect(this, &QPlainTextEdit::updateRequest, this, [this](const QRect &rect, int dy) {
            if (dy != 0)
                m_gutter->scroll(0, dy);
            else
                m_gutter->update(0, rect.y(), m_gutter->width(), rect.height());
        });
        setViewportMargins(gutterWidth(), 0, 0, 0);
    }

    int gutterWidth() const
    {
        const int digits = int(QString::number(qMax(1, blockCount())).size());
        const int markerSpace = fontMetrics().height();
        return 8 + markerSpace + fontMetrics().horizontalAdvance(u'9') * qMax(2, digits);
    }

    void setDiagnostics(const QList<ConfigDiagnostic> &diagnostics)
    {
        m_markers.clear();
        m_messages.clear();
        QList<QTextEdit::ExtraSelection> selections;
        for (const ConfigDiagnostic &d : diagnostics) {
            const int line = qBound(1, d.line, qMax(1, blockCount()));
            if (!m_markers.contains(line) || d.severity == Severity::Error)
                m_markers.insert(line, d.severity);
            m_messages[line].append(d.toString());
            const QTextBlock block = document()->findBlockByNumber(line - 1);
            const auto [start, length] = underlineSpan(block.text(), d.line < 1 ? 0 : d.column);

            QTextEdit::ExtraSelection underline;
            underline.cursor = QTextCursor(block);
            underline.cursor.setPosition(block.position() + start);
            underline.cursor.setPosition(block.position() + start + length,
                                         QTextCursor::KeepAnchor);
            underline.format.setUnderlineStyle(QTextCharFormat::WaveUnderline);
            underline.format.setUnderlineColor(markerColour(d.severity));
            underline.format.setToolTip(d.toString());
            selections.append(underline);
        }
        // Line tints go first so that the underlines are drawn over them.
        QList<QTextEdit::ExtraSelection> tints;
        for (auto it = m_markers.cbegin(); it != m_markers.cend(); ++it) {
            QTextEdit::ExtraSelection tint;
            tint.cursor = QTextCursor(document()->findBlockByNumber(it.key() - 1));
            tint.format.setBackground(lineTint(it.value(), palette()));
            tint.format.setProperty(QTextFormat::FullWidthSelection, true);
            tints.append(tint);
        }
        setExtraSelections(tints + selections);
        m_gutter->update();
    }

    const QMap<int, Severity> &markers() const { return m_markers; }

    QString messagesAt(int y) const
    {
        const int line = lineAt(y);
        return line > 0 ? m_messages.value(line).join(u'\n') : QString();
    }

    void paintGutter(QPaintEvent *event)
    {
        QPainter painter(m_gutter);
        painter.fillRect(event->rect(), palette().color(QPalette::Window));
        painter.setRenderHint(QPainter::Antialiasing);
        const int lineHeight = fontMetrics().height();
        QTextBlock block = firstVisibleBlock();
        int top = qRound(blockBoundingGeometry(block).translated(contentOffset()).top());
        while (block.isValid() && top <= event->rect().bottom()) {
            const int height = qRound(blockBoundingRect(block).height());
            if (block.isVisible() && top + height >= event->rect().top()) {
                const int line = block.blockNumber() + 1;
                if (const auto it = m_markers.constFind(line); it != m_markers.cend()) {
                    const QRectF dot(4, top + lineHeight * 0.2, lineHeight * 0.6, lineHeight * 0.6);
                    painter.setPen(markerColour(*it).darker(130));
                    painter.setBrush(markerColour(*it));
                    painter.drawEllipse(dot);
                }
                painter.setPen(m_markers.contains(line)
                                   ? markerColour(m_markers.value(line))
                                   : palette().color(QPalette::PlaceholderText));
                painter.drawText(0,
                                 top,
                                 m_gutter->width() - 4,
                                 lineHeight,
                                 Qt::AlignRight,
                                 QString::number(line));
            }
            block = block.next();
            top += height;
        }
    }

protected:
    void resizeEvent(QResizeEvent *event) override
    {
        QPlainTextEdit::resizeEvent(event);
        const QRect content = contentsRect();
        m_gutter->setGeometry(content.left(), content.top(), gutterWidth(), content.height());
    }

private:
    int lineAt(int y) const
    {
        QTextBlock block = firstVisibleBlock();
        int top = qRound(blockBoundingGeometry(block).translated(contentOffset()).top());
        while (block.isValid()) {
            const int bottom = top + qRound(blockBoundingRect(block).height());
            if (y >= top && y < bottom)
                return block.blockNumber() + 1;
            block = block.next();
            top = bottom;
        }
        return 0;
    }

    Gutter *m_gutter;
    QMap<int, Severity> m_markers;
    QHash<int, QStringList> m_messages;
};

Gutter::Gutter(ConfigTextEdit *edit)
    : QWidget(edit)
    , m_edit(edit)
{
    setObjectName(u"configGutter"_s);
}

QSize Gutter::sizeHint() const
{
    return {m_edit->gutterWidth(), 0};
}

void Gutter::paintEvent(QPaintEvent *event)
{
    m_edit->paintGutter(event);
}

bool Gutter::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        const auto *help = static_cast<QHelpEvent *>(event);
        const QString messages = m_edit->messagesAt(help->pos().y());
        if (messages.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(help->globalPos(), messages, this);
        return true;
    }
    return QWidget::event(event);
}

} // namespace Internal

namespace {

constexpr int LineRole = Qt::UserRole;
constexpr int ColumnRole = Qt::UserRole + 1;

} // namespace

ConfigEditor::ConfigEditor(QWidget *parent)
    : QWidget(parent)
    , m_edit(new Internal::ConfigTextEdit(this))
    , m_diagnosticsView(new QListWidget(this))
    , m_restartLabel(new QLabel(this))
    , m_validationTimer(new QTimer(this))
    , m_fileName(u"mtw.toml"_s)
    , m_environment(QProcessEnvironment::systemEnvironment())
{
    m_edit->setObjectName(u"configTextEdit"_s);
    m_edit->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_edit->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_edit->setTabStopDistance(m_edit->fontMetrics().horizontalAdvance(u' ') * 4);
    m_highlighter = new TomlHighlighter(m_edit->document());

    m_diagnosticsView->setObjectName(u"configDiagnostics"_s);
    m_diagnosticsView->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_diagnosticsView->setUniformItemSizes(true);
    m_diagnosticsView->setIconSize(QSize(16, 16));

    m_restartLabel->setObjectName(u"configRestartLabel"_s);
    m_restartLabel->setWordWrap(true);
    m_restartLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_restartLabel->setContentsMargins(4, 2, 4, 2);
    m_restartLabel->setVisible(false);

    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_edit);
    splitter->addWidget(m_diagnosticsView);
    splitter->setStretchFactor(0, 4);
    splitter->setStretchFactor(1, 1);
    splitter->setChildrenCollapsible(false);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter);
    layout->addWidget(m_restartLabel);

    m_validationTimer->setSingleShot(true);
    m_validationTimer->setInterval(ValidationDelayMs);
    connect(m_validationTimer, &QTimer::timeout, this, &ConfigEditor::validate);
    // contentsChange and not textChanged: only real edits, never format-only changes.
    connect(m_edit->document(),
            &QTextDocument::contentsChange,
            this,
            [this](int, int removed, int added) {
                if (removed != 0 || added != 0)
                    scheduleValidation();
            });
    connect(m_edit->document(),
            &QTextDocument::modificationChanged,
            this,
            &ConfigEditor::modificationChanged);
    connect(m_diagnosticsView, &QListWidget::itemClicked, this, &ConfigEditor::jumpTo);
    connect(m_diagnosticsView, &QListWidget::itemActivated, this, &ConfigEditor::jumpTo);

    validate();
}

ConfigEditor::~ConfigEditor() = default;

QString ConfigEditor::text() const
{
    // toRawText, not toPlainText: the latter turns non-breaking spaces into spaces, and saving
    // must give back exactly the characters the user sees. Blocks are separated by U+2029, and
    // Shift+Enter inserts U+2028; both are line breaks in the file.
    QString text = m_edit->document()->toRawText();
    const QString newline = m_crlf ? u"\r\n"_s : u"\n"_s;
    text.replace(QChar::ParagraphSeparator, newline);
    text.replace(QChar::LineSeparator, newline);
    return text;
}

void ConfigEditor::setText(const QString &text, const QString &fileName)
{
    m_fileName = fileName.isEmpty() ? u"mtw.toml"_s : fileName;
    // QTextDocument splits lines at "\r\n" and drops the "\r"; remember the convention so that
    // text() and saving reproduce the file.
    m_crlf = text.contains(u"\r\n"_s);
    m_edit->setPlainText(text);
    m_edit->document()->setModified(false);
    validate();
}

QString ConfigEditor::fileName() const
{
    return m_fileName;
}

Result<void> ConfigEditor::loadFromFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return fail(file.exists() ? 403 : 404,
                    u"cannot read config file %1: %2"_s.arg(path, file.errorString()));
    }
    setText(QString::fromUtf8(file.readAll()), path);
    return {};
}

bool ConfigEditor::isValid() const
{
    return m_valid;
}

QList<ConfigDiagnostic> ConfigEditor::diagnostics() const
{
    return m_result.diagnostics;
}

std::optional<Config> ConfigEditor::config() const
{
    if (!m_valid)
        return std::nullopt;
    return m_result.config;
}

void ConfigEditor::validate()
{
    m_validationTimer->stop();
    m_result = parseConfig(text(), m_fileName, m_environment);
    const bool valid = !m_result.hasErrors();
    applyDiagnostics();
    const bool changed = valid != m_valid;
    m_valid = valid;
    updateRestartLabel();
    if (changed)
        Q_EMIT validityChanged(valid);
    Q_EMIT validated();
}

void ConfigEditor::setEnvironment(const QProcessEnvironment &env)
{
    m_environment = env;
    validate();
}

QProcessEnvironment ConfigEditor::environment() const
{
    return m_environment;
}

void ConfigEditor::scheduleValidation()
{
    m_validationTimer->start();
}

void ConfigEditor::applyDiagnostics()
{
    m_edit->setDiagnostics(m_result.diagnostics);
    m_diagnosticsView->clear();
    for (const ConfigDiagnostic &d : std::as_const(m_result.diagnostics)) {
        const bool error = d.severity == ConfigDiagnostic::Severity::Error;
        auto *item =
            new QListWidgetItem(style()->standardIcon(error ? QStyle::SP_MessageBoxCritical
                                                            : QStyle::SP_MessageBoxWarning),
                                d.toString(),
                                m_diagnosticsView);
        const bool dark = isDarkPalette(palette());
        item->setForeground(error ? errorTextColor(palette())
                                  : (dark ? QColor(0xff, 0xc8, 0x5a) : QColor(0x8d, 0x5b, 0x00)));
        item->setData(LineRole, d.line);
        item->setData(ColumnRole, d.column);
        item->setToolTip(d.toString());
    }
}

void ConfigEditor::jumpTo(QListWidgetItem *item)
{
    const int line = item->data(LineRole).toInt();
    if (line < 1)
        return;
    const QTextBlock block =
        m_edit->document()->findBlockByNumber(qMin(line, m_edit->blockCount()) - 1);
    const int column = qBound(1, item->data(ColumnRole).toInt(), int(block.length()));
    QTextCursor cursor(block);
    cursor.setPosition(block.position() + column - 1);
    m_edit->setTextCursor(cursor);
    m_edit->centerCursor();
    m_edit->setFocus(Qt::OtherFocusReason);
}

QStringList ConfigEditor::restartRequiredKeys(const Config &running) const
{
    if (!m_valid)
        return {};
    return restartRequiredKeys(m_result.config, running);
}

QStringList ConfigEditor::restartRequiredKeys(const Config &edited, const Config &running)
{
    // The server's own classification (Mtw::ConfigSchema), so that the editor and the admin
    // API's restart_required cannot disagree.
    return Mtw::restartRequiredKeys(diffConfigs(running, edited));
}

void ConfigEditor::setRunningConfig(const Config &running)
{
    m_running = running;
    updateRestartLabel();
}

void ConfigEditor::clearRunningConfig()
{
    m_running.reset();
    updateRestartLabel();
}

void ConfigEditor::updateRestartLabel()
{
    m_restartLabel->setVisible(m_running.has_value());
    if (!m_running)
        return;
    if (!m_valid) {
        m_restartLabel->setText(tr("Fix the errors to see which changes need a restart."));
        return;
    }
    const QList<ConfigChange> changes = diffConfigs(*m_running, m_result.config);
    const QStringList keys = Mtw::restartRequiredKeys(changes);
    if (!keys.isEmpty()) {
        m_restartLabel->setText(
            tr("Restart required: %1 take effect only after the server restarts.")
                .arg(keys.join(u", "_s)));
    } else if (!changes.isEmpty()) {
        QStringList live;
        for (const ConfigChange &change : changes)
            live.append(change.key);
        m_restartLabel->setText(
            tr("No restart required: %1 apply once saved.").arg(live.join(u", "_s)));
    } else {
        m_restartLabel->setText(tr("No restart required: nothing differs from the running "
                                   "configuration."));
    }
}

Result<void> ConfigEditor::saveToFile(const QString &path)
{
    validate(); // the debounce timer may still be pending
    if (!m_valid) {
        const QList<ConfigDiagnostic> errors = m_result.errors();
        return fail(400,
                    errors.isEmpty() ? tr("the configuration is invalid")
                                     : errors.constFirst().toString());
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return fail(500, tr("cannot write %1: %2").arg(path, file.errorString()));
    const QByteArray bytes = text().toUtf8();
    if (file.write(bytes) != bytes.size()) {
        const QString reason = file.errorString();
        file.cancelWriting();
        return fail(500, tr("cannot write %1: %2").arg(path, reason));
    }
    if (!file.commit())
        return fail(500, tr("cannot write %1: %2").arg(path, file.errorString()));
    m_edit->document()->setModified(false);
    return {};
}

bool ConfigEditor::isModified() const
{
    return m_edit->document()->isModified();
}

void ConfigEditor::setModified(bool modified)
{
    m_edit->document()->setModified(modified);
}

QPlainTextEdit *ConfigEditor::textEdit() const
{
    return m_edit;
}

QListWidget *ConfigEditor::diagnosticsView() const
{
    return m_diagnosticsView;
}

QLabel *ConfigEditor::restartLabel() const
{
    return m_restartLabel;
}

TomlHighlighter *ConfigEditor::highlighter() const
{
    return m_highlighter;
}

QMap<int, ConfigDiagnostic::Severity> ConfigEditor::markedLines() const
{
    return m_edit->markers();
}

} // namespace Mtw

#include "configeditor.moc"
