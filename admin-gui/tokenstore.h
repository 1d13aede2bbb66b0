// SPDX-License-Identifier: MIT
#pragma once

#include <QObject>
#include <QString>

#include <functional>

namespace QKeychain {
class Job;
}

namespace Mtw {

// The admin token of each server, kept in the OS keychain (Secret Service on Linux, Keychain on
// macOS, Credential Store on Windows) through QtKeychain, one entry per server URL under
// `service`. The token is never written anywhere else: QtKeychain's plain-text fallback is off,
// so without a keychain every call fails with "no keychain available: <reason>". Lives in the GUI
// thread; every call is asynchronous and answers with exactly one signal.
//
// The server URL is the entry's key as given; callers pass one canonical form per server.
// On Linux the keychain answers through GLib, so the GUI thread must run the GLib event dispatcher
// (the default; QT_NO_GLIB set before QApplication is made turns it off, and then every call fails
// after 5 s with a message saying so).
class TokenStore : public QObject
{
    Q_OBJECT
public:
    // `noun` names the secret in error messages ("no token stored for …").
    explicit TokenStore(QString service = QStringLiteral("mtwadmin"),
                        QObject *parent = nullptr,
                        QString noun = QStringLiteral("token"));

    QString service() const;

    void save(const QString &server, const QString &token);
    void load(const QString &server);
    void remove(const QString &server);

Q_SIGNALS:
    // `error` is empty when ok, otherwise a sentence a user can act on.
    void saved(const QString &server, bool ok, const QString &error);
    // `token` is empty unless ok; a server without a stored token fails with
    // "no token stored for <server>" and `missing` set (the keychain works, the entry is not
    // there), which other failures never set.
    void loaded(const QString &server,
                const QString &token,
                bool ok,
                const QString &error,
                bool missing);
    void removed(const QString &server, bool ok, const QString &error);

private:
    // Called once per job: with the finished job, or with nullptr when it never answered.
    using Answer = std::function<void(QKeychain::Job *job, bool ok, const QString &error)>;
    void run(QKeychain::Job *job, const QString &server, const Answer &answer);
    QString describeError(const QKeychain::Job *job, const QString &server) const;

    QString m_service;
    QString m_noun;
};

} // namespace Mtw
