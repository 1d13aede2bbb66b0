// SPDX-License-Identifier: MIT
// mtwadmin against real servers: one run in-process ("Run a server here") and one mtwserver
// process ("Connect to a server"), with real WebSocket clients coming and going.
#include "adminclient.h"
#include "agentsview.h"
#include "channelsview.h"
#include "configeditor.h"
#include "configview.h"
#include "connectionsview.h"
#include "dashboardview.h"
#include "jsontablemodel.h"
#include "localserver.h"
#include "logcapture.h"
#include "logmodel.h"
#include "logview.h"
#include "mainwindow.h"
#include "metricchart.h"
#include "modulesview.h"
#include "publishdialog.h"
#include "serverprocess.h"
#include "testclient.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressDialog>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTableView>
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

// Comments on every line kind, so a save that rewrote the file would lose some of them.
const QString configText = uR"(# mtw.toml for the mtwadmin GUI test
[server]
host = "127.0.0.1" # loopback only
port = 0
shutdown_timeout = 2 # seconds

# Channels the test uses.
[[channels]]
name = "chat.*"
history = 20
presence = true

[[modules]]
name = "counter-room"

[[modules]]
name = "mtw-broker-redis" # not built here: shows a failed module

[logging]
level = "info"
)"_s;

QJsonObject connectionJson(int i, int messages)
{
    return {{u"conn_id"_s, u"conn-%1"_s.arg(i, 5, 10, QLatin1Char('0'))},
            {u"remote_address"_s, u"10.0.%1.%2"_s.arg(i / 256).arg(i % 256)},
            {u"user_id"_s, u"user%1"_s.arg(i % 97)},
            {u"user_agent"_s, u"bench/1.0"_s},
            {u"channels"_s, QJsonArray{u"chat.general"_s}},
            {u"mode"_s, u"text"_s},
            {u"queue_bytes"_s, 0},
            {u"messages_in"_s, messages + (i % 7)},
            {u"messages_out"_s, messages * 2},
            {u"connected_at"_s, 1711843200000.0 + i}};
}

void subscribe(TestClient &client, const QString &channel)
{
    const QString id = u"sub-"_s + channel;
    client.sendEnvelope(u"subscribe"_s, id, {{u"channel"_s, channel}});
    QVERIFY2(!client.reply(id).isEmpty(), qPrintable(u"no reply to subscribe "_s + channel));
}

void publishFrom(TestClient &client, const QString &channel, const QJsonObject &data)
{
    static int next = 0;
    client.sendEnvelope(u"publish"_s,
                        u"pub-%1"_s.arg(++next),
                        {{u"channel"_s, channel},
                         {u"payload"_s, QJsonObject{{u"kind"_s, u"Json"_s}, {u"data"_s, data}}}});
}

} // namespace

class tst_MtwAdmin : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void jsonTableModelDeltas();
    void tenThousandConnections();
    void logModelPauseAndFilter();
    void publishDialogValidatesAsYouType();
    void rateChartKeepsItsWindow();
    void localServerConfig();
    void viewShortcuts();
    void remoteServerWithToken();
    void endToEnd_data();
    void endToEnd();
    void agentsView();

private:
    void kickFromGui(MainWindow &window, TestClient &victim, const int &confirmations);
    void publishFromGui(MainWindow &window, TestClient &subscriber);
    void exerciseConfigView(MainWindow &window, const QString &path);
    void takeScreenshots(MainWindow &window);

    QTemporaryDir m_dir;
    QString m_screenshots = QStringLiteral(MTW_SCREENSHOT_DIR);
};

void tst_MtwAdmin::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true); // QSettings go to a test location
    QCoreApplication::setOrganizationName(u"mtw-test"_s);
    QCoreApplication::setApplicationName(u"tst_mtwadmin"_s);
    QSettings().clear();
    Mtw::installLogCapture(); // as mtwadmin's main() does, for the in-process server's log
    QVERIFY(m_dir.isValid());
    QVERIFY(QDir().mkpath(m_screenshots));
}

// Deltas insert, update and remove single rows: never a reset, and the index stays right.
void tst_MtwAdmin::jsonTableModelDeltas()
{
    Mtw::ConnectionModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSortFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    proxy.setSortRole(Mtw::JsonTableModel::SortRole);
    proxy.sort(Mtw::ConnectionModel::In, Qt::DescendingOrder);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

    for (int i = 0; i < 5; ++i)
        model.upsert(connectionJson(i, 1));
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(inserted.count(), 5);

    model.upsert(connectionJson(2, 1)); // unchanged: no signal
    QCOMPARE(changed.count(), 0);
    model.upsert(connectionJson(2, 50));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(proxy.index(0, 0).data().toString(), u"conn-00002"_s); // re-sorted to the top

    QVERIFY(model.remove(u"conn-00001"_s));
    QVERIFY(!model.remove(u"conn-00001"_s));
    QCOMPARE(removed.count(), 1);
    QCOMPARE(model.rowCount(), 4);
    for (int row = 0; row < model.rowCount(); ++row)
        QCOMPARE(model.rowOf(model.keyAt(row)), row);
    QCOMPARE(model.object(u"conn-00004"_s).value(u"user_id"_s).toString(), u"user4"_s);
    QCOMPARE(resets.count(), 0);

    // Numbers sort as numbers, bytes and times are formatted for people.
    QCOMPARE(model.index(model.rowOf(u"conn-00002"_s), Mtw::ConnectionModel::In)
                 .data(Mtw::JsonTableModel::SortRole)
                 .toLongLong(),
             52);
    QVERIFY(!model.index(0, Mtw::ConnectionModel::Since).data().toString().isEmpty());
}

// 10,000 rows: opening, updating every row (as connections_updated does each second while the
// view is sorted by a changing column) and closing half are all incremental; the times are printed.
void tst_MtwAdmin::tenThousandConnections()
{
    constexpr int count = 10000;
    Mtw::ConnectionModel model;
    Mtw::ConnectionsView view(&model);
    view.resize(1000, 600);
    view.show();
    view.table()->sortByColumn(Mtw::ConnectionModel::In, Qt::DescendingOrder);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy removals(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);

    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < count; ++i)
        model.upsert(connectionJson(i, 1));
    const qint64 insertMs = timer.restart();
    QCOMPARE(view.proxy()->rowCount(), count);

    QJsonArray update;
    for (int i = 0; i < count; ++i)
        update.append(connectionJson(i, 2 + i % 13));
    timer.restart();
    model.upsertAll(update);
    const qint64 updateMs = timer.restart();

    for (int i = 0; i < count; i += 2)
        model.remove(u"conn-%1"_s.arg(i, 5, 10, QLatin1Char('0')));
    const qint64 removeMs = timer.restart();
    QCOMPARE(model.rowCount(), count / 2);
    QCOMPARE(view.proxy()->rowCount(), count / 2);

    view.filterEdit()->setText(u"user13"_s);
    QVERIFY(view.proxy()->rowCount() > 0);
    QVERIFY(view.proxy()->rowCount() < count / 2);
    const qint64 filterMs = timer.restart();
    QCOMPARE(resets.count(), 0);
    qInfo("10,000 rows: insert %lld ms, update all %lld ms, remove 5,000 %lld ms, filter %lld ms",
          insertMs,
          updateMs,
          removeMs,
          filterMs);
    // Speed belongs to benchmarks, not to assertions that a loaded machine or a sanitizer build
    // breaks: what is asserted is that every change was incremental (no reset, one removal per
    // closed connection, updates as dataChanged), which is what keeps the view smooth.
    QCOMPARE(removals.count(), count / 2);
    QVERIFY(changes.count() > 0);
}

void tst_MtwAdmin::logModelPauseAndFilter()
{
    Mtw::LogModel model;
    Mtw::LogView view(&model);
    const auto entry = [](const QString &level, const QString &category, const QString &text) {
        return QJsonObject{{u"ts"_s, u"2024-03-31T00:00:00.000Z"_s},
                           {u"level"_s, level},
                           {u"category"_s, category},
                           {u"message"_s, text}};
    };
    model.append({entry(u"info"_s, u"mtw.server"_s, u"listening"_s),
                  entry(u"warning"_s, u"mtw.transport"_s, u"slow consumer"_s),
                  entry(u"debug"_s, u"mtw.channels"_s, u"subscribed"_s)});
    QCOMPARE(view.filter()->rowCount(), 3);

    view.levelBox()->setCurrentIndex(2); // warnings and errors
    QCOMPARE(view.filter()->rowCount(), 1);
    view.levelBox()->setCurrentIndex(0);
    view.categoryBox()->setCurrentIndex(view.categoryBox()->findData(u"mtw.server"_s));
    QCOMPARE(view.filter()->rowCount(), 1);
    view.categoryBox()->setCurrentIndex(0);

    view.pauseButton()->click();
    QVERIFY(model.isPaused());
    model.append({entry(u"error"_s, u"mtw.server"_s, u"boom"_s)});
    QCOMPARE(model.rowCount(), 3);
    QVERIFY(view.pauseButton()->text().contains(u"1"_s));
    view.pauseButton()->click();
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.index(3, Mtw::LogModel::Level).data().toString(), u"error"_s);
}

void tst_MtwAdmin::publishDialogValidatesAsYouType()
{
    Mtw::PublishDialog dialog({u"chat.general"_s});
    QPushButton *ok = dialog.buttons()->button(QDialogButtonBox::Ok);
    dialog.setChannel(u"chat.general"_s);
    QVERIFY(ok->isEnabled()); // the default payload is valid JSON

    dialog.setPayloadText(u"{\n  \"text\": \"hi\",\n}"_s);
    QVERIFY(!ok->isEnabled());
    QVERIFY(!dialog.isPayloadValid());
    QVERIFY2(dialog.errorLabel()->text().contains(u"Line 3"_s),
             qPrintable(dialog.errorLabel()->text()));

    // Typing the fix character by character re-validates each time.
    dialog.setPayloadText(u"{\"text\": \"hi\""_s);
    QVERIFY(!ok->isEnabled());
    QTextCursor cursor = dialog.payloadEdit()->textCursor();
    cursor.movePosition(QTextCursor::End);
    dialog.payloadEdit()->setTextCursor(cursor);
    QTest::keyClicks(dialog.payloadEdit(), u"}"_s);
    QVERIFY(ok->isEnabled());
    QCOMPARE(dialog.payload().toObject().value(u"text"_s).toString(), u"hi"_s);

    // Any JSON value is a payload; an empty channel is not a destination.
    dialog.setPayloadText(u"42"_s);
    QVERIFY(ok->isEnabled());
    QCOMPARE(dialog.payload().toInt(), 42);
    dialog.setChannel(QString());
    QVERIFY(!ok->isEnabled());
}

void tst_MtwAdmin::rateChartKeepsItsWindow()
{
    Mtw::MetricChart chart(u"in"_s, Mtw::MetricChart::Unit::PerSecond, Qt::blue);
    chart.setRange(10 * 1000);
    for (int i = 0; i < 25; ++i)
        chart.addSample(1000LL * i, double(i));
    QCOMPARE(chart.sampleCount(), 25);        // the session is kept
    QCOMPARE(chart.visibleSampleCount(), 11); // the last 10 s are shown
    QCOMPARE(chart.samples().constLast().value, 24.0);
    chart.resize(300, 150);
    QVERIFY(!chart.grab().isNull()); // paints without a crash at a small size
}

void tst_MtwAdmin::localServerConfig()
{
    const QString path = m_dir.filePath(u"local.toml"_s);
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("[server]\nport = \"eighty\"\n");
    file.close();
    const Mtw::Result<Mtw::Config> bad = Mtw::LocalServer::makeConfig(path, u"127.0.0.1"_s, 0);
    QVERIFY(!bad);
    QVERIFY2(bad.error().message.contains(u"server.port"_s), qPrintable(bad.error().message));

    const Mtw::Result<Mtw::Config> defaults = Mtw::LocalServer::makeConfig({}, u"127.0.0.1"_s, 0);
    QVERIFY(defaults);
    QCOMPARE(defaults->server.host, u"127.0.0.1"_s);
    QCOMPARE(defaults->server.port, 0);
    QVERIFY(defaults->admin.enabled);
}

void tst_MtwAdmin::viewShortcuts()
{
    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    for (int i = 0; i < MainWindow::ViewCount; ++i) {
        QCOMPARE(window.viewAction(MainWindow::View(i))->shortcut(),
                 QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
    }
    QTest::keyClick(&window, Qt::Key_3, Qt::ControlModifier);
    QCOMPARE(window.currentView(), MainWindow::Channels);
    QTest::keyClick(&window, Qt::Key_6, Qt::ControlModifier);
    QCOMPARE(window.currentView(), MainWindow::Configuration);
    QTest::keyClick(&window, Qt::Key_1, Qt::ControlModifier);
    QCOMPARE(window.currentView(), MainWindow::Dashboard);
    QCOMPARE(window.publishAction()->shortcut(), QKeySequence(u"Ctrl+P"_s));
    QCOMPARE(window.disconnectAction()->shortcut(), QKeySequence(QKeySequence::Delete));
    // The icon comes from the resources (SVG, needs the Qt SVG image plugin at run time).
    QVERIFY(!window.windowIcon().pixmap(32, 32).isNull());
    // Nothing to act on while not connected.
    QVERIFY(!window.publishAction()->isEnabled());
    QVERIFY(!window.disconnectAction()->isEnabled());
    QVERIFY(!window.shutdownAction()->isEnabled());

    // Geometry and the current view come back in the next window.
    window.showView(MainWindow::Log);
    window.resize(1001, 701);
    window.close();
    MainWindow next;
    QCOMPARE(next.currentView(), MainWindow::Log);
    QCOMPARE(next.size(), QSize(1001, 701));
}

// "Connect to a server" with admin.token set: a wrong token is refused and said so, the right
// one (sent as Authorization: Bearer) gets the snapshot; the URL joins the recent servers.
void tst_MtwAdmin::remoteServerWithToken()
{
    const QString path = m_dir.filePath(u"token.toml"_s);
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("[admin]\ntoken = \"correct-horse-battery-staple\"\n");
    file.close();
    ServerProcess process;
    QVERIFY2(process.start({u"--config"_s, path, u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s}),
             qPrintable(process.allLog()));
    const QUrl url(u"ws://127.0.0.1:%1/admin"_s.arg(process.port));

    MainWindow window;
    QSignalSpy errors(window.client(), &AdminClient::errorOccurred);
    window.connectToServer(url, u"wrong"_s, false);
    QTRY_VERIFY(!errors.isEmpty());
    QTRY_COMPARE(window.client()->state(), AdminClient::State::Disconnected);
    QVERIFY2(errors.constFirst().at(0).toString().contains(u"401"_s),
             qPrintable(errors.constFirst().at(0).toString()));
    QVERIFY(!window.recentServers().contains(url.toString()));

    window.connectToServer(url, u"correct-horse-battery-staple"_s, false);
    QTRY_COMPARE_WITH_TIMEOUT(window.client()->state(), AdminClient::State::Connected, 10000);
    QCOMPARE(window.recentServers().value(0), url.toString());
    process.process.terminate(); // SIGTERM: graceful, exit 0
    QTRY_COMPARE_WITH_TIMEOUT(process.process.state(), QProcess::NotRunning, 15000);
    QCOMPARE(process.process.exitCode(), 0);
    QTRY_COMPARE(window.client()->state(), AdminClient::State::Disconnected);
}

void tst_MtwAdmin::endToEnd_data()
{
    QTest::addColumn<bool>("inProcess");
    QTest::newRow("in-process") << true;
    QTest::newRow("mtwserver process") << false;
}

// The whole operator loop on one server: clients appear and disappear, one is kicked from the
// GUI, a message is published from the GUI, the config is edited and saved, the log fills, and
// the server is shut down from the GUI.
void tst_MtwAdmin::endToEnd()
{
    QFETCH(bool, inProcess);
    const QString configPath = m_dir.filePath(inProcess ? u"inprocess.toml"_s : u"process.toml"_s);
    {
        QFile file(configPath);
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(configText.toUtf8());
    }

    MainWindow window;
    int confirmations = 0;
    window.setConfirmHandler([&confirmations](const QString &, const QString &) {
        ++confirmations;
        return true;
    });
    window.resize(1280, 800);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    AdminClient *client = window.client();

    std::unique_ptr<ServerProcess> process;
    quint16 port = 0;
    if (inProcess) {
        const Mtw::Result<Mtw::Config> config =
            Mtw::LocalServer::makeConfig(configPath, u"127.0.0.1"_s, 0);
        QVERIFY2(config, config ? "" : qPrintable(config.error().message));
        window.runLocalServer(*config);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), AdminClient::State::Connected, 15000);
        port = quint16(window.localServer()->adminUrl().port());
    } else {
        process = std::make_unique<ServerProcess>();
        QVERIFY2(process->start(
                     {u"--config"_s, configPath, u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s}),
                 qPrintable(process->allLog()));
        port = process->port;
        // No admin.token configured: the server generated one; the operator's command prints it.
        const ProcessResult token = runServer(
            {u"--admin-token"_s, u"--config"_s, configPath, u"--port"_s, QString::number(port)});
        QCOMPARE(token.exitCode, 0);
        QVERIFY2(token.out.trimmed().size() >= 43, qPrintable(token.out + token.err));
        QVERIFY2(!process->allLog().contains(token.out.trimmed()), "the token is in the log");
        window.connectToServer(QUrl(u"ws://127.0.0.1:%1/admin"_s.arg(port)),
                               token.out.trimmed(),
                               false);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), AdminClient::State::Connected, 15000);
    }
    QVERIFY(port != 0);
    QCOMPARE(client->serverInfo().value(u"port"_s).toInt(), int(port));
    const QUrl wsUrl(u"ws://127.0.0.1:%1/ws"_s.arg(port));

    // Rows appear as real clients connect.
    auto *connections = client->connections();
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(std::make_unique<TestClient>());
        QVERIFY(clients.back()->open(wsUrl));
    }
    QTRY_COMPARE(connections->rowCount(), 4);
    for (const auto &c : clients)
        QVERIFY(connections->rowOf(c->connId) >= 0);
    subscribe(*clients[0], u"chat.general"_s);
    subscribe(*clients[1], u"chat.general"_s);
    subscribe(*clients[2], u"chat.random"_s);
    QTRY_VERIFY(client->channels()->rowOf(u"chat.general"_s) >= 0);

    // ... and disappear as they leave.
    const QString leaving = clients[3]->connId;
    clients[3]->socket.close();
    QTRY_COMPARE(connections->rowCount(), 3);
    QCOMPARE(connections->rowOf(leaving), -1);

    kickFromGui(window, *clients[2], confirmations);
    if (QTest::currentTestFailed())
        return;
    QTRY_COMPARE(connections->rowCount(), 2);
    publishFromGui(window, *clients[0]);
    if (QTest::currentTestFailed())
        return;

    // The log view shows lines.
    QTRY_VERIFY(client->log()->rowCount() > 0);
    QVERIFY(window.logView()->table()->model()->rowCount() > 0);

    exerciseConfigView(window, configPath);
    if (QTest::currentTestFailed())
        return;

    if (inProcess) {
        // Some traffic for the rate chart and the channel history, then the pictures.
        for (int i = 0; i < 4; ++i) {
            clients.push_back(std::make_unique<TestClient>());
            QVERIFY(clients.back()->open(wsUrl));
            subscribe(*clients.back(), i % 2 ? u"chat.random"_s : u"chat.general"_s);
        }
        QTimer traffic;
        int sent = 0;
        connect(&traffic, &QTimer::timeout, this, [&] {
            ++sent;
            publishFrom(*clients[0],
                        u"chat.general"_s,
                        {{u"text"_s, u"message %1"_s.arg(sent)}, {u"n"_s, sent}});
            if (sent % 3 == 0)
                publishFrom(*clients[4], u"chat.random"_s, {{u"text"_s, u"random %1"_s.arg(sent)}});
            // A ramp, so the chart has a shape: one more message per tick every 37 ticks.
            for (int extra = sent / 37; extra > 0; --extra)
                publishFrom(*clients[1], u"chat.general"_s, {{u"text"_s, u"burst"_s}});
        });
        // Traffic until the dashboard has charted six counter updates of it (one sample each),
        // however long the machine takes to deliver them.
        QSignalSpy updates(client, &AdminClient::countersChanged);
        traffic.start(40);
        QTRY_VERIFY_WITH_TIMEOUT(updates.size() >= 6, 60000);
        traffic.stop();
        QVERIFY(sent > 0);
        QVERIFY(window.dashboardView()->chart(Mtw::DashboardView::MessagesIn)->sampleCount() >= 6);
        QTRY_COMPARE(connections->rowCount(), 6);
        takeScreenshots(window);
        if (QTest::currentTestFailed())
            return;
    }

    // Shut down from the GUI: progress shows, the server ends cleanly.
    QSignalSpy localFinished(window.localServer(), &Mtw::LocalServer::finished);
    window.shutdownServer();
    QVERIFY(window.shutdownProgress());
    if (inProcess) {
        QTRY_COMPARE_WITH_TIMEOUT(localFinished.count(), 1, 15000);
        QVERIFY(!window.localServer()->isRunning());
    } else {
        // Not waitForFinished(): the clients and the GUI answer the close handshakes meanwhile.
        QTRY_COMPARE_WITH_TIMEOUT(process->process.state(), QProcess::NotRunning, 15000);
        QCOMPARE(process->process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process->process.exitCode(), 0);
    }
    QVERIFY(clients[0]->waitClosed());
    QCOMPARE(clients[0]->closeCode, 1001);
    QTRY_COMPARE(client->state(), AdminClient::State::Disconnected);
    QTRY_VERIFY(!window.shutdownProgress());
    QVERIFY(!window.isReconnecting()); // a server shut down from here is not reconnected to
}

// Disconnect from the GUI with the keyboard: the client is closed, the server says Kicked.
void tst_MtwAdmin::kickFromGui(MainWindow &window, TestClient &victim, const int &confirmations)
{
    AdminClient *client = window.client();
    QSignalSpy closed(client, &AdminClient::connectionClosed);
    const QString kicked = victim.connId;
    window.showView(MainWindow::Connections);
    QVERIFY(window.connectionsView()->selectConnection(kicked));
    QVERIFY2(window.disconnectAction()->isEnabled(),
             qPrintable(u"selected %1, view %2, state %3"_s
                            .arg(window.connectionsView()->selectedConnIds().join(u' '))
                            .arg(int(window.currentView()))
                            .arg(int(client->state()))));
    // With the keyboard, as an operator would: Del in the table runs Server > Disconnect Client.
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    window.connectionsView()->table()->setFocus();
    QTest::keyClick(window.connectionsView()->table(), Qt::Key_Delete);
    QCOMPARE(confirmations, 1);
    QVERIFY(victim.waitClosed());
    QTRY_VERIFY(!closed.isEmpty());
    const auto kickedEntry = std::find_if(closed.cbegin(), closed.cend(), [&](const auto &args) {
        return args.at(0).toString() == kicked;
    });
    QVERIFY(kickedEntry != closed.cend());
    QVERIFY2(kickedEntry->at(1).toString().startsWith(u"Kicked"_s),
             qPrintable(kickedEntry->at(1).toString()));
}

// Publish from the GUI through the dialog: the subscribed client gets it from "admin".
void tst_MtwAdmin::publishFromGui(MainWindow &window, TestClient &subscriber)
{
    QSignalSpy published(&window, &MainWindow::published);
    window.publishAction()->trigger();
    auto *dialog = window.findChild<Mtw::PublishDialog *>();
    QVERIFY(dialog);
    QTRY_VERIFY(dialog->isVisible());
    dialog->setChannel(u"chat.general"_s);
    dialog->setPayloadText(u"{\"hello\": \"from the gui\"}"_s);
    QPushButton *publishButton = dialog->buttons()->button(QDialogButtonBox::Ok);
    QVERIFY(publishButton->isEnabled());
    publishButton->click();
    QTRY_COMPARE(published.count(), 1);
    QCOMPARE(published.at(0).at(0).toInt(), 2); // the two chat.general members
    QTRY_VERIFY(!subscriber.ofType(u"publish"_s, u"chat.general"_s).isEmpty());
    const QJsonObject delivered = subscriber.ofType(u"publish"_s, u"chat.general"_s).constLast();
    QCOMPARE(delivered.value(u"payload"_s).toObject().value(u"data"_s).toObject().value(u"hello"_s),
             QJsonValue(u"from the gui"_s));
    QCOMPARE(delivered.value(u"metadata"_s).toObject().value(u"from"_s).toString(), u"admin"_s);
}

// The config view refuses invalid text and saves valid text byte for byte, comments included.
void tst_MtwAdmin::exerciseConfigView(MainWindow &window, const QString &path)
{
    Mtw::ConfigView *view = window.configView();
    window.showView(MainWindow::Configuration);
    QTRY_COMPARE(view->path(), QFileInfo(path).absoluteFilePath());
    QTRY_COMPARE(view->editor()->text(), configText);
    QVERIFY(!view->saveButton()->isEnabled()); // nothing edited yet

    QPlainTextEdit *edit = view->editor()->textEdit();
    QTextCursor cursor(edit->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(u"rules = [1, \n"_s); // a TOML syntax error
    edit->setTextCursor(cursor);
    QTRY_VERIFY(!view->editor()->isValid());
    QVERIFY(!view->saveButton()->isEnabled());
    QSignalSpy saved(view, &Mtw::ConfigView::savedResult);
    view->save(); // forced anyway: refused before anything is sent
    QCOMPARE(saved.count(), 1);
    QCOMPARE(saved.at(0).at(0).toBool(), false);
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(file.readAll()), configText);
    }

    // A valid edit: a changed value, a live one (logging.rules) and a new comment.
    QString edited = configText;
    edited.replace(u"shutdown_timeout = 2 # seconds"_s,
                   u"shutdown_timeout = 3 # seconds, edited in mtwadmin"_s);
    edited += u"rules = \"mtwadmin.tst.debug=true\"\n# saved by tst_mtwadmin\n"_s;
    cursor.select(QTextCursor::Document);
    cursor.insertText(edited);
    QTRY_VERIFY(view->editor()->isValid());
    QTRY_VERIFY(view->saveButton()->isEnabled());
    saved.clear();
    view->saveButton()->click();
    QTRY_COMPARE(saved.count(), 1);
    QVERIFY2(saved.at(0).at(0).toBool(), qPrintable(saved.at(0).at(1).toString()));
    // The save is reloaded by the server as SIGHUP would (issue 14), and says so.
    QVERIFY2(view->statusLabel()->text().contains(
                 u"configuration reloaded; applied: logging.rules; needs a restart: "
                 "server.shutdown_timeout."_s),
             qPrintable(view->statusLabel()->text()));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(QString::fromUtf8(file.readAll()), edited);
    QVERIFY(!view->editor()->isModified());
    QVERIFY(!view->saveButton()->isEnabled());
}

void tst_MtwAdmin::takeScreenshots(MainWindow &window)
{
    Mtw::ChannelsView *channels = window.channelsView();
    window.showView(MainWindow::Channels);
    QSignalSpy details(channels, &Mtw::ChannelsView::detailsLoaded);
    QVERIFY(channels->selectChannel(u"chat.general"_s));
    QTRY_VERIFY(details.count() >= 1);
    QTRY_VERIFY(channels->historyList()->topLevelItemCount() > 0);
    QVERIFY(channels->presenceList()->topLevelItemCount() > 0);

    window.showView(MainWindow::Connections);
    window.connectionsView()->selectConnection(window.client()->connections()->keyAt(0));
    QTRY_VERIFY(window.client()->modules()->rowCount() > 0);
    // The failed module, so its error shows in the detail pane.
    QTableView *modules = window.modulesView()->table();
    for (int row = 0; row < modules->model()->rowCount(); ++row) {
        if (modules->model()->index(row, 0).data().toString() == "mtw-broker-redis"_L1)
            modules->selectRow(row);
    }

    const std::pair<MainWindow::View, const char *> shots[] = {
        {MainWindow::Dashboard, "dashboard"},
        {MainWindow::Connections, "connections"},
        {MainWindow::Channels, "channels"},
        {MainWindow::Modules, "modules"},
        {MainWindow::Log, "log"},
        {MainWindow::Configuration, "configuration"},
    };
    for (const auto &[view, name] : shots) {
        window.showView(view);
        // Whatever switching the view posted (layouts, repaints) is handled before the grab.
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        const QString file = m_screenshots + u'/' + QLatin1String(name) + u".png"_s;
        QVERIFY2(window.grab().save(file), qPrintable(file));
    }
}

// The Agents view, live from the in-process server's admin API: one row per [[agents]] entry
// with its provider, model and channels; a task that fails (no module serves the provider)
// shows up in the numbers within the admin API's one-second tick. Screenshot: agents.png.
void tst_MtwAdmin::agentsView()
{
    const QString configPath = m_dir.filePath(u"agents.toml"_s);
    {
        QFile file(configPath);
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write("[server]\nhost = \"127.0.0.1\"\nport = 0\nshutdown_timeout = 2\n\n"
                   "[[agents]]\nname = \"helper\"\nprovider = \"anthropic\"\n"
                   "model = \"claude-sonnet-4-5\"\nchannels = [\"support.*\", \"help\"]\n\n"
                   "[[agents]]\nname = \"local\"\nprovider = \"openai\"\n");
    }
    MainWindow window;
    window.resize(1280, 800);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const Mtw::Result<Mtw::Config> config =
        Mtw::LocalServer::makeConfig(configPath, u"127.0.0.1"_s, 0);
    QVERIFY2(config, config ? "" : qPrintable(config.error().message));
    window.runLocalServer(*config);
    AdminClient *client = window.client();
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), AdminClient::State::Connected, 15000);
    Mtw::AgentModel *agents = client->agents();
    QCOMPARE(agents->keys(), (QStringList{u"helper"_s, u"local"_s}));
    const QJsonObject helper = agents->object(u"helper"_s);
    QCOMPARE(helper.value(u"provider"_s).toString(), u"anthropic"_s);
    QCOMPARE(helper.value(u"model"_s).toString(), u"claude-sonnet-4-5"_s);
    window.showView(MainWindow::Agents);
    Mtw::AgentsView *view = window.agentsView();
    QVERIFY(view->isVisible());
    QCOMPARE(view->table()->model()->rowCount(), 2);
    const QAbstractItemModel *shown = view->table()->model();
    QCOMPARE(shown->index(0, Mtw::AgentModel::Channels).data().toString(), u"support.*, help"_s);
    QCOMPARE(shown->index(0, Mtw::AgentModel::Errors).data().toString(), u"0"_s);

    const quint16 port = quint16(window.localServer()->adminUrl().port());
    TestClient user;
    QVERIFY(user.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(port))));
    user.sendEnvelope(u"agent_task"_s,
                      u"t1"_s,
                      {{u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"Hi"_s}}},
                       {u"metadata"_s, QJsonObject{{u"agent"_s, u"helper"_s}}}});
    QCOMPARE(user.reply(u"t1"_s).value(u"type"_s).toString(), u"error"_s);
    QTRY_COMPARE_WITH_TIMEOUT(shown->index(0, Mtw::AgentModel::Errors).data().toString(),
                              u"1"_s,
                              5000);
    QCOMPARE(agents->object(u"helper"_s).value(u"failed"_s).toInt(), 1);
    QCOMPARE(agents->object(u"local"_s).value(u"failed"_s).toInt(), 0);
    view->table()->selectRow(0);
    QVERIFY2(view->detail()->text().contains(u"1 unavailable"_s),
             qPrintable(view->detail()->text()));
    QVERIFY2(view->summary()->text().startsWith(u"2 agent"_s), qPrintable(view->summary()->text()));

    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    const QString file = m_screenshots + u"/agents.png"_s;
    QVERIFY2(window.grab().save(file), qPrintable(file));
    window.localServer()->shutdown();
    QVERIFY(window.localServer()->waitForFinished(15000));
}

QTEST_MAIN(tst_MtwAdmin)
#include "tst_mtwadmin.moc"
