// SPDX-License-Identifier: MIT
// mtwadmin's operator safety and daily tools (issue 18) against real servers on loopback: the
// questions before anything is lost (a local server's clients, config edits), why a connect
// failed, reconnecting to a restarted server, polling only what is shown, connection details,
// the message inspector, the session's metrics, the command line without a display, and the
// polish items. Screenshots of the new views, light and dark, go to MTW_SCREENSHOT_DIR.
#include "adminclient.h"
#include "ask.h"
#include "channelsview.h"
#include "configeditor.h"
#include "configview.h"
#include "connectdialog.h"
#include "connectionsview.h"
#include "dashboardview.h"
#include "jsontablemodel.h"
#include "localserver.h"
#include "logcapture.h"
#include "logmodel.h"
#include "logview.h"
#include "mainwindow.h"
#include "messageformat.h"
#include "metricchart.h"
#include "runserverdialog.h"
#include "serverprocess.h"
#include "tableutil.h"
#include "testclient.h"
#include "theme.h"
#include "tomlhighlighter.h"

#include <mtw/buildinfo.h>

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSaveFile>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QStyleFactory>
#include <QTableView>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QTextCursor>
#include <QTimer>
#include <QTreeWidget>

#include <memory>

using namespace Qt::StringLiterals;
using Mtw::AdminClient;
using Mtw::MainWindow;

namespace {

const QString baseConfig = uR"(# tst_adminops
[server]
host = "127.0.0.1"
port = 0
shutdown_timeout = 2

[[channels]]
name = "chat.*"
history = 20
presence = true
)"_s;

void writeFile(const QString &path, const QString &text)
{
    QSaveFile file(path); // atomically, as editors and the server do
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(text.toUtf8());
    QVERIFY(file.commit());
}

QString readFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(file.readAll());
}

quint16 freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

void subscribe(TestClient &client, const QString &channel)
{
    const QString id = u"sub-"_s + channel;
    client.sendEnvelope(u"subscribe"_s, id, {{u"channel"_s, channel}});
    QVERIFY2(!client.reply(id).isEmpty(), qPrintable(u"no reply to subscribe "_s + channel));
}

void publish(TestClient &client, const QString &channel, const QJsonObject &payload)
{
    static int next = 0;
    const QString id = u"pub-%1"_s.arg(++next);
    client.sendEnvelope(u"publish"_s, id, {{u"channel"_s, channel}, {u"payload"_s, payload}});
}

// Answers every question with the choice named `answer`, recording what was asked.
struct Answers
{
    QList<Mtw::Question> asked;
    QString answer;
    Answers()
    {
        Mtw::setQuestionHandler([this](QWidget *, const Mtw::Question &question) {
            asked.append(question);
            const int index = int(question.choices.indexOf(answer));
            return index >= 0 ? index : int(question.choices.size()) - 1;
        });
    }
    ~Answers() { Mtw::setQuestionHandler({}); }
};

// Clicks the button with `text` on the next modal QMessageBox, as an operator would; records
// the box's text, and saves a picture of it to `screenshot` when given.
void clickInNextMessageBox(QObject *context,
                           const QString &text,
                           QString *boxText,
                           const QString &screenshot = QString())
{
    auto *timer = new QTimer(context);
    timer->setInterval(20);
    QObject::connect(timer, &QTimer::timeout, context, [timer, text, boxText, screenshot] {
        auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget());
        if (!box)
            return;
        timer->stop();
        timer->deleteLater();
        *boxText = box->text();
        if (!screenshot.isEmpty())
            box->grab().save(screenshot);
        const QList<QAbstractButton *> buttons = box->buttons();
        for (QAbstractButton *button : buttons) {
            if (button->text() == text) {
                button->click();
                return;
            }
        }
        box->reject();
    });
    timer->start();
}

QPalette darkPalette()
{
    QPalette dark;
    const QColor window(0x2b, 0x2b, 0x2b);
    const QColor base(0x1e, 0x1e, 0x1e);
    const QColor text(0xe6, 0xe6, 0xe6);
    dark.setColor(QPalette::Window, window);
    dark.setColor(QPalette::WindowText, text);
    dark.setColor(QPalette::Base, base);
    dark.setColor(QPalette::AlternateBase, QColor(0x26, 0x26, 0x26));
    dark.setColor(QPalette::Text, text);
    dark.setColor(QPalette::Button, QColor(0x35, 0x35, 0x35));
    dark.setColor(QPalette::ButtonText, text);
    dark.setColor(QPalette::Highlight, QColor(0x3d, 0x7a, 0xd6));
    dark.setColor(QPalette::HighlightedText, Qt::white);
    dark.setColor(QPalette::PlaceholderText, QColor(0x9a, 0x9a, 0x9a));
    dark.setColor(QPalette::Mid, QColor(0x50, 0x50, 0x50));
    dark.setColor(QPalette::ToolTipBase, window);
    dark.setColor(QPalette::ToolTipText, text);
    return dark;
}

} // namespace

class tst_AdminOps : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void commandLineWithoutDisplay_data();
    void commandLineWithoutDisplay();
    void connectWhileLocalServerRunsAsks();
    void failedConnectSaysWhy_data();
    void failedConnectSaysWhy();
    void reconnectsToARestartedServer();
    void reconnectStopsWhenRefused();
    void configEditorGuardsEdits();
    void quitAsksAboutUnsavedEdits();
    void channelsPollOnlyWhatIsShown();
    void messageInspector();
    void payloadFormats();
    void connectionDetailsAndReason();
    void metricsOverTheSession();
    void viewsClearAfterShutdown();
    void runDialogAddress();
    void labelsHaveBuddies();
    void connectionCountUnderFilter();
    void tabLeavesTables();
    void channelsSortNaturally();
    void channelRatesAreSmoothed();
    void logCopyAndExport();
    void firstRunScreen();
    void darkPalette();

private:
    QString writeConfig(const QString &name, const QString &text = baseConfig);
    bool startLocal(MainWindow &window, const QString &configPath);
    QUrl wsUrl(MainWindow &window) const;
    void shoot(QWidget *widget, const QString &name);

    QTemporaryDir m_dir;
    QString m_screenshots = QStringLiteral(MTW_SCREENSHOT_DIR);
};

void tst_AdminOps::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(u"mtw-test"_s);
    QCoreApplication::setApplicationName(u"tst_adminops"_s);
    QSettings().clear();
    Mtw::installLogCapture();
    QApplication::setStyle(QStyleFactory::create(u"Fusion"_s));
    QVERIFY(m_dir.isValid());
    QVERIFY(QDir().mkpath(m_screenshots));
}

void tst_AdminOps::init()
{
    QSettings().clear();
}

QString tst_AdminOps::writeConfig(const QString &name, const QString &text)
{
    const QString path = m_dir.filePath(name);
    writeFile(path, text);
    return path;
}

bool tst_AdminOps::startLocal(MainWindow &window, const QString &configPath)
{
    const Mtw::Result<Mtw::Config> config =
        Mtw::LocalServer::makeConfig(configPath, u"127.0.0.1"_s, 0);
    if (!config)
        return false;
    window.runLocalServer(*config);
    return QTest::qWaitFor(
        [&] { return window.client()->state() == AdminClient::State::Connected; },
        15000);
}

QUrl tst_AdminOps::wsUrl(MainWindow &window) const
{
    return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(window.localServer()->adminUrl().port()));
}

void tst_AdminOps::shoot(QWidget *widget, const QString &name)
{
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    const QString file = m_screenshots + u'/' + name + u".png"_s;
    QVERIFY2(widget->grab().save(file), qPrintable(file));
}

void tst_AdminOps::commandLineWithoutDisplay_data()
{
    QTest::addColumn<QString>("option");
    QTest::addColumn<QString>("expected");
    QTest::newRow("--help") << u"--help"_s << u"--version"_s;
    QTest::newRow("-h") << u"-h"_s << u"Usage:"_s;
    QTest::newRow("--version") << u"--version"_s << (u"mtwadmin "_s + Mtw::versionString());
}

// No DISPLAY, no WAYLAND_DISPLAY, no offscreen platform: what a shell on a server has.
void tst_AdminOps::commandLineWithoutDisplay()
{
    QFETCH(QString, option);
    QFETCH(QString, expected);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char *name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"})
        env.remove(QString::fromLatin1(name));
    QProcess process;
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(MTW_ADMIN_BIN), {option});
    QVERIFY(process.waitForFinished(30000));
    const QString out = QString::fromUtf8(process.readAllStandardOutput());
    const QString err = QString::fromUtf8(process.readAllStandardError());
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QVERIFY2(process.exitCode() == 0, qPrintable(out + err));
    QVERIFY2(out.contains(expected), qPrintable(out + err));
    QVERIFY2(!err.contains(u"xcb"_s) && !err.contains(u"platform plugin"_s), qPrintable(err));
}

// File > Connect while a server runs in mtwadmin: a real QMessageBox asks, naming what happens
// to the clients; Cancel keeps everything; yes stops it (1001) and the failed connect says why.
void tst_AdminOps::connectWhileLocalServerRunsAsks()
{
    MainWindow window;
    window.show();
    QVERIFY(startLocal(window, writeConfig(u"connect-local.toml"_s)));
    TestClient visitor;
    QVERIFY(visitor.open(wsUrl(window)));
    QTRY_COMPARE(window.client()->counters().value(u"connections"_s).toInt(), 1);

    const QUrl nowhere(u"ws://127.0.0.1:%1/admin"_s.arg(freePort()));
    QString boxText;
    clickInNextMessageBox(this, u"Cancel"_s, &boxText, m_screenshots + u"/ask-connect.png"_s);
    QVERIFY(!window.connectToServer(nowhere, QString(), false));
    QVERIFY2(boxText.contains(u"1 client"_s) && boxText.contains(u"1001"_s), qPrintable(boxText));
    QVERIFY(window.localServer()->isRunning());
    QCOMPARE(window.client()->state(), AdminClient::State::Connected);
    QVERIFY(!visitor.closed);

    clickInNextMessageBox(this, u"Shut Down and Connect"_s, &boxText);
    QSignalSpy errors(window.client(), &AdminClient::errorOccurred);
    QVERIFY(window.connectToServer(nowhere, QString(), false));
    QVERIFY(!window.localServer()->isRunning());
    QVERIFY(visitor.waitClosed());
    QCOMPARE(visitor.closeCode, 1001);
    QTRY_COMPARE(errors.count(), 1);
    QTRY_VERIFY2(window.bannerText().contains(u"Nothing is listening"_s),
                 qPrintable(window.bannerText()));
    QCOMPARE(window.client()->state(), AdminClient::State::Disconnected);
}

void tst_AdminOps::failedConnectSaysWhy_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("expected");
    QTest::newRow("nothing listens") << u"refused"_s << u"Nothing is listening at 127.0.0.1:"_s;
    QTest::newRow("no admin API at the path") << u"path"_s << u"HTTP 404"_s;
    QTest::newRow("no answer") << u"silent"_s << u"No answer from 127.0.0.1:"_s;
}

// Every failed connect says why, once, in the banner.
void tst_AdminOps::failedConnectSaysWhy()
{
    QFETCH(QString, kind);
    QFETCH(QString, expected);
    MainWindow window;
    window.client()->setConnectTimeout(1000);
    QTcpServer silent; // accepts and never answers the upgrade
    std::unique_ptr<ServerProcess> process;
    QUrl url;
    if (kind == "refused"_L1) {
        url = QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(freePort()));
    } else if (kind == "silent"_L1) {
        QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
        url = QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(silent.serverPort()));
    } else {
        process = std::make_unique<ServerProcess>();
        QVERIFY2(process->start({u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s}),
                 qPrintable(process->allLog()));
        url = QUrl(u"ws://127.0.0.1:%1/not-admin"_s.arg(process->port));
    }
    QSignalSpy errors(window.client(), &AdminClient::errorOccurred);
    window.connectToServer(url, u"token"_s, false);
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, 10000);
    QVERIFY2(errors.constFirst().at(0).toString().contains(expected),
             qPrintable(errors.constFirst().at(0).toString()));
    QCOMPARE(window.bannerText(), errors.constFirst().at(0).toString());
    QTRY_COMPARE(window.client()->state(), AdminClient::State::Disconnected);
    QVERIFY(!window.isReconnecting()); // a first connect that fails is not retried
    QCOMPARE(errors.count(), 1);
}

// A remote server that is killed and started again: the window says it is reconnecting (no
// "lost (1000)"), attaches again by itself, and File > Disconnect stops all of it.
void tst_AdminOps::reconnectsToARestartedServer()
{
    const quint16 port = freePort();
    QVERIFY(port != 0);
    const QString path = writeConfig(u"restart.toml"_s, u"[admin]\ntoken = \"restart-token\"\n"_s);
    const QStringList arguments{u"--config"_s,
                                path,
                                u"--host"_s,
                                u"127.0.0.1"_s,
                                u"--port"_s,
                                QString::number(port)};
    auto first = std::make_unique<ServerProcess>();
    QVERIFY2(first->start(arguments), qPrintable(first->allLog()));

    MainWindow window;
    window.setReconnectDelays({100, 200});
    window.show();
    const QUrl url(u"ws://127.0.0.1:%1/admin"_s.arg(port));
    QVERIFY(window.connectToServer(url, u"restart-token"_s, false));
    QTRY_COMPARE_WITH_TIMEOUT(window.client()->state(), AdminClient::State::Connected, 10000);
    QVERIFY(window.detachAction()->isEnabled());
    // Unsaved edits survive the outage: the reconnection does not reload over them.
    Mtw::ConfigView *config = window.configView();
    QTRY_COMPARE(config->path(), QFileInfo(path).absoluteFilePath());
    QTextCursor cursor(config->editor()->textEdit()->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(u"# edited before the outage\n"_s);
    QVERIFY(config->editor()->isModified());

    first->process.kill(); // SIGKILL: no close frame, no shutdown_started
    QTRY_VERIFY_WITH_TIMEOUT(window.isReconnecting(), 10000);
    QVERIFY2(window.connectionStatusText().contains(u"reconnecting"_s, Qt::CaseInsensitive),
             qPrintable(window.connectionStatusText()));
    QVERIFY2(window.bannerText().contains(u"Reconnecting"_s), qPrintable(window.bannerText()));
    QVERIFY2(!window.bannerText().contains(u"1000"_s), qPrintable(window.bannerText()));
    QVERIFY(window.detachAction()->isEnabled());
    first->process.waitForFinished(5000);
    // A few failed attempts while nothing listens, then the server is back.
    QTRY_VERIFY_WITH_TIMEOUT(window.connectionStatusText().contains(u"attempt 3"_s), 10000);

    ServerProcess second;
    QVERIFY2(second.start(arguments), qPrintable(second.allLog()));
    QTRY_COMPARE_WITH_TIMEOUT(window.client()->state(), AdminClient::State::Connected, 15000);
    QVERIFY(!window.isReconnecting());
    QVERIFY(window.bannerText().isEmpty());
    QTRY_VERIFY(config->saveButton()->isEnabled()); // loaded again, edits kept
    QVERIFY(config->editor()->text().endsWith(u"# edited before the outage\n"_s));
    QVERIFY(config->editor()->isModified());
    QVERIFY(!config->diskBanner()->isVisible());
    config->editor()->setModified(false);

    window.detachAction()->trigger();
    QCOMPARE(window.client()->state(), AdminClient::State::Disconnected);
    QVERIFY(!window.isReconnecting());
    QVERIFY(!window.detachAction()->isEnabled());
    QCOMPARE(window.connectionStatusText(), u"Not connected"_s);
    second.process.terminate();
    QTRY_COMPARE_WITH_TIMEOUT(second.process.state(), QProcess::NotRunning, 15000);
    QVERIFY(!window.isReconnecting());
}

// The server comes back with another token: a refusal is final, so the window stops trying
// and says why.
void tst_AdminOps::reconnectStopsWhenRefused()
{
    const quint16 port = freePort();
    QVERIFY(port != 0);
    const auto arguments = [&](const QString &config) {
        return QStringList{u"--config"_s,
                           config,
                           u"--host"_s,
                           u"127.0.0.1"_s,
                           u"--port"_s,
                           QString::number(port)};
    };
    const QString before = writeConfig(u"token-a.toml"_s, u"[admin]\ntoken = \"token-a\"\n"_s);
    const QString after = writeConfig(u"token-b.toml"_s, u"[admin]\ntoken = \"token-b\"\n"_s);
    auto first = std::make_unique<ServerProcess>();
    QVERIFY2(first->start(arguments(before)), qPrintable(first->allLog()));
    MainWindow window;
    window.setReconnectDelays({100});
    QVERIFY(
        window.connectToServer(QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(port)), u"token-a"_s, false));
    QTRY_COMPARE_WITH_TIMEOUT(window.client()->state(), AdminClient::State::Connected, 10000);
    first->process.kill();
    QTRY_VERIFY_WITH_TIMEOUT(window.isReconnecting(), 10000);
    first->process.waitForFinished(5000);
    QTRY_VERIFY_WITH_TIMEOUT(window.bannerText().contains(u"Last attempt: Nothing is listening"_s),
                             10000);
    ServerProcess second;
    QVERIFY2(second.start(arguments(after)), qPrintable(second.allLog()));
    QTRY_VERIFY_WITH_TIMEOUT(!window.isReconnecting(), 15000);
    QVERIFY2(window.bannerText().contains(u"401"_s)
                 && window.bannerText().contains(u"Not reconnecting"_s),
             qPrintable(window.bannerText()));
    QCOMPARE(window.client()->state(), AdminClient::State::Disconnected);
    QCOMPARE(window.connectionStatusText(), u"Not connected"_s);
}

// The file changes on disk under the editor: an unedited text follows it; with edits a banner
// asks, and a save never overwrites the other change without a question. Unsaved edits are
// marked, and the restart hint is the server's own list.
void tst_AdminOps::configEditorGuardsEdits()
{
    const QString path = writeConfig(u"guarded.toml"_s);
    MainWindow window;
    window.setConfirmHandler([](const QString &, const QString &) { return true; });
    window.resize(1100, 700);
    window.show();
    QVERIFY(startLocal(window, path));
    Mtw::ConfigView *view = window.configView();
    view->setDiskCheckInterval(300);
    window.showView(MainWindow::Configuration);
    QTRY_COMPARE(view->editor()->text(), baseConfig);

    // Unedited: somebody else's change is simply loaded.
    const QString external = baseConfig + u"# changed by another editor\n"_s;
    writeFile(path, external);
    QTRY_COMPARE_WITH_TIMEOUT(view->editor()->text(), external, 10000);
    QVERIFY(!view->editor()->isModified());

    // Edited: marked as unsaved in the title, the sidebar and above the editor.
    QPlainTextEdit *edit = view->editor()->textEdit();
    QTextCursor cursor(edit->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(u"# mine\n"_s);
    QVERIFY(view->editor()->isModified());
    QVERIFY(window.isWindowModified());
    QVERIFY(window.windowTitle().contains(u"[*]"_s));
    QCOMPARE(window.findChild<QListWidget *>()->item(MainWindow::Configuration)->text(),
             u"Configuration *"_s);

    // Another change on disk now: the banner, not a silent reload.
    QSignalSpy changed(view, &Mtw::ConfigView::diskChanged);
    const QString theirs = external + u"# theirs\n"_s;
    writeFile(path, theirs);
    QTRY_VERIFY_WITH_TIMEOUT(changed.count() >= 1, 10000);
    QVERIFY(view->diskBanner()->isVisible());
    QVERIFY(view->editor()->text().endsWith(u"# mine\n"_s));
    shoot(&window, u"config-changed-on-disk"_s);

    // Save anyway: asked first; Cancel leaves their file alone.
    QSignalSpy saved(view, &Mtw::ConfigView::savedResult);
    {
        Answers answers;
        answers.answer = u"Cancel"_s;
        view->save();
        QTRY_COMPARE(saved.count(), 1);
        QCOMPARE(answers.asked.size(), 1);
        QVERIFY(answers.asked.constFirst().text.contains(u"changed"_s));
    }
    QCOMPARE(saved.at(0).at(0).toBool(), false);
    QCOMPARE(readFile(path), theirs);

    // "Keep Mine" in the banner, then save: no more questions, mine is on disk.
    view->diskKeepButton()->click();
    QVERIFY(!view->diskBanner()->isVisible());
    QString mine = view->editor()->text();
    mine.replace(u"shutdown_timeout = 2"_s, u"shutdown_timeout = 3"_s);
    view->editor()->textEdit()->selectAll();
    view->editor()->textEdit()->insertPlainText(mine);
    {
        Answers answers;
        answers.answer = u"Cancel"_s;
        saved.clear();
        view->save();
        QTRY_COMPARE(saved.count(), 1);
        QVERIFY2(saved.at(0).at(0).toBool(), qPrintable(saved.at(0).at(1).toString()));
        QCOMPARE(answers.asked.size(), 0);
    }
    QCOMPARE(readFile(path), mine);
    QVERIFY(!window.isWindowModified());
    QCOMPARE(window.findChild<QListWidget *>()->item(MainWindow::Configuration)->text(),
             u"Configuration"_s);

    // The restart hint after a reload: the server still runs with 2, so shutdown_timeout needs
    // a restart although the text equals the file (a comparison with the file said "none").
    QSignalSpy checked(view, &Mtw::ConfigView::restartKeysChecked);
    view->reload();
    QTRY_VERIFY_WITH_TIMEOUT(!checked.isEmpty(), 10000);
    QVERIFY2(checked.constLast().at(0).toStringList().contains(u"server.shutdown_timeout"_s),
             qPrintable(checked.constLast().at(0).toStringList().join(u',')));
    QVERIFY2(view->editor()->restartLabel()->text().contains(u"server.shutdown_timeout"_s),
             qPrintable(view->editor()->restartLabel()->text()));

    // A reload over edits asks first.
    cursor = QTextCursor(edit->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(u"# again\n"_s);
    {
        Answers answers;
        answers.answer = u"Cancel"_s;
        view->reload();
        QCOMPARE(answers.asked.size(), 1);
    }
    QVERIFY(view->editor()->text().endsWith(u"# again\n"_s));
    view->editor()->setModified(false);
    window.shutdownServer();
    QTRY_VERIFY_WITH_TIMEOUT(!window.localServer()->isRunning(), 15000);
}

// Ctrl+Q with unsaved edits asks: Cancel keeps the window, Save writes and quits, and quitting
// a local server that has clients asks too.
void tst_AdminOps::quitAsksAboutUnsavedEdits()
{
    const QString path = writeConfig(u"quit.toml"_s);
    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QVERIFY(startLocal(window, path));
    Mtw::ConfigView *view = window.configView();
    QTRY_COMPARE(view->editor()->text(), baseConfig);
    QTextCursor cursor(view->editor()->textEdit()->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(u"# unsaved\n"_s);
    TestClient visitor;
    QVERIFY(visitor.open(wsUrl(window)));
    QTRY_COMPARE(window.client()->counters().value(u"connections"_s).toInt(), 1);

    Answers answers;
    answers.answer = u"Cancel"_s;
    QTest::keyClick(&window, Qt::Key_Q, Qt::ControlModifier);
    QCOMPARE(answers.asked.size(), 1);
    QVERIFY(answers.asked.at(0).choices.contains(u"&Discard"_s));
    QVERIFY(window.isVisible());
    QVERIFY(window.localServer()->isRunning());

    // Save: written, then the question about the local server's client; Cancel keeps running.
    answers.answer = u"&Save"_s;
    QVERIFY(!window.close());
    QCOMPARE(readFile(path), baseConfig + u"# unsaved\n"_s);
    // Then the question about the local server's client ("&Save" is not a choice: Cancel).
    QCOMPARE(answers.asked.size(), 3);
    QVERIFY(answers.asked.at(2).text.contains(u"1001"_s));
    QVERIFY(window.isVisible());

    answers.answer = u"&Quit"_s;
    QVERIFY(window.close());
    QVERIFY(visitor.waitClosed());
    QCOMPARE(visitor.closeCode, 1001);
    QVERIFY(!window.localServer()->isRunning());
}

// The Channels view asks for presence and history only while shown, only for what changed,
// and the server logs those reads at debug.
void tst_AdminOps::channelsPollOnlyWhatIsShown()
{
    MainWindow window;
    window.setConfirmHandler([](const QString &, const QString &) { return true; });
    window.resize(1100, 700);
    window.show();
    QVERIFY(startLocal(window, writeConfig(u"poll.toml"_s)));
    Mtw::ChannelsView *channels = window.channelsView();
    TestClient member;
    QVERIFY(member.open(wsUrl(window)));
    subscribe(member, u"chat.general"_s);
    QTRY_VERIFY(window.client()->channels()->rowOf(u"chat.general"_s) >= 0);

    window.showView(MainWindow::Connections);
    QVERIFY(!channels->isVisible());
    QVERIFY(channels->selectChannel(u"chat.general"_s));
    QSignalSpy ticks(window.client(), &AdminClient::countersChanged);
    QTimer traffic;
    connect(&traffic, &QTimer::timeout, this, [&] {
        publish(member, u"chat.general"_s, {{u"kind"_s, u"Text"_s}, {u"data"_s, u"tick"_s}});
    });
    traffic.start(100);
    QTRY_VERIFY_WITH_TIMEOUT(ticks.count() >= 3, 15000);
    QTRY_VERIFY(window.client()->channels()->object(u"chat.general"_s).value(u"messages"_s).toInt()
                > 0);
    QCOMPARE(channels->requestCount(), 0); // hidden: nothing asked

    QSignalSpy loaded(channels, &Mtw::ChannelsView::detailsLoaded);
    window.showView(MainWindow::Channels);
    QTRY_VERIFY(loaded.count() >= 1);
    QVERIFY(channels->requestCount() >= 2);
    QTRY_VERIFY(channels->historyList()->topLevelItemCount() > 0);
    QCOMPARE(channels->presenceList()->topLevelItemCount(), 1);
    // Shown, with messages flowing: the history follows, the presence is not asked again.
    const int before = channels->requestCount();
    ticks.clear();
    QTRY_VERIFY_WITH_TIMEOUT(ticks.count() >= 3, 15000);
    traffic.stop();
    const int during = channels->requestCount() - before;
    QVERIFY2(during >= 1 && during <= ticks.count() + 2, qPrintable(QString::number(during)));

    window.showView(MainWindow::Dashboard);
    const int hidden = channels->requestCount();
    traffic.start(100);
    ticks.clear();
    QTRY_VERIFY_WITH_TIMEOUT(ticks.count() >= 3, 15000);
    traffic.stop();
    QCOMPARE(channels->requestCount(), hidden);

    // None of those reads at info in the server's log.
    Mtw::LogModel *log = window.client()->log();
    for (int row = 0; row < log->rowCount(); ++row) {
        const QString message = log->index(row, Mtw::LogModel::Message).data().toString();
        QVERIFY2(!message.contains(u"admin action history"_s)
                     && !message.contains(u"admin action presence"_s),
                 qPrintable(message));
    }
    window.shutdownServer();
    QTRY_VERIFY_WITH_TIMEOUT(!window.localServer()->isRunning(), 15000);
}

// Full payloads of the history and of new messages as they come: JSON pretty-printed, binary as
// hex, copied to the clipboard.
void tst_AdminOps::messageInspector()
{
    MainWindow window;
    window.setConfirmHandler([](const QString &, const QString &) { return true; });
    window.resize(1200, 760);
    window.show();
    QVERIFY(startLocal(window, writeConfig(u"inspector.toml"_s)));
    Mtw::ChannelsView *channels = window.channelsView();
    TestClient member;
    QVERIFY(member.open(wsUrl(window)));
    subscribe(member, u"chat.lab"_s);
    const QJsonObject json{{u"text"_s, u"hello"_s},
                           {u"nested"_s, QJsonObject{{u"n"_s, 1}, {u"list"_s, QJsonArray{1, 2}}}}};
    publish(member, u"chat.lab"_s, {{u"kind"_s, u"Json"_s}, {u"data"_s, json}});
    const QByteArray bytes = QByteArray::fromHex("deadbeef00414243");
    publish(member,
            u"chat.lab"_s,
            {{u"kind"_s, u"Binary"_s}, {u"data"_s, QString::fromLatin1(bytes.toBase64())}});
    QTRY_COMPARE(window.client()->channels()->object(u"chat.lab"_s).value(u"messages"_s).toInt(),
                 2);

    window.showView(MainWindow::Channels);
    QTRY_VERIFY(channels->selectChannel(u"chat.lab"_s));
    QTRY_COMPARE(channels->historyList()->topLevelItemCount(), 2);
    // Following: the newest (binary) is shown.
    QTRY_VERIFY2(channels->inspector()->toPlainText().contains(u"de ad be ef 00 41 42 43"_s),
                 qPrintable(channels->inspector()->toPlainText()));
    QVERIFY(channels->inspector()->toPlainText().contains(u"|.....ABC|"_s));
    shoot(&window, u"channels-inspector-binary"_s);

    // The JSON one, whole and indented; Copy puts exactly the payload on the clipboard.
    QTreeWidgetItem *older = channels->historyList()->topLevelItem(1);
    channels->historyList()->setCurrentItem(older);
    const QString pretty = channels->inspector()->toPlainText();
    QVERIFY2(pretty.contains(u"\"nested\": {"_s) && pretty.contains(u"\n        \"list\": ["_s),
             qPrintable(pretty));
    channels->copyButton()->click();
    const QString expected =
        QString::fromUtf8(QJsonDocument(json).toJson(QJsonDocument::Indented)).trimmed();
    QCOMPARE(QApplication::clipboard()->text(), expected);
    shoot(&window, u"channels-inspector-json"_s);

    // A live tail: a new message appears on its own and, while following, is shown.
    channels->followBox()->setChecked(true);
    publish(member, u"chat.lab"_s, {{u"kind"_s, u"Text"_s}, {u"data"_s, u"live one"_s}});
    QTRY_COMPARE_WITH_TIMEOUT(channels->historyList()->topLevelItemCount(), 3, 10000);
    QTRY_VERIFY(channels->inspector()->toPlainText().endsWith(u"live one"_s));
    // Not following: the message being read stays selected as others arrive.
    channels->followBox()->setChecked(false);
    channels->historyList()->setCurrentItem(channels->historyList()->topLevelItem(2));
    publish(member, u"chat.lab"_s, {{u"kind"_s, u"Text"_s}, {u"data"_s, u"another"_s}});
    QTRY_COMPARE_WITH_TIMEOUT(channels->historyList()->topLevelItemCount(), 4, 10000);
    QCOMPARE(channels->historyList()->currentItem(), channels->historyList()->topLevelItem(3));
    QVERIFY(channels->inspector()->toPlainText().contains(u"\"nested\""_s));
    window.shutdownServer();
    QTRY_VERIFY_WITH_TIMEOUT(!window.localServer()->isRunning(), 15000);
}

void tst_AdminOps::payloadFormats()
{
    QCOMPARE(Mtw::formatPayload({{u"kind"_s, u"Json"_s}, {u"data"_s, 42}}), u"42"_s);
    QCOMPARE(Mtw::formatPayload({{u"kind"_s, u"Json"_s}, {u"data"_s, u"a\"b"_s}}), u"\"a\\\"b\""_s);
    QCOMPARE(Mtw::formatPayload({{u"kind"_s, u"Text"_s}, {u"data"_s, u"line 1\nline 2"_s}}),
             u"line 1\nline 2"_s);
    QCOMPARE(Mtw::formatPayload({{u"kind"_s, u"None"_s}}), u"(no payload)"_s);
    const QString dump = Mtw::hexDump(QByteArray(20, 'A'));
    QCOMPARE(dump.count(u'\n'), 2);
    QVERIFY2(dump.startsWith(u"00000000  41 41"_s), qPrintable(dump));
    QVERIFY2(dump.contains(u"00000010  41 41 41 41"_s), qPrintable(dump));
    QCOMPARE(Mtw::payloadSummary({{u"kind"_s, u"Binary"_s}, {u"data"_s, u"AAECAw=="_s}}),
             u"(binary, 4 bytes)"_s);
    // Addresses with the client's port; a forwarded address has none (remote_port null).
    QCOMPARE(Mtw::JsonTableModel::formatEndpoint(u"192.0.2.1"_s, 51234), u"192.0.2.1:51234"_s);
    QCOMPARE(Mtw::JsonTableModel::formatEndpoint(u"2001:db8::1"_s, 443), u"[2001:db8::1]:443"_s);
    QCOMPARE(Mtw::JsonTableModel::formatEndpoint(u"203.0.113.7"_s, QJsonValue()), u"203.0.113.7"_s);
}

// Details of a connection beside the table, and a disconnect that carries the typed reason.
void tst_AdminOps::connectionDetailsAndReason()
{
    MainWindow window;
    window.resize(1200, 700);
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    window.setConfirmHandler([](const QString &title, const QString &text) {
        return title == "Shut Down Server"_L1 || text.contains(u"Kicked(maintenance window)"_s);
    });
    QVERIFY(startLocal(window, writeConfig(u"details.toml"_s)));
    TestClient victim;
    QVERIFY(victim.open(wsUrl(window)));
    subscribe(victim, u"chat.a"_s);
    subscribe(victim, u"chat.b"_s);
    window.showView(MainWindow::Connections);
    Mtw::ConnectionsView *view = window.connectionsView();
    QTRY_VERIFY(view->selectConnection(victim.connId));
    QCOMPARE(view->detailText(u"remote_address"_s),
             u"127.0.0.1:%1"_s.arg(victim.socket.localPort()));
    QCOMPARE(view->detailText(u"roles"_s), u"none"_s);
    QTRY_COMPARE(view->detailText(u"channels"_s), u"chat.a, chat.b"_s);
    QTRY_COMPARE(view->detailText(u"messages_in"_s), u"2"_s);
    QVERIFY(view->detailText(u"connected_at"_s).contains(u"ago"_s));
    QCOMPARE(view->detailText(u"mode"_s), u"text"_s);
    shoot(&window, u"connection-details"_s);
    // A double-click on the row goes to the pane's reason.
    view->table()->setFocus();
    QSignalSpy doubleClicks(view->table(), &QAbstractItemView::doubleClicked);
    const QModelIndex first = view->table()->model()->index(0, 0);
    // The press that starts a double click, then the double click, as a mouse delivers them.
    QTest::mousePress(view->table()->viewport(),
                      Qt::LeftButton,
                      {},
                      view->table()->visualRect(first).center());
    QTest::mouseDClick(view->table()->viewport(),
                       Qt::LeftButton,
                       {},
                       view->table()->visualRect(first).center());
    QCOMPARE(doubleClicks.count(), 1);
    QTRY_VERIFY2(view->reasonEdit()->hasFocus(),
                 QApplication::focusWidget()
                     ? QApplication::focusWidget()->metaObject()->className()
                     : "no focus");

    QSignalSpy closed(window.client(), &AdminClient::connectionClosed);
    view->reasonEdit()->setText(u"maintenance window"_s);
    QVERIFY(view->disconnectButton()->isEnabled());
    view->disconnectButton()->click();
    QVERIFY(victim.waitClosed());
    QTRY_VERIFY(!closed.isEmpty());
    QCOMPARE(closed.constFirst().at(1).toString(), u"Kicked(maintenance window)"_s);
    QTRY_VERIFY(!view->disconnectButton()->isEnabled()); // the row is gone
    window.shutdownServer();
    QTRY_VERIFY_WITH_TIMEOUT(!window.localServer()->isRunning(), 15000);
}

// Two hours of samples: the session is kept and shown whole or in part, each metric on its own
// scale with its unit, and a gap where the connection was down.
void tst_AdminOps::metricsOverTheSession()
{
    AdminClient client;
    Mtw::DashboardView view(&client);
    view.resize(1000, 600);
    view.show();
    const qint64 start = 1'800'000'000'000;
    for (int i = 0; i < 7200; ++i) {
        if (i >= 3000 && i < 3600)
            continue; // ten minutes without a connection
        const double wave = 1 + (i % 600) / 600.0;
        view.addSample(start + i * 1000LL,
                       {{u"messages_in_per_s"_s, 120 * wave},
                        {u"messages_out_per_s"_s, 2400 * wave},
                        {u"bytes_in_per_s"_s, 30'000 * wave},
                        {u"bytes_out_per_s"_s, 3'000'000 * wave},
                        {u"connections"_s, 40 + i / 1000},
                        {u"subscriptions"_s, 80}});
    }
    Mtw::MetricChart *in = view.chart(Mtw::DashboardView::MessagesIn);
    Mtw::MetricChart *out = view.chart(Mtw::DashboardView::MessagesOut);
    Mtw::MetricChart *bytesOut = view.chart(Mtw::DashboardView::BytesOut);
    QCOMPARE(in->sampleCount(), 6600);
    QCOMPARE(in->visibleSampleCount(), 61);                         // the last minute
    view.rangeBox()->setCurrentIndex(view.rangeBox()->findData(0)); // whole session
    QCOMPARE(in->visibleSampleCount(), 6600);
    QCOMPARE(bytesOut->visibleSampleCount(), 6600);
    view.rangeBox()->setCurrentIndex(view.rangeBox()->findData(3600 * 1000));
    QCOMPARE(in->visibleSampleCount(), 3600); // 3599 s ago falls in the gap

    // One scale per series, each with its unit.
    QCOMPARE(in->scaleTop(), 240.0); // four steps of 60
    QCOMPARE(out->scaleTop(), 4800.0);
    QVERIFY2(in->valueLabels().constLast().endsWith(u"/s"_s),
             qPrintable(in->valueLabels().join(u' ')));
    QCOMPARE(
        bytesOut->valueLabels(),
        (QStringList{u"0 bytes/s"_s, u"1.5 MB/s"_s, u"3.0 MB/s"_s, u"4.5 MB/s"_s, u"6.0 MB/s"_s}));
    QCOMPARE(view.chart(Mtw::DashboardView::Connections)->valueLabels(),
             (QStringList{u"0"_s, u"12"_s, u"24"_s, u"36"_s, u"48"_s}));
    view.rangeBox()->setCurrentIndex(view.rangeBox()->findData(0));
    shoot(&view, u"dashboard-session-metrics"_s);
    // Small: nothing clipped or crashed.
    in->resize(220, 110);
    QVERIFY(!in->grab().isNull());
    shoot(in, u"metric-chart-small"_s);
}

// After a shutdown nothing shows the last numbers as if they were live.
void tst_AdminOps::viewsClearAfterShutdown()
{
    MainWindow window;
    window.show();
    QVERIFY(startLocal(window, writeConfig(u"clear.toml"_s)));
    TestClient visitor;
    QVERIFY(visitor.open(wsUrl(window)));
    subscribe(visitor, u"chat.x"_s);
    QTRY_COMPARE(window.dashboardView()->counterText(u"connections"_s), u"1"_s);
    QTRY_COMPARE(window.client()->connections()->rowCount(), 1);
    QTRY_COMPARE(window.client()->channels()->rowCount(), 1);
    window.setConfirmHandler([](const QString &, const QString &) { return true; });
    window.shutdownServer();
    QTRY_VERIFY_WITH_TIMEOUT(!window.localServer()->isRunning(), 15000);
    QTRY_COMPARE(window.client()->state(), AdminClient::State::Disconnected);
    QCOMPARE(window.dashboardView()->counterText(u"connections"_s), u"–"_s);
    QCOMPARE(window.dashboardView()->counterText(u"messages_in_per_s"_s), u"–"_s);
    QCOMPARE(window.client()->connections()->rowCount(), 0);
    QCOMPARE(window.client()->channels()->rowCount(), 0);
    QVERIFY(window.client()->counters().isEmpty());
}

// The address comes as a pair: what was run last time, else the file's; never one of each.
void tst_AdminOps::runDialogAddress()
{
    const QString path =
        writeConfig(u"everywhere.toml"_s, u"[server]\nhost = \"0.0.0.0\"\nport = 9999\n"_s);
    MainWindow window;
    {
        QSettings settings;
        settings.setValue(u"local/configPath"_s, path);
    }
    {
        Mtw::RunServerDialog dialog;
        window.prepareRunDialog(dialog);
        QCOMPARE(dialog.host(), u"0.0.0.0"_s); // nothing saved: the file's address
        QCOMPARE(dialog.port(), 9999);
    }
    {
        QSettings settings;
        settings.setValue(u"local/host"_s, u"127.0.0.1"_s);
        settings.setValue(u"local/port"_s, 0);
    }
    {
        Mtw::RunServerDialog everywhere;
        everywhere.setConfigPath(path);
        const QList<QLabel *> labels = everywhere.findChildren<QLabel *>();
        QVERIFY(std::any_of(labels.cbegin(), labels.cend(), [](const QLabel *label) {
            return label->text().contains(u"every network interface"_s);
        }));
        everywhere.show();
        shoot(&everywhere, u"run-dialog-all-interfaces"_s);
    }
    Mtw::RunServerDialog dialog;
    window.prepareRunDialog(dialog);
    QCOMPARE(dialog.configPath(), path);
    QCOMPARE(dialog.host(), u"127.0.0.1"_s);
    QCOMPARE(dialog.port(), 0);
    QCOMPARE(dialog.config().server.host, u"127.0.0.1"_s);

    // Through the menu, as an operator: the dialog that opens shows the same pair.
    QString host;
    auto *timer = new QTimer(this);
    timer->setInterval(20);
    connect(timer, &QTimer::timeout, this, [&host, timer] {
        auto *open = qobject_cast<Mtw::RunServerDialog *>(QApplication::activeModalWidget());
        if (!open)
            return;
        timer->deleteLater();
        timer->stop();
        host = open->host();
        open->reject();
    });
    timer->start();
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QTest::keyClick(&window, Qt::Key_R, Qt::ControlModifier);
    QCOMPARE(host, u"127.0.0.1"_s);
    QVERIFY(!window.localServer()->isRunning());
}

// A label with a mnemonic has a buddy, or it shows its "&" as text.
void tst_AdminOps::labelsHaveBuddies()
{
    Mtw::RunServerDialog run;
    Mtw::ConnectDialog connectDialog({}, nullptr);
    MainWindow window;
    for (QWidget *root : std::initializer_list<QWidget *>{&run, &connectDialog, &window}) {
        const QList<QLabel *> labels = root->findChildren<QLabel *>();
        for (const QLabel *label : labels) {
            const QString text = label->text();
            if (text.contains(u'&') && !text.contains(u"&&"_s) && !text.contains(u'<'))
                QVERIFY2(label->buddy(), qPrintable(text));
        }
    }
}

// "3 of 7": the total counts rows the filter hides.
void tst_AdminOps::connectionCountUnderFilter()
{
    Mtw::ConnectionModel model;
    Mtw::ConnectionsView view(&model);
    const auto row = [](int i, const QString &user) {
        return QJsonObject{{u"conn_id"_s, u"c%1"_s.arg(i)},
                           {u"remote_address"_s, u"127.0.0.1"_s},
                           {u"user_id"_s, user},
                           {u"channels"_s, QJsonArray{}},
                           {u"connected_at"_s, 1711843200000.0}};
    };
    model.upsert(row(1, u"alice"_s));
    model.upsert(row(2, u"bob"_s));
    view.filterEdit()->setText(u"alice"_s);
    QCOMPARE(view.countLabel()->text(), u"1 of 2 connection(s)"_s);
    model.upsert(row(3, u"carol"_s)); // hidden by the filter
    QCOMPARE(view.countLabel()->text(), u"1 of 3 connection(s)"_s);
    model.remove(u"c2"_s);
    QCOMPARE(view.countLabel()->text(), u"1 of 2 connection(s)"_s);
    view.filterEdit()->clear();
    QCOMPARE(view.countLabel()->text(), u"2 connection(s)"_s);
}

void tst_AdminOps::tabLeavesTables()
{
    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    const QList<QTableView *> tables = window.findChildren<QTableView *>();
    QVERIFY(tables.size() >= 4);
    for (QTableView *table : tables)
        QVERIFY2(!table->tabKeyNavigation(), table->parentWidget()->metaObject()->className());
    window.showView(MainWindow::Connections);
    QTableView *table = window.connectionsView()->table();
    table->setFocus();
    QTRY_VERIFY(table->hasFocus());
    QTest::keyClick(table, Qt::Key_Tab);
    QVERIFY(!table->hasFocus());
}

void tst_AdminOps::channelsSortNaturally()
{
    using Mtw::NaturalSortProxy;
    QVERIFY(NaturalSortProxy::compareNatural(u"a2", u"a10") < 0);
    QVERIFY(NaturalSortProxy::compareNatural(u"a10", u"a9b") > 0);
    QVERIFY(NaturalSortProxy::compareNatural(u"A", u"a") != 0); // total order
    QVERIFY(NaturalSortProxy::compareNatural(u"x007", u"x7") != 0);
    QVERIFY(NaturalSortProxy::compareNatural(u"x007", u"x8") < 0);
    QVERIFY(NaturalSortProxy::compareNatural(u"room", u"room.1") < 0);
    AdminClient client;
    Mtw::ChannelsView view(&client);
    client.channels()->upsertAll({QJsonObject{{u"name"_s, u"room.10"_s}, {u"members"_s, 1}},
                                  QJsonObject{{u"name"_s, u"room.2"_s}, {u"members"_s, 30}},
                                  QJsonObject{{u"name"_s, u"room.1"_s}, {u"members"_s, 4}},
                                  QJsonObject{{u"name"_s, u"Room.3"_s}, {u"members"_s, 200}}});
    QAbstractItemModel *shown = view.table()->model();
    QStringList names;
    for (int row = 0; row < shown->rowCount(); ++row)
        names.append(shown->index(row, 0).data().toString());
    QCOMPARE(names, (QStringList{u"room.1"_s, u"room.2"_s, u"Room.3"_s, u"room.10"_s}));
    view.table()->sortByColumn(Mtw::ChannelModel::Members, Qt::AscendingOrder);
    QCOMPARE(shown->index(3, 0).data().toString(), u"Room.3"_s); // 200 > 30 as numbers
}

// Msg/s is an average over a few seconds of the totals: no jumps with the server's tick, and
// back to 0 once nothing is sent.
void tst_AdminOps::channelRatesAreSmoothed()
{
    Mtw::ChannelModel model;
    const auto rate = [&] {
        return model.index(0, Mtw::ChannelModel::Rate)
            .data(Mtw::JsonTableModel::SortRole)
            .toDouble();
    };
    const auto update = [&](double messages, double perSecond) {
        model.upsert(
            {{u"name"_s, u"chat"_s}, {u"messages"_s, messages}, {u"messages_per_s"_s, perSecond}});
    };
    update(0, 0);
    qint64 t = 1000;
    model.sampleRates(t);
    // 10 messages a second, counted 5, 15, 5, 15 per server tick: the shown rate stays
    // within 10 ± 1 where the server's per-tick figure jumps by 10.
    double total = 0;
    for (int i = 0; i < 8; ++i) {
        const double burst = i % 2 ? 15 : 5;
        total += burst;
        update(total, burst);
        model.sampleRates(t += 1000);
        if (i >= 4)
            QVERIFY2(rate() >= 9 && rate() <= 11, qPrintable(QString::number(rate())));
    }
    QCOMPARE(model.index(0, Mtw::ChannelModel::Rate).data().toString(),
             QLocale().toString(rate(), 'f', 1));
    // Silence: no rows come, the average decays to 0 within the window.
    for (int i = 0; i < 6; ++i)
        model.sampleRates(t += 1000);
    QCOMPARE(rate(), 0.0);
}

void tst_AdminOps::logCopyAndExport()
{
    Mtw::LogModel model;
    Mtw::LogView view(&model);
    const auto entry = [](const QString &level, const QString &text) {
        return QJsonObject{{u"ts"_s, u"2024-03-31T00:00:00.000Z"_s},
                           {u"level"_s, level},
                           {u"category"_s, u"mtw.server"_s},
                           {u"message"_s, text}};
    };
    model.append({entry(u"info"_s, u"first"_s),
                  entry(u"warning"_s, u"second"_s),
                  entry(u"error"_s, u"third"_s)});
    view.show();
    view.table()->selectRow(1);
    view.table()->setFocus();
    QTest::keyClick(view.table(), Qt::Key_C, Qt::ControlModifier);
    const QString copied = QApplication::clipboard()->text();
    QVERIFY2(copied.endsWith(u"\twarning\tmtw.server\tsecond\n"_s), qPrintable(copied));
    QCOMPARE(copied.count(u'\n'), 1);

    view.levelBox()->setCurrentIndex(2); // warnings and errors
    const QString path = m_dir.filePath(u"export.log"_s);
    QString error;
    QVERIFY2(view.exportTo(path, &error), qPrintable(error));
    const QStringList lines = readFile(path).split(u'\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 2);
    QVERIFY(lines.at(0).endsWith(u"second"_s));
    QVERIFY(lines.at(1).endsWith(u"third"_s));
    QVERIFY(!view.exportTo(m_dir.filePath(u"no/such/dir/x.log"_s), &error));
    QVERIFY(!error.isEmpty());
}

// Not connected: the dashboard points to the two ways in, with buttons that open them.
void tst_AdminOps::firstRunScreen()
{
    MainWindow window;
    window.resize(1000, 640);
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    Mtw::DashboardView *dashboard = window.dashboardView();
    QVERIFY(dashboard->welcomePanel()->isVisible());
    QVERIFY(!dashboard->chart(Mtw::DashboardView::MessagesIn)->isVisible()); // nothing to chart
    shoot(&window, u"first-run"_s);

    QString opened;
    auto *timer = new QTimer(this);
    timer->setInterval(20);
    connect(timer, &QTimer::timeout, this, [&opened] {
        QWidget *modal = QApplication::activeModalWidget();
        if (!modal)
            return;
        opened = QString::fromLatin1(modal->metaObject()->className());
        qobject_cast<QDialog *>(modal)->reject();
    });
    timer->start();
    dashboard->runButton()->click();
    QCOMPARE(opened, u"Mtw::RunServerDialog"_s);
    dashboard->connectButton()->click();
    QCOMPARE(opened, u"Mtw::ConnectDialog"_s);
    timer->stop();
    delete timer;

    QVERIFY(startLocal(window, writeConfig(u"first-run.toml"_s)));
    QVERIFY(!dashboard->welcomePanel()->isVisible());
    window.setConfirmHandler([](const QString &, const QString &) { return true; });
    window.shutdownServer();
    QTRY_VERIFY_WITH_TIMEOUT(!window.localServer()->isRunning(), 15000);
    QTRY_VERIFY(dashboard->welcomePanel()->isVisible());
}

// Under a dark palette the banner is dark with light text, and the new views are shot dark.
void tst_AdminOps::darkPalette()
{
    const QPalette dark = ::darkPalette();
    QVERIFY(Mtw::isDarkPalette(dark));
    QVERIFY(!Mtw::isDarkPalette(QPalette(Qt::white)));
    const QString style = Mtw::bannerStyleSheet(dark, true);
    const QColor background(style.section(u"background: "_s, 1).section(u';', 0, 0));
    const QColor text(style.section(u"color: "_s, 1).section(u';', 0, 0));
    QVERIFY2(background.isValid() && background.lightness() < 100, qPrintable(style));
    QVERIFY2(text.lightness() - background.lightness() > 120, qPrintable(style));
    QVERIFY(Mtw::errorTextColor(dark).lightness() > 140);

    const QPalette original = QApplication::palette();
    QApplication::setPalette(dark);
    {
        MainWindow window;
        window.resize(1100, 700);
        window.show();
        window.connectToServer(QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(freePort())), {}, false);
        QTRY_VERIFY(window.bannerText().contains(u"Nothing is listening"_s));
        const QImage shot = window.grab().toImage();
        shoot(&window, u"first-run-dark"_s);
        // The banner's area is dark: sample the middle of the first banner line.
        const QList<QLabel *> labels = window.findChildren<QLabel *>();
        const auto it = std::find_if(labels.cbegin(), labels.cend(), [&](const QLabel *label) {
            return label->text() == window.bannerText();
        });
        QVERIFY(it != labels.cend());
        const QPoint inside = (*it)->mapTo(&window, QPoint(3, 3));
        QVERIFY2(shot.pixelColor(inside * shot.devicePixelRatio()).lightness() < 100,
                 qPrintable(shot.pixelColor(inside).name()));

        QVERIFY(startLocal(window, writeConfig(u"dark.toml"_s)));
        TestClient member;
        QVERIFY(member.open(wsUrl(window)));
        subscribe(member, u"chat.dark"_s);
        publish(member,
                u"chat.dark"_s,
                {{u"kind"_s, u"Json"_s}, {u"data"_s, QJsonObject{{u"theme"_s, u"dark"_s}}}});
        window.showView(MainWindow::Channels);
        QTRY_VERIFY(window.channelsView()->selectChannel(u"chat.dark"_s));
        QTRY_VERIFY(!window.channelsView()->inspector()->toPlainText().isEmpty());
        shoot(&window, u"channels-dark"_s);
        window.showView(MainWindow::Connections);
        QTRY_VERIFY(window.connectionsView()->selectConnection(member.connId));
        shoot(&window, u"connections-dark"_s);
        window.showView(MainWindow::Dashboard);
        QSignalSpy ticks(window.client(), &AdminClient::countersChanged);
        QTRY_VERIFY_WITH_TIMEOUT(ticks.count() >= 3, 15000);
        shoot(&window, u"dashboard-dark"_s);
        window.showView(MainWindow::Configuration);
        Mtw::ConfigEditor *editor = window.configView()->editor();
        QTRY_VERIFY(!editor->text().isEmpty());
        // Syntax colours and error tints readable on the dark base.
        const QColor key =
            editor->highlighter()->format(Mtw::TomlHighlighter::Kind::Key).foreground().color();
        QVERIFY2(key.lightness() > 140, qPrintable(key.name()));
        QTextCursor cursor(editor->textEdit()->document());
        cursor.movePosition(QTextCursor::End);
        cursor.insertText(u"[server]\nport = \"eighty\"\n"_s);
        editor->validate();
        QVERIFY(!editor->isValid());
        const QList<QTextEdit::ExtraSelection> marks = editor->textEdit()->extraSelections();
        QVERIFY(!marks.isEmpty());
        for (const QTextEdit::ExtraSelection &mark : marks) {
            if (mark.format.hasProperty(QTextFormat::FullWidthSelection))
                QVERIFY2(mark.format.background().color().lightness() < 100,
                         qPrintable(mark.format.background().color().name()));
        }
        shoot(&window, u"configuration-dark"_s);
        editor->setModified(false);
        window.setConfirmHandler([](const QString &, const QString &) { return true; });
        window.shutdownServer();
        QTRY_VERIFY_WITH_TIMEOUT(!window.localServer()->isRunning(), 15000);
    }
    QApplication::setPalette(original);
}

QTEST_MAIN(tst_AdminOps)
#include "tst_adminops.moc"
