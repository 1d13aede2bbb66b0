// SPDX-License-Identifier: MIT
#include "transport/tlscontext.h"

#include <QFile>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslSocket>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

namespace {

Result<QByteArray> readPem(const QString &key, const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return fail(file.exists() ? 403 : 404,
                    u"%1: cannot read \"%2\": %3"_s.arg(key, path, file.errorString()));
    return file.readAll();
}

Result<QList<QSslCertificate>> readCertificates(const QString &key, const QString &path)
{
    auto pem = readPem(key, path);
    if (!pem)
        return tl::unexpected(pem.error());
    QList<QSslCertificate> certificates = QSslCertificate::fromData(*pem, QSsl::Pem);
    if (certificates.isEmpty() || certificates.constFirst().isNull())
        return fail(400, u"%1: \"%2\" holds no PEM certificate"_s.arg(key, path));
    return certificates;
}

// The key algorithms a PEM private key may have; QSslKey needs to be told.
QSslKey parseKey(const QByteArray &pem)
{
    for (const QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec, QSsl::Dsa}) {
        QSslKey key(pem, algorithm, QSsl::Pem, QSsl::PrivateKey);
        if (!key.isNull())
            return key;
    }
    return {};
}

// Qt has no way to tell whether a private key belongs to a certificate (it finds out in the
// first handshake, too late for a useful message): OpenSSL compares the public halves.
bool keyMatchesCertificate(const QByteArray &keyPem, const QSslCertificate &certificate)
{
    const QByteArray certPem = certificate.toPem();
    std::unique_ptr<BIO, decltype(&BIO_free)> certBio(
        BIO_new_mem_buf(certPem.constData(), int(certPem.size())),
        &BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> keyBio(
        BIO_new_mem_buf(keyPem.constData(), int(keyPem.size())),
        &BIO_free);
    if (!certBio || !keyBio)
        return false;
    std::unique_ptr<X509, decltype(&X509_free)> x509(
        PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr),
        &X509_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
        PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr),
        &EVP_PKEY_free);
    return x509 && pkey && X509_check_private_key(x509.get(), pkey.get()) == 1;
}

} // namespace

Result<QSslConfiguration> TlsContext::load(const TlsConfig &tls, const QDateTime &now)
{
    if (!QSslSocket::supportsSsl())
        return fail(500,
                    u"server.tls: this Qt has no working TLS backend (%1); install the OpenSSL 3 "
                    u"libraries"_s.arg(QSslSocket::activeBackend()));
    if (tls.key.isEmpty())
        return fail(400, u"server.tls.key: required when server.tls.cert is set"_s);
    auto chain = readCertificates(u"server.tls.cert"_s, tls.cert);
    if (!chain)
        return tl::unexpected(chain.error());
    const QSslCertificate &leaf = chain->constFirst();
    if (leaf.expiryDate() < now)
        return fail(400,
                    u"server.tls.cert: the certificate in \"%1\" expired on %2"_s.arg(
                        tls.cert,
                        leaf.expiryDate().toUTC().toString(Qt::ISODate)));
    if (leaf.effectiveDate() > now)
        return fail(400,
                    u"server.tls.cert: the certificate in \"%1\" is not valid before %2"_s.arg(
                        tls.cert,
                        leaf.effectiveDate().toUTC().toString(Qt::ISODate)));

    const auto keyPem = readPem(u"server.tls.key"_s, tls.key);
    if (!keyPem)
        return tl::unexpected(keyPem.error());
    const QSslKey key = parseKey(*keyPem);
    if (key.isNull())
        return fail(400,
                    u"server.tls.key: \"%1\" holds no unencrypted PEM private key (RSA, EC or "
                    u"DSA)"_s.arg(tls.key));
    if (!keyMatchesCertificate(*keyPem, leaf))
        return fail(400,
                    u"server.tls.key: the key in \"%1\" does not match the certificate in "
                    u"\"%2\""_s.arg(tls.key, tls.cert));

    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setLocalCertificateChain(*chain);
    configuration.setPrivateKey(key);
    configuration.setProtocol(tls.minVersion == "1.3"_L1 ? QSsl::TlsV1_3OrLater
                                                         : QSsl::TlsV1_2OrLater);
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    if (tls.clientAuth == "require"_L1) {
        if (tls.ca.isEmpty())
            return fail(400,
                        u"server.tls.client_auth: \"require\" needs server.tls.ca (the CA that "
                        u"signs client certificates)"_s);
        auto authorities = readCertificates(u"server.tls.ca"_s, tls.ca);
        if (!authorities)
            return tl::unexpected(authorities.error());
        configuration.setCaCertificates(*authorities);
        configuration.setPeerVerifyMode(QSslSocket::VerifyPeer);
    } else if (!tls.ca.isEmpty()) {
        return fail(400,
                    u"server.tls.ca: set, but server.tls.client_auth is \"none\": set "
                    u"client_auth = \"require\" or remove ca"_s);
    }
    return configuration;
}

QString TlsContext::describe(const QSslConfiguration &configuration)
{
    const QSslCertificate leaf = configuration.localCertificate();
    const QStringList names = leaf.subjectInfo(QSslCertificate::CommonName);
    return u"%1, expires %2"_s.arg(names.isEmpty() ? leaf.subjectDisplayName() : names.join(u','),
                                   leaf.expiryDate().toUTC().toString(Qt::ISODate));
}

} // namespace Mtw::Internal
