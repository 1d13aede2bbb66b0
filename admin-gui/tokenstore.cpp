// SPDX-License-Identifier: MIT
#include "tokenstore.h"

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QThread>
#include <QTimer>

#include <qt6keychain/keychain.h>

#include <memory>
#include <utility>

using namespace Qt::StringLiterals;

namespace Mtw {

TokenStore::TokenStore(QString service, QObject *parent, QString noun)
    : QObject(parent)
    , m_service(std::move(service))
    , m_noun(std::move(noun))
{ }

QString TokenStore::service() const
{
    return m_service;
}

namespace {

// QtKeychain's libsecret backend (GNOME and most other Linux desktops) delivers its answers
// through GLib callbacks on the default main context, which only a GLib event dispatcher in the
// main thread runs. With QT_NO_GLIB set, a job would never finish; the watchdog turns that into
// an error. It is armed only then, so a user taking time over an unlock prompt is never cut off.
constexpr int NoGlibWatchdogMs = 5000;

bool mainThreadRunsGlib()
{
#if defined(Q_OS_UNIX) && !defined(Q_OS_DARWIN) && !defined(Q_OS_ANDROID)
    const QAbstractEventDispatcher *dispatcher =
        QAbstractEventDispatcher::instance(QCoreApplication::instance()->thread());
    return dispatcher && dispatcher->inherits("QEventDispatcherGlib");
#else
    return true; // no GLib involved
#endif
}

} // namespace

void TokenStore::run(QKeychain::Job *job, const QString &server, const Answer &answer)
{
    job->setKey(server);
    job->setAutoDelete(true);
    // The fallback writes the secret in plain text to a QSettings file; never.
    job->setInsecureFallback(false);
    auto answered = std::make_shared<bool>(false);
    connect(job,
            &QKeychain::Job::finished,
            this,
            [this, server, answer, answered](QKeychain::Job *finished) {
                if (std::exchange(*answered, true))
                    return;
                const bool ok = finished->error() == QKeychain::NoError;
                answer(finished, ok, ok ? QString() : describeError(finished, server));
            });
    if (!mainThreadRunsGlib()) {
        QTimer::singleShot(NoGlibWatchdogMs, this, [this, answer, answered] {
            if (std::exchange(*answered, true))
                return;
            answer(nullptr,
                   false,
                   tr("no keychain available: the keychain did not answer; the Secret Service "
                      "client needs the GLib event loop, which QT_NO_GLIB turns off"));
        });
    }
    job->start();
}

void TokenStore::save(const QString &server, const QString &token)
{
    auto *job = new QKeychain::WritePasswordJob(m_service, this);
    job->setTextData(token);
    run(job, server, [this, server](QKeychain::Job *, bool ok, const QString &error) {
        Q_EMIT saved(server, ok, error);
    });
}

void TokenStore::load(const QString &server)
{
    run(new QKeychain::ReadPasswordJob(m_service, this),
        server,
        [this, server](QKeychain::Job *job, bool ok, const QString &error) {
            const QString token =
                ok ? static_cast<QKeychain::ReadPasswordJob *>(job)->textData() : QString();
            const bool missing = job && job->error() == QKeychain::EntryNotFound;
            Q_EMIT loaded(server, token, ok, error, missing);
        });
}

void TokenStore::remove(const QString &server)
{
    run(new QKeychain::DeletePasswordJob(m_service, this),
        server,
        [this, server](QKeychain::Job *, bool ok, const QString &error) {
            Q_EMIT removed(server, ok, error);
        });
}

QString TokenStore::describeError(const QKeychain::Job *job, const QString &server) const
{
    const QString reason = job->errorString();
    switch (job->error()) {
    case QKeychain::NoError:
        return {};
    case QKeychain::EntryNotFound:
        return tr("no %1 stored for %2").arg(m_noun, server);
    case QKeychain::CouldNotDeleteEntry:
        return tr("could not delete the %1 for %2: %3").arg(m_noun, server, reason);
    case QKeychain::AccessDeniedByUser:
    case QKeychain::AccessDenied:
        return tr("access to the keychain was denied: %1").arg(reason);
    case QKeychain::NoBackendAvailable:
    case QKeychain::NotImplemented:
    case QKeychain::OtherError:
        break;
    }
    // QtKeychain reports a missing or unreachable Secret Service as OtherError, the same code as
    // any other backend failure, so the reason text is all there is to tell the user.
    return tr("no keychain available: %1").arg(reason.isEmpty() ? tr("unknown error") : reason);
}

} // namespace Mtw
