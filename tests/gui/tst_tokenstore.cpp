// SPDX-License-Identifier: MIT
// Runs against a real Secret Service; CTest starts it through run-with-keyring.sh, which provides
// a private session bus and an unlocked throwaway gnome-keyring.
#include "tokenstore.h"

#include <QCoreApplication>
#include <QDirIterator>
#include <QFileInfo>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>

using namespace Qt::StringLiterals;
using Mtw::TokenStore;

namespace {

constexpr int KeychainTimeoutMs = 15000;
const char ChildVariable[] = "MTW_TST_TOKENSTORE_CHILD";

const char HowToRun[] =
    "tst_tokenstore needs a Secret Service (gnome-keyring) on a D-Bus session bus. Run it as\n"
    "  tests/gui/run-with-keyring.sh <build>/tests/tst_tokenstore\n"
    "(or ctest -R tst_tokenstore); install the pieces with\n"
    "  apt-get install dbus gnome-keyring libsecret-1-0";

struct Answer
{
    QString token;
    bool ok = false;
    QString error;
    bool missing = false; // load only: the keychain answered that there is no such entry
};

// One call and its one signal, waited for.
Answer saveToken(TokenStore &store, const QString &server, const QString &token)
{
    QSignalSpy spy(&store, &TokenStore::saved);
    store.save(server, token);
    if (!spy.wait(KeychainTimeoutMs))
        return {{}, false, u"timeout"_s};
    const QList<QVariant> args = spy.takeFirst();
    Q_ASSERT(args.at(0).toString() == server);
    return {{}, args.at(1).toBool(), args.at(2).toString()};
}

Answer loadToken(TokenStore &store, const QString &server)
{
    QSignalSpy spy(&store, &TokenStore::loaded);
    store.load(server);
    if (!spy.wait(KeychainTimeoutMs))
        return {{}, false, u"timeout"_s};
    const QList<QVariant> args = spy.takeFirst();
    Q_ASSERT(args.at(0).toString() == server);
    return {args.at(1).toString(), args.at(2).toBool(), args.at(3).toString(), args.at(4).toBool()};
}

Answer removeToken(TokenStore &store, const QString &server)
{
    QSignalSpy spy(&store, &TokenStore::removed);
    store.remove(server);
    if (!spy.wait(KeychainTimeoutMs))
        return {{}, false, u"timeout"_s};
    const QList<QVariant> args = spy.takeFirst();
    Q_ASSERT(args.at(0).toString() == server);
    return {{}, args.at(1).toBool(), args.at(2).toString()};
}

// Every file under `dir` whose bytes contain `needle`.
QStringList filesContaining(const QString &dir, const QByteArray &needle)
{
    QStringList found;
    QDirIterator it(dir,
                    QDir::Files | QDir::Hidden | QDir::NoSymLinks,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile file(it.next());
        if (file.open(QIODevice::ReadOnly) && file.readAll().contains(needle))
            found.append(file.fileName());
    }
    return found;
}

// Every QSettings value of this application that contains `needle`.
QStringList settingsContaining(const QString &needle)
{
    QSettings settings;
    QStringList found;
    const QStringList keys = settings.allKeys();
    for (const QString &key : keys)
        if (settings.value(key).toString().contains(needle))
            found.append(key);
    return found;
}

} // namespace

class TestTokenStore : public QObject
{
    Q_OBJECT
public:
    static void initMain()
    {
        // mtwadmin's GUI thread runs the GLib event dispatcher, which the Secret Service client
        // needs (tests elsewhere in the tree run with QT_NO_GLIB=1, as the server does). Only the
        // child that checks what happens without it keeps the variable.
        if (qgetenv(ChildVariable) != "no-glib")
            qunsetenv("QT_NO_GLIB");
    }

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void saveThenLoad();
    void overwrite();
    void serversAreIndependent();
    void removeThenLoadFails();
    void tokenIsNotInSettings();
    void withoutKeychainFailsClearly_data();
    void withoutKeychainFailsClearly();

private:
    QString server(const QString &name) const { return u"ws://"_s + name + u":8080/admin"_s; }
    QString uniqueToken() const { return u"tok-"_s + QUuid::createUuid().toString(QUuid::Id128); }

    QString m_service;
    QStringList m_used;
};

void TestTokenStore::initTestCase()
{
    QCoreApplication::setOrganizationName(u"mtw"_s);
    QCoreApplication::setApplicationName(u"mtwadmin"_s);
    // A service name of our own, so that a run on a desktop never touches real mtwadmin tokens.
    m_service = u"mtwadmin-test-%1"_s.arg(QCoreApplication::applicationPid());

    if (qEnvironmentVariableIsSet(ChildVariable))
        return; // the child of withoutKeychainFailsClearly() expects no keychain
    if (qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"))
        QFAIL(qPrintable(u"no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset).\n"_s
                         + QString::fromLatin1(HowToRun)));
    TokenStore store(m_service);
    const QString probe = server(u"probe.invalid"_s);
    m_used.append(probe);
    const Answer answer = saveToken(store, probe, uniqueToken());
    if (!answer.ok)
        QFAIL(qPrintable(u"the keychain does not work: "_s + answer.error + u"\n"_s
                         + QString::fromLatin1(HowToRun)));
}

void TestTokenStore::cleanupTestCase()
{
    TokenStore store(m_service);
    for (const QString &used : std::as_const(m_used))
        removeToken(store, used); // best effort; most are gone already
}

void TestTokenStore::saveThenLoad()
{
    TokenStore store(m_service);
    QCOMPARE(store.service(), m_service);
    const QString url = server(u"alpha.example"_s);
    m_used.append(url);
    const QString token = uniqueToken();

    const Answer saved = saveToken(store, url, token);
    QVERIFY2(saved.ok, qPrintable(saved.error));
    QCOMPARE(saved.error, QString());

    const Answer loaded = loadToken(store, url);
    QVERIFY2(loaded.ok, qPrintable(loaded.error));
    QCOMPARE(loaded.token, token);
    QCOMPARE(loaded.error, QString());

    // A second store (the next start of mtwadmin) sees the same token.
    TokenStore again(m_service);
    QCOMPARE(loadToken(again, url).token, token);
}

void TestTokenStore::overwrite()
{
    TokenStore store(m_service);
    const QString url = server(u"overwrite.example"_s);
    m_used.append(url);
    QVERIFY(saveToken(store, url, u"first"_s).ok);
    QVERIFY(saveToken(store, url, u"second ünïcödé token"_s).ok);
    QCOMPARE(loadToken(store, url).token, u"second ünïcödé token"_s);
}

void TestTokenStore::serversAreIndependent()
{
    TokenStore store(m_service);
    const QString a = server(u"a.example"_s);
    const QString b = server(u"b.example"_s);
    m_used << a << b;
    const QString tokenA = uniqueToken();
    const QString tokenB = uniqueToken();
    QVERIFY(saveToken(store, a, tokenA).ok);
    QVERIFY(saveToken(store, b, tokenB).ok);
    QCOMPARE(loadToken(store, a).token, tokenA);
    QCOMPARE(loadToken(store, b).token, tokenB);

    // Another service (another application) does not see them.
    TokenStore other(m_service + u"-other"_s);
    QVERIFY(!loadToken(other, a).ok);

    QVERIFY(removeToken(store, a).ok);
    QVERIFY(!loadToken(store, a).ok);
    QCOMPARE(loadToken(store, b).token, tokenB);
}

void TestTokenStore::removeThenLoadFails()
{
    TokenStore store(m_service);
    const QString url = server(u"removed.example"_s);
    m_used.append(url);
    QVERIFY(saveToken(store, url, uniqueToken()).ok);

    const Answer removed = removeToken(store, url);
    QVERIFY2(removed.ok, qPrintable(removed.error));

    const Answer loaded = loadToken(store, url);
    QVERIFY(!loaded.ok);
    QCOMPARE(loaded.token, QString());
    QCOMPARE(loaded.error, u"no token stored for "_s + url);
    QVERIFY(loaded.missing);

    // Never stored at all reads the same.
    const QString never = server(u"never.example"_s);
    const Answer neverStored = loadToken(store, never);
    QCOMPARE(neverStored.error, u"no token stored for "_s + never);
    QVERIFY(neverStored.missing);
}

void TestTokenStore::tokenIsNotInSettings()
{
    TokenStore store(m_service);
    const QString url = server(u"settings.example"_s);
    m_used.append(url);
    const QString token = uniqueToken();
    QVERIFY(saveToken(store, url, token).ok);
    QCOMPARE(loadToken(store, url).token, token);

    // QtKeychain's plain-text fallback would write to the application's QSettings.
    QCOMPARE(settingsContaining(token), QStringList());
    const QString settingsDir = QFileInfo(QSettings().fileName()).absolutePath();
    QCOMPARE(filesContaining(settingsDir, token.toUtf8()), QStringList());
    // And the keyring itself keeps it encrypted, not as text.
    if (const QByteArray data = qgetenv("XDG_DATA_HOME"); !data.isEmpty())
        QCOMPARE(filesContaining(QFile::decodeName(data), token.toUtf8()), QStringList());
}

void TestTokenStore::withoutKeychainFailsClearly_data()
{
    QTest::addColumn<QByteArray>("mode");
    QTest::addColumn<QString>("reason"); // part of the error
    QTest::newRow("no session bus") << QByteArray("no-bus") << QString();
    QTest::newRow("no GLib event loop") << QByteArray("no-glib") << u"QT_NO_GLIB"_s;
}

void TestTokenStore::withoutKeychainFailsClearly()
{
    QFETCH(QByteArray, mode);
    QFETCH(QString, reason);
    if (qEnvironmentVariableIsSet(ChildVariable)) {
        if (qgetenv(ChildVariable) != mode)
            return; // the child runs only its own row
        TokenStore store(m_service);
        const QString url = server(u"nokeychain.example"_s);
        const QString token = uniqueToken();
        const Answer saved = saveToken(store, url, token);
        QVERIFY(!saved.ok);
        QVERIFY2(saved.error.startsWith(u"no keychain available: "_s), qPrintable(saved.error));
        QVERIFY(saved.error.size() > int(strlen("no keychain available: ")));
        QVERIFY2(saved.error.contains(reason), qPrintable(saved.error));
        qInfo("error: %s", qPrintable(saved.error));
        const Answer loaded = loadToken(store, url);
        QVERIFY(!loaded.ok);
        QCOMPARE(loaded.token, QString());
        QVERIFY2(loaded.error.startsWith(u"no keychain available: "_s), qPrintable(loaded.error));
        QVERIFY(!loaded.missing); // not "no entry": no keychain at all
        QCOMPARE(settingsContaining(token), QStringList());
        QCOMPARE(filesContaining(qEnvironmentVariable("XDG_CONFIG_HOME"), token.toUtf8()),
                 QStringList());
        return;
    }
    // Parent: run this row again in a process without a usable Secret Service, with its settings
    // in an empty directory so that a plain-text fallback would be seen.
    QTemporaryDir config;
    QVERIFY(config.isValid());
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QString::fromLatin1(ChildVariable), QString::fromLatin1(mode));
    env.insert(u"XDG_CONFIG_HOME"_s, config.path());
    if (mode == "no-bus")
        env.insert(u"DBUS_SESSION_BUS_ADDRESS"_s, u"unix:path=/nonexistent/mtw-no-bus"_s);
    else
        env.insert(u"QT_NO_GLIB"_s, u"1"_s);
    QProcess child;
    child.setProcessEnvironment(env);
    child.setProcessChannelMode(QProcess::MergedChannels);
    child.start(QCoreApplication::applicationFilePath(), {u"withoutKeychainFailsClearly"_s});
    QVERIFY(child.waitForFinished(60000));
    const QString output = QString::fromLocal8Bit(child.readAll());
    QVERIFY2(child.exitStatus() == QProcess::NormalExit && child.exitCode() == 0,
             qPrintable(output));
    QVERIFY2(output.contains(u"PASS   : TestTokenStore::withoutKeychainFailsClearly("_s),
             qPrintable(output));
    QCOMPARE(filesContaining(config.path(), "tok-"), QStringList());
}

QTEST_GUILESS_MAIN(TestTokenStore)
#include "tst_tokenstore.moc"
