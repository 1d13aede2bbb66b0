// SPDX-License-Identifier: MIT
// Which event dispatcher each thread of mtwadmin's in-process server runs, in a process set up
// the way mtwadmin is: the GUI thread on GLib (the keychain client needs it) and QT_NO_GLIB unset.
// A fixture module reports, from inside the server, the thread and dispatcher that serve a
// request (an I/O worker) and the ones it was loaded on (the server thread).
#include "localserver.h"
#include "testclient.h"

#include <QAbstractEventDispatcher>
#include <QApplication>
#include <QSignalSpy>
#include <QTest>

using namespace Qt::StringLiterals;

class tst_MtwAdminDispatchers : public QObject
{
    Q_OBJECT

public:
    static void initMain()
    {
        // ctest sets QT_NO_GLIB=1 for every test; mtwadmin runs without it. A developer's
        // MTW_EVENT_DISPATCHER=qt would ask for Qt's dispatcher on the workers: not the default.
        qunsetenv("QT_NO_GLIB");
        qunsetenv("MTW_EVENT_DISPATCHER");
    }

private Q_SLOTS:
    void workersRunEpollWhateverTheGuiThreadRuns();
};

void tst_MtwAdminDispatchers::workersRunEpollWhateverTheGuiThreadRuns()
{
    const QAbstractEventDispatcher *gui = QAbstractEventDispatcher::instance();
    QVERIFY(gui);
    QVERIFY2(gui->inherits("QEventDispatcherGlib"), gui->metaObject()->className());

    Mtw::Config config;
    config.server.host = u"127.0.0.1"_s;
    config.server.port = 0;
    config.server.workers = 2;
    config.server.shutdownTimeout = 2;
    config.server.pluginsDir = QStringLiteral(MTW_FIXTURE_PLUGIN_DIR);
    Mtw::ModuleConfig recorder;
    recorder.name = u"fixture-recorder"_s;
    recorder.config = {{u"threads_action"_s, u"threads"_s}};
    config.modules = {recorder};
    config.admin.enabled = true;

    Mtw::LocalServer local;
    QSignalSpy started(&local, &Mtw::LocalServer::started);
    QSignalSpy failed(&local, &Mtw::LocalServer::startFailed);
    local.start(config);
    QTRY_VERIFY_WITH_TIMEOUT(!started.isEmpty() || !failed.isEmpty(), 15000);
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).toString()));
    // Running a server leaves the process environment alone: other threads read it meanwhile.
    QVERIFY(!qEnvironmentVariableIsSet("QT_NO_GLIB"));

    const QUrl adminUrl = started.at(0).at(0).toUrl();
    const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(adminUrl.port()));
    // The acceptor hands connections to the workers in turn: two clients, two workers.
    QStringList threads;
    TestClient clients[2];
    for (TestClient &client : clients) {
        QVERIFY(client.open(url));
        client.sendEnvelope(u"request"_s,
                            u"t1"_s,
                            {{u"metadata"_s, QJsonObject{{u"action"_s, u"threads"_s}}}});
        const QJsonObject reply = client.reply(u"t1"_s, 10000);
        QCOMPARE(reply.value("type"_L1).toString(), u"response"_s);
        const QJsonObject report = reply.value("payload"_L1).toObject().value("data"_L1).toObject();
        qInfo().noquote() << report.value("thread"_L1).toString() << "runs"
                          << report.value("dispatcher"_L1).toString() << "; the server thread"
                          << report.value("server_thread"_L1).toString() << "runs"
                          << report.value("server_dispatcher"_L1).toString();
        QVERIFY2(report.value("thread"_L1).toString().startsWith("mtw-io-"_L1),
                 qPrintable(report.value("thread"_L1).toString()));
        QCOMPARE(report.value("dispatcher"_L1).toString(),
                 u"Mtw::Internal::EpollEventDispatcher"_s);
        QCOMPARE(report.value("server_thread"_L1).toString(), u"mtw-local-server"_s);
        threads.append(report.value("thread"_L1).toString());
    }
    QCOMPARE(threads.size(), 2);
    QVERIFY2(threads.at(0) != threads.at(1), qPrintable(threads.join(u", "_s)));

    QSignalSpy finished(&local, &Mtw::LocalServer::finished);
    local.shutdown();
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 15000);
}

QTEST_MAIN(tst_MtwAdminDispatchers)
#include "tst_mtwadmin_dispatchers.moc"
