// SPDX-License-Identifier: MIT
#include "configeditor.h"
#include "configsamples.h"
#include "tomlhighlighter.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBlock>
#include <QTextLayout>

#include <sys/stat.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using Mtw::ConfigDiagnostic;
using Mtw::ConfigEditor;
using Mtw::TomlHighlighter;

namespace {

QByteArray readFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll();
}

bool writeFile(const QString &path, const QByteArray &bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

// Replaces the first occurrence of `from` with `to` the way typing does (through a cursor), so
// the change goes through the debounced validation rather than setText().
void typeReplace(ConfigEditor &editor, const QString &from, const QString &to)
{
    QTextDocument *document = editor.textEdit()->document();
    QTextCursor cursor = document->find(from);
    QVERIFY2(!cursor.isNull(), qPrintable(u"text not found: "_s + from));
    cursor.insertText(to);
}

Mtw::Config parse(const QString &text)
{
    const Mtw::ConfigLoadResult result =
        Mtw::parseConfig(text, u"running.toml"_s, QProcessEnvironment());
    if (result.hasErrors())
        qWarning() << "fixture does not parse:" << result.diagnostics.constFirst().toString();
    return result.config;
}

const QString ValidText = uR"(# mtwserver test configuration
[server]
port = 8080
)"_s;

} // namespace

class TestConfigEditor : public QObject
{
    Q_OBJECT
public:
    static void initMain()
    {
        if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
    }

private Q_SLOTS:
    void emptyTextIsValid();
    void invalidTextIsMarkedAfterTheDebounce();
    void fixingTheErrorMakesItValid();
    void warningsDoNotInvalidate();
    void clickingADiagnosticJumpsToIt();
    void environmentResolvesVariables();
    void saveRefusesInvalidText();
    void savePreservesLayout_data();
    void savePreservesLayout();
    void saveReplacesTheFileAtomically();
    void loadFromFile();
    void restartRequiredKeys_data();
    void restartRequiredKeys();
    void restartLabel();
    void highlighterFormats_data();
    void highlighterFormats();
    void screenshot();
};

void TestConfigEditor::emptyTextIsValid()
{
    ConfigEditor editor;
    QVERIFY(editor.isValid());
    editor.setText(QString(), QString());
    QVERIFY(editor.isValid());
    QCOMPARE(editor.fileName(), u"mtw.toml"_s);
    QVERIFY(editor.config().has_value());
    QCOMPARE(editor.diagnosticsView()->count(), 0);
}

void TestConfigEditor::invalidTextIsMarkedAfterTheDebounce()
{
    ConfigEditor editor;
    editor.resize(700, 400);
    editor.show();
    QVERIFY(QTest::qWaitForWindowExposed(&editor));
    editor.setText(ValidText, u"mtw.toml"_s);
    QVERIFY(editor.isValid());
    QSignalSpy validity(&editor, &ConfigEditor::validityChanged);

    typeReplace(editor, u"8080"_s, u"\"eighty\""_s);
    // Debounced: nothing changes until the timer fires, then it does without another edit.
    QVERIFY(editor.isValid());
    QTRY_VERIFY_WITH_TIMEOUT(!editor.isValid(), ConfigEditor::ValidationDelayMs * 5);
    QCOMPARE(validity.count(), 1);
    QCOMPARE(validity.at(0).at(0).toBool(), false);
    QVERIFY(!editor.config().has_value());

    // The diagnostics list shows the core's message.
    QCOMPARE(editor.diagnosticsView()->count(), 1);
    QCOMPARE(editor.diagnosticsView()->item(0)->text(),
             uR"(mtw.toml:3:8: server.port: expected an integer 0-65535, got "eighty")"_s);

    // The gutter marks line 3 as an error ...
    const QMap<int, ConfigDiagnostic::Severity> expected{{3, ConfigDiagnostic::Severity::Error}};
    QCOMPARE(editor.markedLines(), expected);
    // ... and paints a red marker there: look for a reddish pixel in line 3's row of the gutter.
    auto *gutter = editor.textEdit()->findChild<QWidget *>(u"configGutter"_s);
    QVERIFY(gutter);
    // The gutter's top is the viewport's top, so the cursor rectangle gives the line's row.
    const QRect lineRect = editor.textEdit()->cursorRect(
        QTextCursor(editor.textEdit()->document()->findBlockByNumber(2)));
    const QImage image = gutter->grab().toImage();
    const qreal dpr = image.devicePixelRatio();
    bool red = false;
    for (int y = int(lineRect.top() * dpr); y <= int(lineRect.bottom() * dpr) && !red; ++y)
        for (int x = 0; x < image.width() && !red; ++x) {
            const QColor c = image.pixelColor(x, y);
            red = c.red() > 180 && c.green() < 80 && c.blue() < 80;
        }
    QVERIFY2(red, "no red marker in the gutter at line 3");

    // ... and underlines exactly the offending value with a wavy line.
    bool underlined = false;
    for (const QTextEdit::ExtraSelection &s : editor.textEdit()->extraSelections()) {
        if (s.format.underlineStyle() != QTextCharFormat::WaveUnderline)
            continue;
        QCOMPARE(s.cursor.block().blockNumber(), 2);
        QCOMPARE(s.cursor.selectedText(), u"\"eighty\""_s);
        QCOMPARE(s.format.underlineColor().red(), 0xd3);
        underlined = true;
    }
    QVERIFY(underlined);
}

void TestConfigEditor::fixingTheErrorMakesItValid()
{
    ConfigEditor editor;
    editor.setText(u"[server]\nport = \"eighty\"\n"_s, u"mtw.toml"_s);
    QVERIFY(!editor.isValid()); // setText validates at once
    QCOMPARE(editor.diagnosticsView()->item(0)->text(),
             uR"(mtw.toml:2:8: server.port: expected an integer 0-65535, got "eighty")"_s);
    QSignalSpy validity(&editor, &ConfigEditor::validityChanged);

    typeReplace(editor, u"\"eighty\""_s, u"80"_s);
    QTRY_VERIFY_WITH_TIMEOUT(editor.isValid(), ConfigEditor::ValidationDelayMs * 5);
    QCOMPARE(validity.count(), 1);
    QCOMPARE(validity.at(0).at(0).toBool(), true);
    QCOMPARE(editor.diagnosticsView()->count(), 0);
    QVERIFY(editor.markedLines().isEmpty());
    QVERIFY(editor.textEdit()->extraSelections().isEmpty());
    QCOMPARE(editor.config()->server.port, 80);
}

void TestConfigEditor::warningsDoNotInvalidate()
{
    ConfigEditor editor;
    QSignalSpy validity(&editor, &ConfigEditor::validityChanged);
    editor.setText(u"[server]\nprot = 80\n"_s, u"mtw.toml"_s);
    QVERIFY(editor.isValid());
    QCOMPARE(validity.count(), 0);
    QCOMPARE(editor.diagnostics().size(), 1);
    QCOMPARE(editor.diagnosticsView()->count(), 1);
    QCOMPARE(editor.diagnosticsView()->item(0)->text(),
             u"mtw.toml:2:1: warning: server.prot: unknown key (did you mean 'port'?)"_s);
    const QMap<int, ConfigDiagnostic::Severity> expected{{2, ConfigDiagnostic::Severity::Warning}};
    QCOMPARE(editor.markedLines(), expected);
}

void TestConfigEditor::clickingADiagnosticJumpsToIt()
{
    ConfigEditor editor;
    editor.resize(700, 400);
    editor.show();
    QVERIFY(QTest::qWaitForWindowExposed(&editor));
    editor.setText(u"# a comment\n\n[codec]\ndefault = \"xml\"\n"_s, u"mtw.toml"_s);
    QCOMPARE(editor.diagnosticsView()->count(), 1);
    QCOMPARE(editor.diagnosticsView()->item(0)->text(),
             uR"(mtw.toml:4:11: codec.default: expected one of "json", "binary", got "xml")"_s);
    QCOMPARE(editor.textEdit()->textCursor().blockNumber(), 0);

    QListWidget *list = editor.diagnosticsView();
    const QRect rect = list->visualItemRect(list->item(0));
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, rect.center());
    QCOMPARE(editor.textEdit()->textCursor().blockNumber(), 3);
    QCOMPARE(editor.textEdit()->textCursor().positionInBlock(), 10);
}

void TestConfigEditor::environmentResolvesVariables()
{
    ConfigEditor editor;
    QCOMPARE(editor.environment().toStringList(),
             QProcessEnvironment::systemEnvironment().toStringList());
    QProcessEnvironment env;
    env.insert(u"MTW_TEST_PORT"_s, u"9001"_s);
    editor.setEnvironment(env);
    editor.setText(u"[server]\nport = \"${MTW_TEST_PORT}\"\n"_s, u"mtw.toml"_s);
    QVERIFY(editor.isValid());
    QCOMPARE(editor.config()->server.port, 9001);

    env.insert(u"MTW_TEST_PORT"_s, u"abc"_s);
    editor.setEnvironment(env);
    QVERIFY(!editor.isValid());
    QCOMPARE(
        editor.diagnostics().constFirst().toString(),
        uR"(mtw.toml:2:8: server.port: expected an integer 0-65535, got "${MTW_TEST_PORT}" (expanded to "abc"))"_s);
}

void TestConfigEditor::saveRefusesInvalidText()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"mtw.toml"_s);
    const QByteArray old = "# the running file\n[server]\nport = 8080\n";
    QVERIFY(writeFile(path, old));

    ConfigEditor editor;
    editor.setText(QString::fromUtf8(old), path);
    typeReplace(editor, u"8080"_s, u"\"eighty\""_s);
    // Saving right after typing, before the debounce: the editor validates first.
    const Mtw::Result<void> result = editor.saveToFile(path);
    QVERIFY(!result);
    QCOMPARE(result.error().code, 400);
    QCOMPARE(result.error().message,
             path + uR"(:3:8: server.port: expected an integer 0-65535, got "eighty")"_s);
    QCOMPARE(readFile(path), old);
    QVERIFY(editor.isModified());
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{u"mtw.toml"_s});
}

void TestConfigEditor::savePreservesLayout_data()
{
    QTest::addColumn<QByteArray>("original");
    QTest::addColumn<QByteArray>("expected"); // after changing the port from 8080 to 9090

    const QByteArray layout =
        "# mtwserver configuration\n"
        "#   hand-aligned comments, odd spacing and blank lines must survive\n"
        "\n"
        "[server]   # trailing comment\n"
        "host    =   \"127.0.0.1\"\t# tab before this comment\n"
        "port = 8080\n"
        "\n\n"
        "[logging]\n"
        "level=\"debug\"   \n"
        "rules = \"mtw.channels.debug=true\" # ünïcödé, and a non-breaking\xc2\xa0space\n";
    QByteArray changed = layout;
    changed.replace("port = 8080", "port = 9090");
    QTest::newRow("lf") << layout << changed;

    QByteArray crlf = layout;
    crlf.replace("\n", "\r\n");
    QByteArray crlfChanged = changed;
    crlfChanged.replace("\n", "\r\n");
    QTest::newRow("crlf") << crlf << crlfChanged;

    QByteArray noFinalNewline = layout;
    noFinalNewline.chop(1);
    QByteArray noFinalNewlineChanged = changed;
    noFinalNewlineChanged.chop(1);
    QTest::newRow("no final newline") << noFinalNewline << noFinalNewlineChanged;
}

void TestConfigEditor::savePreservesLayout()
{
    QFETCH(QByteArray, original);
    QFETCH(QByteArray, expected);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"mtw.toml"_s);
    QVERIFY(writeFile(path, original));

    ConfigEditor editor;
    QVERIFY(editor.loadFromFile(path));
    QVERIFY2(editor.isValid(), qPrintable(editor.diagnostics().value(0).toString()));
    QVERIFY(!editor.isModified());
    QCOMPARE(editor.text().toUtf8(), original);

    typeReplace(editor, u"8080"_s, u"9090"_s);
    QVERIFY(editor.isModified());
    const Mtw::Result<void> result = editor.saveToFile(path);
    QVERIFY2(result, qPrintable(result ? QString() : result.error().message));
    QVERIFY(!editor.isModified());
    QCOMPARE(readFile(path), expected);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{u"mtw.toml"_s});
}

void TestConfigEditor::saveReplacesTheFileAtomically()
{
    // QSaveFile writes a temporary file and renames it over the target, so a reader sees the old
    // or the new file, never a half-written one. A rename gives the path a new inode, and a second
    // hard link to the old inode keeps the old content; writing in place would change both.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"mtw.toml"_s);
    const QString link = dir.filePath(u"old-link.toml"_s);
    const QByteArray old = "[server]\nport = 8080\n";
    QVERIFY(writeFile(path, old));
    QCOMPARE(::link(QFile::encodeName(path).constData(), QFile::encodeName(link).constData()), 0);
    struct stat before = {};
    QCOMPARE(::stat(QFile::encodeName(path).constData(), &before), 0);

    ConfigEditor editor;
    editor.setText(u"[server]\nport = 9090\n"_s, path);
    QVERIFY(editor.saveToFile(path));

    struct stat after = {};
    QCOMPARE(::stat(QFile::encodeName(path).constData(), &after), 0);
    QVERIFY(before.st_ino != after.st_ino);
    QCOMPARE(readFile(path), QByteArray("[server]\nport = 9090\n"));
    QCOMPARE(readFile(link), old);

    // A path that cannot be written is an error naming the path, and nothing is created.
    const QString missingDir = dir.filePath(u"missing/mtw.toml"_s);
    const Mtw::Result<void> failed = editor.saveToFile(missingDir);
    QVERIFY(!failed);
    QCOMPARE(failed.error().code, 500);
    QVERIFY2(failed.error().message.startsWith(u"cannot write "_s + missingDir + u": "_s),
             qPrintable(failed.error().message));
}

void TestConfigEditor::loadFromFile()
{
    QTemporaryDir dir;
    ConfigEditor editor;
    const Mtw::Result<void> missing = editor.loadFromFile(dir.filePath(u"none.toml"_s));
    QVERIFY(!missing);
    QCOMPARE(missing.error().code, 404);
    QVERIFY(missing.error().message.contains(dir.filePath(u"none.toml"_s)));
}

void TestConfigEditor::restartRequiredKeys_data()
{
    QTest::addColumn<QString>("running");
    QTest::addColumn<QString>("edited");
    QTest::addColumn<QStringList>("keys");

    const QString base = uR"([server]
port = 8080

[transport.websocket]
max_message_size = "10MB"

[logging]
level = "info"

[[modules]]
name = "mtw-auth-jwt"
config = { secret = "s1", expiration = 7200 }

[[channels]]
name = "chat.*"
history = 50
)"_s;
    auto edit = [&base](const QString &from, const QString &to) {
        QString text = base;
        text.replace(from, to);
        return text;
    };

    QTest::newRow("unchanged") << base << base << QStringList();
    QTest::newRow("comments and layout only")
        << base << u"# new comment\n\n"_s + edit(u"port = 8080"_s, u"port    =   8080  # hi"_s)
        << QStringList();
    QTest::newRow("server.port") << base << edit(u"port = 8080"_s, u"port = 9090"_s)
                                 << QStringList{u"server.port"_s};
    QTest::newRow("same size, other spelling")
        << base << edit(u"\"10MB\""_s, u"10000000"_s) << QStringList();
    QTest::newRow("size changed, live")
        << base << edit(u"\"10MB\""_s, u"\"10MiB\""_s) << QStringList();
    QTest::newRow("logging level only is live")
        << base << edit(u"level = \"info\""_s, u"level = \"debug\"\nrules = \"mtw.x.debug=true\""_s)
        << QStringList();
    QTest::newRow("logging format needs a restart")
        << base << edit(u"level = \"info\""_s, u"level = \"debug\"\nformat = \"json\""_s)
        << QStringList{u"logging.format"_s};
    QTest::newRow("logging and server")
        << base
        << edit(u"level = \"info\""_s, u"level = \"debug\""_s)
               .replace(u"port = 8080"_s, u"port = 1\nhost = \"::\""_s)
        << QStringList{u"server.host"_s, u"server.port"_s};
    QTest::newRow("default made explicit")
        << base << edit(u"port = 8080"_s, u"port = 8080\nworkers = 0"_s) << QStringList();
    QTest::newRow("module config key")
        << base << edit(u"\"s1\""_s, u"\"s2\""_s) << QStringList{u"modules[0].config.secret"_s};
    QTest::newRow("module config key added")
        << base << edit(u"expiration = 7200"_s, u"expiration = 7200, issuer = \"me\""_s)
        << QStringList{u"modules[0].config.issuer"_s};
    // [[channels]] is live (issue 14), entries added and removed included.
    QTest::newRow("channel setting, live")
        << base << edit(u"history = 50"_s, u"history = 10"_s) << QStringList();
    QTest::newRow("channel added, live")
        << base << base + u"\n[[channels]]\nname = \"news\"\n"_s << QStringList();
    QTest::newRow("channel removed, live")
        << base << edit(u"[[channels]]\nname = \"chat.*\"\nhistory = 50\n"_s, QString())
        << QStringList();
    QTest::newRow("several sections")
        << base
        << edit(u"[logging]"_s,
                u"[admin]\ntoken = \"t\"\n\n[codec]\ndefault = \"binary\"\n\n[logging]"_s)
        << QStringList{u"admin.token"_s}; // codec.default is live
    // Keys the editor's own field-by-field copy of the rule used to miss.
    QTest::newRow("keys the server also diffs")
        << base
        << edit(u"port = 8080"_s, u"port = 8080\nmax_channels = 5"_s)
               .replace(u"max_message_size = \"10MB\""_s,
                        u"max_message_size = \"10MB\"\nrate_limit = 5"_s)
               .replace(u"history = 50"_s, u"history = 50\nhistory_ttl = 5"_s)
               .replace(u"[logging]"_s, u"[metrics]\npath = \"/m\"\n\n[logging]"_s)
        << QStringList{u"metrics.path"_s}; // the other three are live
    QTest::newRow("invalid text: nothing to apply")
        << base << edit(u"port = 8080"_s, u"port = \"eighty\""_s) << QStringList();

    // Every key of the schema, changed alone: the editor's hint is the server's classification.
    for (const Mtw::ConfigKey &key : Mtw::ConfigSchema::keys()) {
        const KeySample sample = Samples::sample(key);
        if (sample.changed.isEmpty())
            continue; // transport.default has no other valid value
        QStringList keys{sample.key};
        if (key.type == Mtw::ConfigKey::Type::Table)
            keys = QStringList{sample.key + u".changed"_s}; // a module's table, key by key
        QTest::newRow(qPrintable(u"schema: "_s + key.name))
            << sample.base << sample.changed
            << (key.apply == Mtw::ConfigApply::Restart ? keys : QStringList());
    }
}

void TestConfigEditor::restartRequiredKeys()
{
    QFETCH(QString, running);
    QFETCH(QString, edited);
    QFETCH(QStringList, keys);

    ConfigEditor editor;
    editor.setEnvironment(QProcessEnvironment());
    editor.setText(edited, u"mtw.toml"_s);
    QCOMPARE(editor.restartRequiredKeys(parse(running)), keys);
}

void TestConfigEditor::restartLabel()
{
    ConfigEditor editor;
    editor.setText(u"[server]\nport = 8080\n"_s, u"mtw.toml"_s);
    QVERIFY(editor.restartLabel()->isHidden());

    editor.setRunningConfig(parse(u"[server]\nport = 8080\n"_s));
    QVERIFY(!editor.restartLabel()->isHidden());
    QCOMPARE(editor.restartLabel()->text(),
             u"No restart required: nothing differs from the running configuration."_s);

    typeReplace(editor, u"8080"_s, u"9090\n[logging]\nlevel = \"debug\""_s);
    QTRY_COMPARE_WITH_TIMEOUT(
        editor.restartLabel()->text(),
        u"Restart required: server.port take effect only after the server restarts."_s,
        ConfigEditor::ValidationDelayMs * 5);

    typeReplace(editor, u"9090"_s, u"8080"_s);
    QTRY_COMPARE_WITH_TIMEOUT(editor.restartLabel()->text(),
                              u"No restart required: logging.level apply once saved."_s,
                              ConfigEditor::ValidationDelayMs * 5);

    typeReplace(editor, u"8080"_s, u"x"_s);
    QTRY_COMPARE_WITH_TIMEOUT(editor.restartLabel()->text(),
                              u"Fix the errors to see which changes need a restart."_s,
                              ConfigEditor::ValidationDelayMs * 5);

    editor.clearRunningConfig();
    QVERIFY(editor.restartLabel()->isHidden());
}

void TestConfigEditor::highlighterFormats_data()
{
    QTest::addColumn<int>("line");   // 0-based block number in the text below
    QTest::addColumn<QString>("at"); // the first occurrence of this on the line
    QTest::addColumn<int>("kind");   // TomlHighlighter::Kind

    using K = TomlHighlighter::Kind;
    QTest::newRow("comment") << 0 << u"# comment"_s << int(K::Comment);
    QTest::newRow("table") << 1 << u"[server]"_s << int(K::Table);
    QTest::newRow("key") << 2 << u"host"_s << int(K::Key);
    QTest::newRow("string") << 2 << u"\"0.0.0.0\""_s << int(K::String);
    QTest::newRow("trailing comment") << 2 << u"# where"_s << int(K::Comment);
    QTest::newRow("number") << 3 << u"8080"_s << int(K::Number);
    QTest::newRow("array table") << 4 << u"[[channels]]"_s << int(K::ArrayTable);
    QTest::newRow("string around a variable") << 5 << u"\"chat."_s << int(K::String);
    QTest::newRow("variable in a string") << 5 << u"${CHAN:-${X:-a}}"_s << int(K::EnvVar);
    QTest::newRow("literal $${ is not a variable") << 5 << u"$${NOT}"_s << int(K::String);
    QTest::newRow("boolean") << 6 << u"true"_s << int(K::Boolean);
    QTest::newRow("size string") << 7 << u"\"10MB\""_s << int(K::Size);
    QTest::newRow("# inside a string is no comment") << 8 << u"\"a # b\""_s << int(K::String);
    QTest::newRow("numbers in an array") << 9 << u"-1.5e3"_s << int(K::Number);
    QTest::newRow("key in an inline table") << 10 << u"expiration"_s << int(K::Key);
    QTest::newRow("multi-line string start") << 11 << u"\"\"\""_s << int(K::String);
    QTest::newRow("multi-line string body") << 12 << u"line two"_s << int(K::String);
    QTest::newRow("variable in a multi-line string") << 12 << u"${HOME}"_s << int(K::EnvVar);
    QTest::newRow("after a multi-line string") << 14 << u"level"_s << int(K::Key);
    QTest::newRow("array over lines: string") << 16 << u"\"a\""_s << int(K::String);
    QTest::newRow("array over lines: number") << 16 << u"1"_s << int(K::Number);
    QTest::newRow("array over lines: no key") << 17 << u"\"b\""_s << int(K::String);
    QTest::newRow("array over lines: comment") << 17 << u"# in"_s << int(K::Comment);
    QTest::newRow("key after the array") << 19 << u"rules"_s << int(K::Key);
}

void TestConfigEditor::highlighterFormats()
{
    QFETCH(int, line);
    QFETCH(QString, at);
    QFETCH(int, kind);

    const QString text = uR"(# comment
[server]
host = "0.0.0.0" # where
port = 8080
[[channels]]
name = "chat.${CHAN:-${X:-a}}.$${NOT}"
presence = true
max_message_size = "10MB"
note = "a # b"
values = [1, -1.5e3]
config = { secret = "x", expiration = 7200 }
system = """line one
line two ${HOME}
"""
level = "info"
allowed_origins = [
  "a", 1,
  "b", # in an array
]
rules = ""
)"_s;

    ConfigEditor editor;
    editor.setText(text, u"mtw.toml"_s);
    const QTextBlock block = editor.textEdit()->document()->findBlockByNumber(line);
    QVERIFY(block.isValid());
    const int column = int(block.text().indexOf(at));
    QVERIFY2(column >= 0, qPrintable(block.text()));

    const QTextCharFormat expected = editor.highlighter()->format(TomlHighlighter::Kind(kind));
    QTextCharFormat actual;
    bool found = false;
    for (const QTextLayout::FormatRange &range : block.layout()->formats()) {
        if (column >= range.start && column + at.size() <= range.start + range.length) {
            actual = range.format;
            found = true;
        }
    }
    QVERIFY2(found, "no format covers the text");
    QCOMPARE(actual, expected);

    // The kinds the editor relies on look different from each other.
    using K = TomlHighlighter::Kind;
    const QList<K> kinds{K::Comment,
                         K::Table,
                         K::ArrayTable,
                         K::Key,
                         K::String,
                         K::EnvVar,
                         K::Number,
                         K::Boolean,
                         K::Size};
    for (K a : kinds)
        for (K b : kinds)
            if (a != b)
                QVERIFY(editor.highlighter()->format(a) != editor.highlighter()->format(b));
}

void TestConfigEditor::screenshot()
{
#ifdef MTW_SCREENSHOT_DIR
    const QString dirPath = QStringLiteral(MTW_SCREENSHOT_DIR);
#else
    const QString dirPath = QDir::temp().filePath(u"mtw-screenshots"_s);
#endif
    QVERIFY(QDir().mkpath(dirPath));
    const QString path = QDir(dirPath).filePath(u"config-editor.png"_s);

    ConfigEditor editor;
    editor.setEnvironment(QProcessEnvironment());
    editor.resize(860, 620);
    editor.setText(uR"(# mtwserver configuration
[server]
host = "0.0.0.0"
port = "eighty"
max_conections = 10000

[transport.websocket]
path = "/ws"
max_message_size = "10MB"
allowed_origins = ["https://${DOMAIN:-example.com}"]

[[channels]]
name = "chat.*"
presence = true
history = 50

[logging]
level = "debug"
)"_s,
                   u"mtw.toml"_s);
    editor.setRunningConfig(parse(u"[server]\nport = 8080\n"_s));
    editor.show();
    QVERIFY(QTest::qWaitForWindowExposed(&editor));
    QVERIFY(!editor.isValid());
    QCOMPARE(editor.diagnosticsView()->count(), 2);
    QVERIFY(editor.grab().save(path));
    qInfo("screenshot: %s", qPrintable(path));
}

QTEST_MAIN(TestConfigEditor)
#include "tst_configeditor.moc"
