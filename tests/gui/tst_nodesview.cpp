// SPDX-License-Identifier: MIT
// mtwadmin's Nodes view against real servers: a single node run in-process, and a cluster of two
// mtwserver processes sharing a real redis-server (mtw-store-redis), which is then killed.
#include "adminclient.h"
#include "localserver.h"
#include "logcapture.h"
#include "mainwindow.h"
#include "nodesview.h"
#include "serverprocess.h"
#include "testclient.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFont>
#include <QLabel>
#include <QPalette>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStyle>
#include <QStyleFactory>
#include <QTableView>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using Mtw::AdminClient;
using Mtw::MainWindow;
using Mtw::NodeModel;
using Mtw::NodesView;

namespace {

const QString adminToken = u"nodes-view-test-token"_s;

// A throwaway redis-server on a free loopback port, killed when the test ends.
class RedisProcess
{
public:
    ~RedisProcess() { kill(); }

    bool start(const QString &binary)
    {
        QTcpServer probe; // a free port; Redis cannot listen on port 0 and say which it got
        if (!probe.listen(QHostAddress::LocalHost, 0))
            return false;
        port = probe.serverPort();
        probe.close();
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(binary,
                      {u"--port"_s,
                       QString::number(port),
                       u"--bind"_s,
                       u"127.0.0.1"_s,
                       u"--save"_s,
                       QString(),
                       u"--appendonly"_s,
                       u"no"_s});
        if (!process.waitForStarted(10000))
            return false;
        return QTest::qWaitFor(
                   [this] {
                       output += process.readAll();
                       return output.contains("Ready to accept connections")
                           || process.state() == QProcess::NotRunning;
                   },
                   15000)
            && process.state() == QProcess::Running;
    }

    void kill()
    {
        if (process.state() == QProcess::NotRunning)
            return;
        process.kill();
        process.waitForFinished(5000);
    }

    QProcess process;
    QByteArray output;
    quint16 port = 0;
};

QPalette darkPalette()
{
    QPalette palette;
    const QColor window(0x2b, 0x2d, 0x30);
    const QColor base(0x1e, 0x1f, 0x22);
    const QColor text(0xdf, 0xe1, 0xe5);
    const QColor disabled(0x7a, 0x7e, 0x85);
    palette.setColor(QPalette::Window, window);
    palette.setColor(QPalette::WindowText, text);
    palette.setColor(QPalette::Base, base);
    palette.setColor(QPalette::AlternateBase, QColor(0x26, 0x28, 0x2b));
    palette.setColor(QPalette::Text, text);
    palette.setColor(QPalette::Button, window);
    palette.setColor(QPalette::ButtonText, text);
    palette.setColor(QPalette::ToolTipBase, base);
    palette.setColor(QPalette::ToolTipText, text);
    palette.setColor(QPalette::PlaceholderText, disabled);
    palette.setColor(QPalette::Highlight, QColor(0x2f, 0x65, 0xca));
    palette.setColor(QPalette::HighlightedText, Qt::white);
    palette.setColor(QPalette::Light, QColor(0x3c, 0x3f, 0x41));
    palette.setColor(QPalette::Midlight, QColor(0x35, 0x37, 0x3a));
    palette.setColor(QPalette::Mid, QColor(0x24, 0x25, 0x28));
    palette.setColor(QPalette::Dark, QColor(0x19, 0x1a, 0x1c));
    palette.setColor(QPalette::Shadow, Qt::black);
    for (const auto role :
         {QPalette::WindowText, QPalette::Text, QPalette::ButtonText, QPalette::HighlightedText})
        palette.setColor(QPalette::Disabled, role, disabled);
    palette.setColor(QPalette::Disabled, QPalette::Highlight, QColor(0x3a, 0x3d, 0x42));
    return palette;
}

} // namespace

class tst_NodesView : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void formatAge_data();
    void formatAge();
    void singleNode();
    void cluster();

private:
    bool screenshot(QWidget &widget, const QString &name);

    QTemporaryDir m_dir;
    QString m_screenshots = QStringLiteral(MTW_SCREENSHOT_DIR);
};

void tst_NodesView::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true); // QSettings go to a test location
    QCoreApplication::setOrganizationName(u"mtw-test"_s);
    QCoreApplication::setApplicationName(u"tst_nodesview"_s);
    QSettings().clear();
    QLocale::setDefault(QLocale::c()); // "1.2 s", whatever the machine's locale
    Mtw::installLogCapture();          // as mtwadmin's main() does
    QVERIFY(m_dir.isValid());
    QVERIFY(QDir().mkpath(m_screenshots));
}

void tst_NodesView::formatAge_data()
{
    QTest::addColumn<qint64>("ms");
    QTest::addColumn<QString>("text");
    QTest::newRow("now") << qint64(0) << u"0.0 s ago"_s;
    QTest::newRow("a clock behind Redis's") << qint64(-300) << u"0.0 s ago"_s;
    QTest::newRow("1.2 s") << qint64(1234) << u"1.2 s ago"_s;
    QTest::newRow("just under a minute") << qint64(59'940) << u"59.9 s ago"_s;
    QTest::newRow("minutes") << qint64(65'000) << u"1 min 5 s ago"_s;
    QTest::newRow("hours") << qint64(2 * 3'600'000 + 3 * 60'000 + 999) << u"2 h 3 min ago"_s;
    QTest::newRow("days") << qint64(3 * 86'400'000LL + 4 * 3'600'000) << u"3 d 4 h ago"_s;
}

void tst_NodesView::formatAge()
{
    QFETCH(qint64, ms);
    QFETCH(QString, text);
    QCOMPARE(NodeModel::formatAge(ms), text);
}

// A server without a cluster broker, run in mtwadmin's window: the Nodes view (Ctrl+7) says so
// and lists nothing; it asks the server only while it is the current view.
void tst_NodesView::singleNode()
{
    MainWindow window;
    window.resize(1100, 600);
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    window.showView(MainWindow::Dashboard);
    NodesView *view = window.nodesView();
    QVERIFY(view);
    QAbstractItemModelTester tester(view->model(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(window.viewAction(MainWindow::Nodes)->shortcut(), QKeySequence(u"Ctrl+7"_s));
    QCOMPARE(view->status(), NodesView::Status::NotConnected);
    QVERIFY(!view->isPolling());

    QSignalSpy loaded(view, &NodesView::nodesLoaded);
    const Mtw::Result<Mtw::Config> config = Mtw::LocalServer::makeConfig({}, u"127.0.0.1"_s, 0);
    QVERIFY2(config, config ? "" : qPrintable(config.error().message));
    window.runLocalServer(*config);
    QTRY_COMPARE_WITH_TIMEOUT(window.client()->state(), AdminClient::State::Connected, 30000);
    QVERIFY(window.client()->serverInfo().value(u"cluster"_s).isNull());
    // Hidden behind the dashboard: connected, but the view has not asked.
    QCOMPARE(view->status(), NodesView::Status::Loading);
    QVERIFY(!view->isPolling());
    QCOMPARE(loaded.count(), 0);

    QTest::keyClick(&window, Qt::Key_7, Qt::ControlModifier);
    QCOMPARE(window.currentView(), MainWindow::Nodes);
    QVERIFY(view->isVisible());
    QVERIFY(view->isPolling());
    QTRY_VERIFY_WITH_TIMEOUT(!loaded.isEmpty(), 15000); // asked once as it appeared
    QCOMPARE(loaded.constFirst().at(0).value<NodesView::Status>(), NodesView::Status::SingleNode);
    QCOMPARE(view->statusText(), u"Single node (no cluster broker)"_s);
    QCOMPARE(view->model()->rowCount(), 0);
    QCOMPARE(view->table()->model()->rowCount(), 0);
    // ... and again while it stays shown.
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() >= 2, 20000);
    QCOMPARE(view->status(), NodesView::Status::SingleNode);
    QVERIFY(screenshot(window, u"nodes-single"_s));

    window.showView(MainWindow::Dashboard);
    QVERIFY(!view->isVisible());
    QVERIFY(!view->isPolling());
    window.close(); // stops the local server
    QTRY_COMPARE(window.client()->state(), AdminClient::State::Disconnected);
    QCOMPARE(view->status(), NodesView::Status::NotConnected);
}

// Two mtwserver processes and a redis-server: two rows with their addresses, this node marked,
// the counts and ages follow; Redis killed: the status says so and the rows stay, greyed.
void tst_NodesView::cluster()
{
    // No skipping: CI installs redis-server (scripts/bootstrap.sh); a machine without it fails
    // here and says why.
    const QString redisBinary = QStandardPaths::findExecutable(u"redis-server"_s);
    if (redisBinary.isEmpty())
        QFAIL("redis-server is not installed (Debian package redis-server)");
    RedisProcess redis;
    QVERIFY2(redis.start(redisBinary), redis.output.constData());

    const QString prefix = u"tst-nodesview-%1-%2"_s.arg(QCoreApplication::applicationPid())
                               .arg(QDateTime::currentMSecsSinceEpoch());
    const QString configPath = m_dir.filePath(u"node.toml"_s);
    {
        QFile file(configPath);
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(uR"([server]
host = "127.0.0.1"
port = 0

[admin]
token = "%1"

[[modules]]
name = "mtw-store-redis"
config = { url = "redis://127.0.0.1:%2/0", prefix = "%3", heartbeat_ms = 250, node_ttl_ms = 1500 }
)"_s.arg(adminToken)
                       .arg(redis.port)
                       .arg(prefix)
                       .toUtf8());
    }
    const QStringList arguments{u"--config"_s, configPath, u"--port"_s, u"0"_s};
    ServerProcess first;
    QVERIFY2(first.start(arguments, 20000), qPrintable(first.allLog()));
    ServerProcess second;
    QVERIFY2(second.start(arguments, 20000), qPrintable(second.allLog()));
    const QString firstAddress = u"127.0.0.1:%1"_s.arg(first.port);
    const QString secondAddress = u"127.0.0.1:%1"_s.arg(second.port);

    AdminClient client;
    NodesView view(&client);
    NodeModel *model = view.model();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    view.resize(1150, 260);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QCOMPARE(view.status(), NodesView::Status::NotConnected);
    client.open(QUrl(u"ws://%1/admin"_s.arg(firstAddress)), adminToken);
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, 20000);
    const QJsonObject cluster = client.serverInfo().value(u"cluster"_s).toObject();
    QVERIFY2(!cluster.isEmpty(), qPrintable(first.allLog()));

    // Both nodes registered (their heartbeats reach Redis within a few polls).
    QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 2, 30000);
    QCOMPARE(view.status(), NodesView::Status::Cluster);
    QCOMPARE(view.statusText(), u"Cluster: 2 nodes"_s);
    const auto cell = [model](int row, int column, int role = Qt::DisplayRole) {
        return model->index(row, column).data(role);
    };
    QStringList addresses{cell(0, NodeModel::Address).toString(),
                          cell(1, NodeModel::Address).toString()};
    addresses.sort();
    QStringList expected{firstAddress, secondAddress};
    expected.sort();
    QCOMPARE(addresses, expected);
    // Sorted by address, ports as numbers.
    const QAbstractItemModel *shown = view.table()->model();
    QVERIFY(shown->index(0, NodeModel::Address).data().toString().section(u':', 1).toInt()
            < shown->index(1, NodeModel::Address).data().toString().section(u':', 1).toInt());
    int selfRow = -1;
    int selfCount = 0;
    for (int row = 0; row < 2; ++row) {
        const bool self = cell(row, NodeModel::Name, NodeModel::IsSelfRole).toBool();
        const QString name = cell(row, NodeModel::Name).toString();
        QCOMPARE(name.endsWith(u" (this node)"_s), self);
        QCOMPARE(cell(row, NodeModel::Id, Qt::FontRole).value<QFont>().bold(), self);
        QVERIFY2(cell(row, NodeModel::LastSeen).toString().endsWith(u" ago"_s),
                 qPrintable(cell(row, NodeModel::LastSeen).toString()));
        QVERIFY(cell(row, NodeModel::Started, Mtw::JsonTableModel::SortRole).toLongLong() > 0);
        QVERIFY(!cell(row, NodeModel::Version).toString().isEmpty());
        if (self) {
            selfRow = row;
            ++selfCount;
        }
    }
    QCOMPARE(selfCount, 1);
    QCOMPARE(cell(selfRow, NodeModel::Address).toString(), firstAddress);
    QCOMPARE(cell(selfRow, NodeModel::Id).toString(), cluster.value(u"node_id"_s).toString());

    // A client on the other node shows in its count: the view keeps asking while shown.
    const int otherRow = 1 - selfRow;
    const QString otherId = model->keyAt(otherRow);
    const auto otherConnections = [&] {
        return model->object(otherId).value(u"connections"_s).toInt();
    };
    const int before = otherConnections();
    TestClient visitor;
    QVERIFY(visitor.open(QUrl(u"ws://%1/ws"_s.arg(secondAddress))));
    QTRY_COMPARE_WITH_TIMEOUT(otherConnections(), before + 1, 20000);
    QCOMPARE(cell(model->rowOf(otherId), NodeModel::Connections, Mtw::JsonTableModel::SortRole)
                 .toLongLong(),
             before + 1);

    view.table()->selectRow(0);
    QVERIFY(screenshot(view, u"nodes"_s));
    QVERIFY(view.grab().save(u"/tmp/nodes.png"_s));
    const QPalette lightPalette = QApplication::palette();
    const QString styleName = QApplication::style()->name();
    QApplication::setStyle(QStyleFactory::create(u"Fusion"_s));
    QApplication::setPalette(darkPalette());
    QVERIFY(screenshot(view, u"nodes-dark"_s));
    QVERIFY(view.grab().save(u"/tmp/nodes-dark.png"_s));

    // Redis gone: the view says so; the rows stay, greyed in the palette's disabled colour, and
    // their ages go on growing.
    redis.kill();
    QTRY_COMPARE_WITH_TIMEOUT(view.status(), NodesView::Status::Unreachable, 30000);
    QVERIFY2(view.statusText().startsWith(u"Redis unreachable: "_s), qPrintable(view.statusText()));
    QVERIFY(view.isPolling());
    QCOMPARE(model->rowCount(), 2);
    QVERIFY(model->isStale());
    QCOMPARE(cell(0, NodeModel::Name, Qt::ForegroundRole).value<QBrush>().color(),
             QApplication::palette().color(QPalette::Disabled, QPalette::Text));
    const QString age = cell(0, NodeModel::LastSeen).toString();
    QTRY_VERIFY_WITH_TIMEOUT(cell(0, NodeModel::LastSeen).toString() != age, 10000);
    QVERIFY(screenshot(view, u"nodes-unreachable-dark"_s));
    QVERIFY(view.grab().save(u"/tmp/nodes-unreachable-dark.png"_s));
    QApplication::setPalette(lightPalette);
    QApplication::setStyle(styleName);

    client.close();
    QTRY_COMPARE(client.state(), AdminClient::State::Disconnected);
    QCOMPARE(view.status(), NodesView::Status::NotConnected);
    QCOMPARE(model->rowCount(), 0);
}

bool tst_NodesView::screenshot(QWidget &widget, const QString &name)
{
    // Whatever the last change posted (layouts, repaints) is handled before the grab.
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    return widget.grab().save(m_screenshots + u'/' + name + u".png"_s);
}

QTEST_MAIN(tst_NodesView)
#include "tst_nodesview.moc"
