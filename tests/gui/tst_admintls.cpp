// SPDX-License-Identifier: MIT
// mtwadmin's AdminClient attaches over wss:// (issue 14): to a server whose certificate a CA
// file vouches for, and with clear errors when the CA is not given or the file is unusable;
// and it words the server's configuration reloads ("needs a restart: server.workers").
// The certificates are made here with the `openssl` command line; the server runs in-process
// on 127.0.0.1, port 0.
#include "adminclient.h"

#include <mtw/server.h>

#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using Mtw::AdminClient;

namespace {

const QString AdminToken = u"admin-tls-test-token-0123456789"_s;

bool openssl(const QString &dir, const QStringList &args)
{
    QProcess process;
    process.setWorkingDirectory(dir);
    process.start(u"openssl"_s, args);
    if (!process.waitForFinished(30000) || process.exitCode() != 0) {
        qWarning().noquote() << "openssl" << args.join(u' ')
                             << "failed:" << process.readAllStandardError();
        return false;
    }
    return true;
}

// A CA and a server certificate for localhost and 127.0.0.1, EC P-256.
bool makeCertificates(const QString &dir)
{
    QFile ext(dir + u"/server.ext"_s);
    if (!ext.open(QIODevice::WriteOnly)
        || ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n") < 0)
        return false;
    ext.close();
    const QStringList ec{u"genpkey"_s,
                         u"-algorithm"_s,
                         u"EC"_s,
                         u"-pkeyopt"_s,
                         u"ec_paramgen_curve:P-256"_s,
                         u"-out"_s};
    return openssl(dir, ec + QStringList{u"ca.key"_s})
        && openssl(dir,
                   {u"req"_s,
                    u"-x509"_s,
                    u"-new"_s,
                    u"-key"_s,
                    u"ca.key"_s,
                    u"-subj"_s,
                    u"/CN=mtwadmin test CA"_s,
                    u"-days"_s,
                    u"2"_s,
                    u"-out"_s,
                    u"ca.pem"_s})
        && openssl(dir, ec + QStringList{u"server.key"_s})
        && openssl(dir,
                   {u"req"_s,
                    u"-new"_s,
                    u"-key"_s,
                    u"server.key"_s,
                    u"-subj"_s,
                    u"/CN=localhost"_s,
                    u"-out"_s,
                    u"server.csr"_s})
        && openssl(dir,
                   {u"x509"_s,
                    u"-req"_s,
                    u"-in"_s,
                    u"server.csr"_s,
                    u"-CA"_s,
                    u"ca.pem"_s,
                    u"-CAkey"_s,
                    u"ca.key"_s,
                    u"-CAcreateserial"_s,
                    u"-days"_s,
                    u"2"_s,
                    u"-extfile"_s,
                    u"server.ext"_s,
                    u"-out"_s,
                    u"server.pem"_s});
}

} // namespace

class TestAdminTls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void attachesWithTheCaFile();
    void untrustedCertificateIsExplained();
    void unusableCaFileIsExplained();
    void reloadIsAnnounced();
    void cleanupTestCase();

private:
    void writeConfig(int workers)
    {
        QFile file(m_dir.filePath(u"mtw.toml"_s));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(
            u"[server]\nhost = \"127.0.0.1\"\nport = 0\nworkers = %1\n"
            "[server.tls]\ncert = \"%2\"\nkey = \"%3\"\n[admin]\ntoken = \"%4\"\n"_s.arg(workers)
                .arg(m_dir.filePath(u"server.pem"_s), m_dir.filePath(u"server.key"_s), AdminToken)
                .toUtf8());
    }
    QUrl adminUrl() const { return QUrl(u"wss://localhost:%1/admin"_s.arg(m_server->port())); }

    QTemporaryDir m_dir;
    std::unique_ptr<Mtw::Server> m_server;
};

void TestAdminTls::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY(makeCertificates(m_dir.path()));
    writeConfig(1);
    const auto loaded = Mtw::loadConfigFile(m_dir.filePath(u"mtw.toml"_s));
    QVERIFY(loaded && !loaded->hasErrors());
    m_server = std::make_unique<Mtw::Server>(loaded->config);
    const auto started = m_server->start();
    QVERIFY2(started, started ? "" : qPrintable(started.error().message));
}

void TestAdminTls::attachesWithTheCaFile()
{
    AdminClient client;
    client.setCaFile(m_dir.filePath(u"ca.pem"_s));
    client.open(adminUrl(), AdminToken);
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, 10000);
    QVERIFY(!client.serverInfo().isEmpty()); // the snapshot arrived over TLS
    client.close();
}

void TestAdminTls::untrustedCertificateIsExplained()
{
    AdminClient client; // the system store does not know the test CA
    QSignalSpy errors(&client, &AdminClient::errorOccurred);
    client.open(adminUrl(), AdminToken);
    QTRY_VERIFY_WITH_TIMEOUT(!errors.isEmpty(), 10000);
    const QString message = errors.constFirst().constFirst().toString();
    QVERIFY2(message.contains(u"is not trusted"_s) && message.contains(u"CA file"_s),
             qPrintable(message));
    QTRY_COMPARE(client.state(), AdminClient::State::Disconnected);
    QVERIFY(client.wasRefused()); // reconnecting would not help
}

void TestAdminTls::unusableCaFileIsExplained()
{
    AdminClient client;
    const QString missing = m_dir.filePath(u"missing-ca.pem"_s);
    client.setCaFile(missing);
    QSignalSpy errors(&client, &AdminClient::errorOccurred);
    client.open(adminUrl(), AdminToken);
    QTRY_VERIFY_WITH_TIMEOUT(!errors.isEmpty(), 10000);
    const QString message = errors.constFirst().constFirst().toString();
    QVERIFY2(message.contains(missing), qPrintable(message));
    QVERIFY(client.state() != AdminClient::State::Connected);
}

void TestAdminTls::reloadIsAnnounced()
{
    AdminClient client;
    client.setCaFile(m_dir.filePath(u"ca.pem"_s));
    client.open(adminUrl(), AdminToken);
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), AdminClient::State::Connected, 10000);
    QSignalSpy reloaded(&client, &AdminClient::configReloaded);
    writeConfig(2); // server.workers needs a restart
    const auto outcome = m_server->reloadConfig();
    QVERIFY2(outcome, outcome ? "" : qPrintable(outcome.error().message));
    QTRY_COMPARE_WITH_TIMEOUT(reloaded.size(), 1, 10000);
    QCOMPARE(reloaded.at(0).at(0).toString(),
             u"Configuration reloaded; needs a restart: server.workers"_s);
    QCOMPARE(reloaded.at(0).at(1).toStringList(), QStringList{u"server.workers"_s});

    QSignalSpy refused(&client, &AdminClient::configReloadFailed);
    QFile file(m_dir.filePath(u"mtw.toml"_s));
    QVERIFY(file.open(QIODevice::Append));
    file.write("[logging]\nlevel = \"loud\"\n");
    file.close();
    QVERIFY(!m_server->reloadConfig());
    QTRY_COMPARE_WITH_TIMEOUT(refused.size(), 1, 10000);
    const QString message = refused.at(0).at(0).toString();
    QVERIFY2(message.contains(u"logging.level"_s) && message.contains(u"mtw.toml:"_s),
             qPrintable(message));
    client.close();
}

void TestAdminTls::cleanupTestCase()
{
    m_server.reset();
}

QTEST_MAIN(TestAdminTls)
#include "tst_admintls.moc"
