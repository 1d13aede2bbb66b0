// SPDX-License-Identifier: MIT
// Provider API keys in the OS keychain for mtwadmin's in-process server (docs/mtwadmin.md,
// docs/agents.md): stored and removed through the dialog, given to the provider module when the
// server starts, checked by a FakeProvider that answers 401 to any other key. Runs against a real
// Secret Service: CTest starts it through run-with-keyring.sh (a private session bus and an
// unlocked throwaway gnome-keyring). No real provider.
#include "adminclient.h"
#include "fakeprovider.h"
#include "jsontablemodel.h"
#include "localserver.h"
#include "logcapture.h"
#include "logmodel.h"
#include "mainwindow.h"
#include "providerkeys.h"
#include "providerkeysdialog.h"
#include "runserverdialog.h"
#include "testclient.h"

#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>
#include <QUuid>

using namespace Qt::StringLiterals;
using Mtw::AdminClient;
using Mtw::MainWindow;
using Mtw::ProviderKeysDialog;
using Mtw::ProviderKeyStore;

namespace {

constexpr int KeychainTimeoutMs = 15000;
const QString Anthropic = u"mtw-ai-anthropic"_s;
const QString OpenAi = u"mtw-ai-openai"_s;

const char HowToRun[] =
    "tst_providerkeys needs a Secret Service (gnome-keyring) on a D-Bus session bus. Run it as\n"
    "  tests/gui/run-with-keyring.sh <build>/tests/tst_providerkeys\n"
    "(or ctest -R tst_providerkeys); install the pieces with\n"
    "  apt-get install dbus gnome-keyring libsecret-1-0";

// Every text of every row and column of `model`.
QString allText(const QAbstractItemModel &model)
{
    QString out;
    for (int row = 0; row < model.rowCount(); ++row) {
        for (int column = 0; column < model.columnCount(); ++column)
            out += model.index(row, column).data().toString() + u'\n';
    }
    return out;
}

// Every text a widget tree shows: labels, line edits, buttons, tree items.
QString widgetTexts(const QWidget &root)
{
    QString out;
    for (const QLabel *label : root.findChildren<QLabel *>())
        out += label->text() + u'\n';
    for (const QLineEdit *edit : root.findChildren<QLineEdit *>())
        out += edit->text() + u'\n';
    for (const QTreeWidget *tree : root.findChildren<QTreeWidget *>())
        out += allText(*tree->model());
    return out;
}

} // namespace

class tst_ProviderKeys : public QObject
{
    Q_OBJECT

public:
    static void initMain()
    {
        // mtwadmin's GUI thread runs the GLib event dispatcher, which the Secret Service client
        // needs; the tree's tests otherwise run with QT_NO_GLIB=1.
        qunsetenv("QT_NO_GLIB");
    }

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void modulesTakingKeys();
    void dialogStoresShowsAndRemoves();
    void serverGetsTheStoredKey_data();
    void serverGetsTheStoredKey();

private:
    // Through the dialog, as the operator does it; "" removes the key.
    void setKey(const QString &module, const QString &key);
    QString writeConfig(const QString &module, quint16 providerPort);

    QTemporaryDir m_dir;
    QString m_screenshots = QStringLiteral(MTW_SCREENSHOT_DIR);
    std::unique_ptr<ProviderKeyStore> m_keys;
};

void tst_ProviderKeys::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(u"mtw-test"_s);
    // The keychain service is "<application name>-provider-keys": a name of our own, so that a
    // run on a desktop never touches mtwadmin's real keys.
    QCoreApplication::setApplicationName(
        u"tst_providerkeys-%1"_s.arg(QCoreApplication::applicationPid()));
    Mtw::installLogCapture();
    QVERIFY(m_dir.isValid());
    QVERIFY(QDir().mkpath(m_screenshots));
    if (qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"))
        QFAIL(qPrintable(u"no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset).\n"_s
                         + QString::fromLatin1(HowToRun)));
    m_keys = std::make_unique<ProviderKeyStore>();
    QCOMPARE(m_keys->service(),
             u"tst_providerkeys-%1-provider-keys"_s.arg(QCoreApplication::applicationPid()));
    QSignalSpy state(m_keys.get(), &ProviderKeyStore::stateChanged);
    m_keys->check(Anthropic);
    QVERIFY(state.wait(KeychainTimeoutMs));
    if (state.first().at(2).value<ProviderKeyStore::State>() == ProviderKeyStore::State::Failed)
        QFAIL(qPrintable(u"the keychain does not work: "_s + state.first().at(3).toString()
                         + u"\n"_s + QString::fromLatin1(HowToRun)));
}

void tst_ProviderKeys::cleanupTestCase()
{
    if (!m_keys)
        return;
    for (const QString &module : ProviderKeyStore::shippedProviders()) {
        QSignalSpy state(m_keys.get(), &ProviderKeyStore::stateChanged);
        m_keys->remove(module);
        (void)state.wait(KeychainTimeoutMs);
    }
}

// Which modules take a key, and where withKeys() puts it: pure functions over a Config.
void tst_ProviderKeys::modulesTakingKeys()
{
    Mtw::Config config;
    Mtw::ModuleConfig custom{u"my-llm"_s, {}, true, false, {{u"api_key"_s, u"file"_s}}, 0};
    Mtw::ModuleConfig noKey{u"mtw-auth-jwt"_s, {}, true, false, {{u"secret"_s, u"s"_s}}, 0};
    Mtw::ModuleConfig disabled{OpenAi, {}, false, false, {}, 0};
    Mtw::ModuleConfig anthropic{Anthropic, {}, true, false, {{u"base_url"_s, u"http://x"_s}}, 0};
    config.modules = {custom, noKey, disabled, anthropic, anthropic};
    QCOMPARE(ProviderKeyStore::modulesTakingKeys(config), (QStringList{u"my-llm"_s, Anthropic}));

    const Mtw::Config keyed = ProviderKeyStore::withKeys(
        config,
        {{Anthropic, u"sk-a"_s}, {OpenAi, u"sk-o"_s}, {u"mtw-auth-jwt"_s, QString()}});
    QCOMPARE(keyed.modules[0].config.value(u"api_key"_s).toString(), u"file"_s);
    QVERIFY(!keyed.modules[1].config.contains(u"api_key"_s)); // an empty key is no key
    QVERIFY(!keyed.modules[2].config.contains(u"api_key"_s)); // disabled
    QCOMPARE(keyed.modules[3].config.value(u"api_key"_s).toString(), u"sk-a"_s);
    QCOMPARE(keyed.modules[3].config.value(u"base_url"_s).toString(), u"http://x"_s);
    QCOMPARE(keyed.modules[4].config.value(u"api_key"_s).toString(), u"sk-a"_s);
}

void tst_ProviderKeys::setKey(const QString &module, const QString &key)
{
    ProviderKeysDialog dialog(m_keys.get(), {});
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QTRY_VERIFY_WITH_TIMEOUT(dialog.stateText(module) != u"checking…"_s, KeychainTimeoutMs);
    QVERIFY(dialog.selectModule(module));
    if (key.isEmpty()) {
        if (dialog.stateText(module) == u"not stored"_s)
            return;
        QVERIFY(dialog.removeButton()->isEnabled());
        QTest::mouseClick(dialog.removeButton(), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(dialog.stateText(module), u"not stored"_s, KeychainTimeoutMs);
        return;
    }
    QTest::keyClicks(dialog.keyEdit(), key);
    QVERIFY(dialog.storeButton()->isEnabled());
    QTest::mouseClick(dialog.storeButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(dialog.stateText(module),
                              u"stored in the keychain"_s,
                              KeychainTimeoutMs);
}

// The dialog says whether a key is stored, never shows it, and removes it.
void tst_ProviderKeys::dialogStoresShowsAndRemoves()
{
    setKey(Anthropic, QString());
    setKey(OpenAi, QString());
    const QString key = u"sk-ant-dialog-"_s + QUuid::createUuid().toString(QUuid::Id128);

    ProviderKeysDialog dialog(m_keys.get(), {u"my-llm"_s});
    dialog.resize(640, 360);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    // The configuration's modules first, then the shipped providers.
    QCOMPARE(dialog.table()->topLevelItemCount(), 3);
    QCOMPARE(dialog.table()->topLevelItem(0)->text(ProviderKeysDialog::Module), u"my-llm"_s);
    QCOMPARE(dialog.table()->topLevelItem(1)->text(ProviderKeysDialog::Module), Anthropic);
    QTRY_COMPARE_WITH_TIMEOUT(dialog.stateText(Anthropic), u"not stored"_s, KeychainTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(dialog.stateText(OpenAi), u"not stored"_s, KeychainTimeoutMs);

    QVERIFY(dialog.selectModule(Anthropic));
    QVERIFY(!dialog.storeButton()->isEnabled());  // nothing typed
    QVERIFY(!dialog.removeButton()->isEnabled()); // nothing stored
    QCOMPARE(dialog.keyEdit()->echoMode(), QLineEdit::Password);
    QTest::keyClicks(dialog.keyEdit(), key);
    QTest::mouseClick(dialog.storeButton(), Qt::LeftButton);
    QCOMPARE(dialog.keyEdit()->text(), QString()); // the field lets go of it at once
    QTRY_COMPARE_WITH_TIMEOUT(dialog.stateText(Anthropic),
                              u"stored in the keychain"_s,
                              KeychainTimeoutMs);
    QCOMPARE(dialog.stateText(OpenAi), u"not stored"_s);
    QVERIFY(dialog.removeButton()->isEnabled());
    QVERIFY2(dialog.status()->text().contains(u"is stored"_s), qPrintable(dialog.status()->text()));
    QVERIFY2(!widgetTexts(dialog).contains(key), "the dialog shows the key");

    // What the keychain holds is the key, under the module's id.
    QSignalSpy loaded(m_keys.get(), &ProviderKeyStore::keysLoaded);
    m_keys->loadKeys({Anthropic, OpenAi});
    QVERIFY(loaded.wait(KeychainTimeoutMs));
    using KeyMap = QMap<QString, QString>;
    QCOMPARE(loaded.first().at(0).value<KeyMap>(), (KeyMap{{Anthropic, key}}));
    QCOMPARE(loaded.first().at(1).toStringList(), QStringList());

    QCoreApplication::processEvents();
    const QString file = m_screenshots + u"/provider-keys.png"_s;
    QVERIFY2(dialog.grab().save(file), qPrintable(file));

    // A second dialog (or mtwadmin's next run) reads the state from the keychain.
    {
        ProviderKeysDialog again(m_keys.get(), {});
        QTRY_COMPARE_WITH_TIMEOUT(again.stateText(Anthropic),
                                  u"stored in the keychain"_s,
                                  KeychainTimeoutMs);
    }

    QTest::mouseClick(dialog.removeButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(dialog.stateText(Anthropic), u"not stored"_s, KeychainTimeoutMs);
    QVERIFY(!dialog.removeButton()->isEnabled());
    QVERIFY2(dialog.status()->text().contains(u"is removed"_s),
             qPrintable(dialog.status()->text()));
    loaded.clear();
    m_keys->loadKeys({Anthropic});
    QVERIFY(loaded.wait(KeychainTimeoutMs));
    QVERIFY(loaded.first().at(0).value<KeyMap>().isEmpty());

    // The Run dialog names the modules of its file that take a key.
    const QString path = writeConfig(Anthropic, 9);
    Mtw::RunServerDialog run;
    run.setProviderKeys(m_keys.get());
    run.setConfigPath(path);
    QCOMPARE(run.providerKeysLabel()->text(), u"Stored keys go to: "_s + Anthropic);
    const QString runFile = m_screenshots + u"/run-server-keys.png"_s;
    run.show();
    QVERIFY(QTest::qWaitForWindowExposed(&run));
    QVERIFY2(run.grab().save(runFile), qPrintable(runFile));
}

// The file's api_key is a stale one: only the stored key gets past the provider.
QString tst_ProviderKeys::writeConfig(const QString &module, quint16 providerPort)
{
    const bool anthropic = module == Anthropic;
    const QString base = anthropic ? u"http://127.0.0.1:%1"_s.arg(providerPort)
                                   : u"http://127.0.0.1:%1/v1"_s.arg(providerPort);
    const QString path = m_dir.filePath(u"keys-%1.toml"_s.arg(module));
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return {};
    file.write(u"[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = 1\nshutdown_timeout = 2\n"
               "plugins_dir = \"%1\"\n\n"
               "[[modules]]\nname = \"%2\"\n"
               "config = { api_key = \"sk-stale-from-the-file\", base_url = \"%3\", timeout = 10, "
               "retries = 0 }\n\n"
               "[[agents]]\nname = \"helper\"\nprovider = \"%2\"\nmodel = \"test-model\"\n"_s
                   .arg(QStringLiteral(MTW_PLUGIN_DIR), module, base)
                   .toUtf8());
    return path;
}

void tst_ProviderKeys::serverGetsTheStoredKey_data()
{
    QTest::addColumn<QString>("module");
    QTest::addColumn<bool>("stored");
    QTest::newRow("anthropic, key stored") << Anthropic << true;
    QTest::newRow("openai, key stored") << OpenAi << true;
    QTest::newRow("anthropic, no key stored") << Anthropic << false;
    QTest::newRow("openai, no key stored") << OpenAi << false;
}

// Store a key through the dialog, run the server here with an agent on a FakeProvider that
// checks the key, and give it a task: the stored key gets the answer; without one the
// provider's 401 comes back to the client as an error that says so. The key is in no file,
// log, environment or admin API answer, and a reload keeps it.
void tst_ProviderKeys::serverGetsTheStoredKey()
{
    QFETCH(QString, module);
    QFETCH(bool, stored);
    const bool anthropic = module == Anthropic;
    const QString key = u"sk-test-"_s + QUuid::createUuid().toString(QUuid::Id128);
    setKey(module, stored ? key : QString());

    FakeProvider fake;
    QVERIFY(fake.listen());
    const QByteArray header = anthropic ? "x-api-key" : "authorization";
    fake.requireKey(header,
                    anthropic ? key.toUtf8() : "Bearer " + key.toUtf8(),
                    anthropic ? "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
                                "\"message\":\"invalid x-api-key\"}}"
                              : "{\"error\":{\"message\":\"Incorrect API key provided\","
                                "\"type\":\"invalid_request_error\"}}");
    const QString fixture = anthropic ? u"anthropic-text.sse"_s : u"openai-text.sse"_s;
    fake.push(FakeProvider::sse(fixture));
    fake.push(FakeProvider::sse(fixture));
    const QString path = writeConfig(module, fake.port());

    MainWindow window;
    window.resize(1100, 700);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const Mtw::Result<Mtw::Config> config = Mtw::LocalServer::makeConfig(path, u"127.0.0.1"_s, 0);
    QVERIFY2(config, config ? "" : qPrintable(config.error().message));
    window.runLocalServer(*config);
    AdminClient *admin = window.client();
    QTRY_COMPARE_WITH_TIMEOUT(admin->state(), AdminClient::State::Connected, 20000);
    QVERIFY2(window.bannerText().isEmpty(), qPrintable(window.bannerText()));

    const quint16 port = quint16(window.localServer()->adminUrl().port());
    TestClient user;
    QVERIFY(user.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(port))));
    const auto runTask = [&user](const QString &id) {
        user.sendEnvelope(
            u"agent_task"_s,
            id,
            {{u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"Hi"_s}}},
             {u"metadata"_s, QJsonObject{{u"agent"_s, u"helper"_s}}}});
        QJsonObject end;
        (void)QTest::qWaitFor(
            [&] {
                for (const QJsonObject &message : std::as_const(user.received)) {
                    const QString type = message.value(u"type"_s).toString();
                    if (message.value(u"ref_id"_s).toString() == id
                        && (type == u"agent_complete"_s || type == u"error"_s)) {
                        end = message;
                        return true;
                    }
                }
                return false;
            },
            15000);
        return end;
    };
    const QJsonObject end = runTask(u"t1"_s);
    QVERIFY2(!end.isEmpty(), "the task was never answered");
    QVERIFY(!fake.requests.isEmpty());
    if (stored) {
        QCOMPARE(end.value(u"type"_s).toString(), u"agent_complete"_s);
        QString text;
        for (const QJsonObject &message : std::as_const(user.received)) {
            if (message.value(u"type"_s) == u"agent_chunk"_s)
                text += message.value(u"payload"_s).toObject().value(u"data"_s).toString();
        }
        QCOMPARE(text, u"Hello, world!"_s);
        QCOMPARE(fake.requests.last().headers.value(header),
                 anthropic ? key.toUtf8() : "Bearer " + key.toUtf8());
    } else {
        QCOMPARE(end.value(u"type"_s).toString(), u"error"_s);
        const QJsonObject error = end.value(u"payload"_s).toObject().value(u"data"_s).toObject();
        QCOMPARE(error.value(u"code"_s).toInt(), 502);
        const QString expected = anthropic
            ? u"agent 'helper': the provider did not accept the API key (HTTP 401: "_s
              "authentication_error: invalid x-api-key); check the module's api_key"
            : u"agent 'helper': the provider did not accept the API key (HTTP 401: "_s
              "invalid_request_error: Incorrect API key provided); check the module's api_key";
        QCOMPARE(error.value(u"message"_s).toString(), expected);
        QVERIFY(fake.requests.last().headers.value(header).contains("sk-stale-from-the-file"));
    }

    // A reload (the admin API's save, as the Configuration view does it) keeps the key.
    if (stored) {
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        bool saved = false;
        QJsonObject result;
        admin->call(u"save_config"_s,
                    {{u"text"_s, QString::fromUtf8(file.readAll())}},
                    this,
                    [&](const Mtw::ActionResult &answer) {
                        saved = true;
                        result = answer.data.toObject();
                    });
        QTRY_VERIFY_WITH_TIMEOUT(saved, 10000);
        QVERIFY2(result.value(u"reloaded"_s).toBool(), QJsonDocument(result).toJson().constData());
        // Nothing changed: not the key, not the address the Run dialog chose.
        QCOMPARE(result.value(u"restart_required"_s).toArray(), QJsonArray());
        const QJsonObject again = runTask(u"t2"_s);
        QCOMPARE(again.value(u"type"_s).toString(), u"agent_complete"_s);
        QCOMPARE(fake.requests.last().headers.value(header),
                 anthropic ? key.toUtf8() : "Bearer " + key.toUtf8());
    }

    // Nowhere but in the request to the provider.
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(!file.readAll().contains(key.toUtf8()));
    QVERIFY2(!allText(*admin->log()).contains(key), "the key is in the server's log");
    QVERIFY2(!allText(*admin->modules()).contains(key), "the key is in the Modules view");
    QVERIFY2(!widgetTexts(window).contains(key), "mtwadmin shows the key");
    const QStringList environment = QProcessEnvironment::systemEnvironment().toStringList();
    QVERIFY2(!environment.join(u'\n').contains(key), "the key is in mtwadmin's environment");
    QProcess child;
    child.start(u"env"_s, {});
    QVERIFY(child.waitForFinished(10000));
    QVERIFY2(!child.readAllStandardOutput().contains(key.toUtf8()),
             "a child process inherits the key");

    window.localServer()->shutdown();
    QVERIFY(window.localServer()->waitForFinished(15000));
}

QTEST_MAIN(tst_ProviderKeys)
#include "tst_providerkeys.moc"
