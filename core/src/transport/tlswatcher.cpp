// SPDX-License-Identifier: MIT
#include "transport/tlswatcher.h"

#include "transport/logging.h"
#include "transport/tlscontext.h"

#include <QFileInfo>
#include <QSslCertificate>
#include <QSslKey>

namespace Mtw::Internal {

TlsWatcher::TlsWatcher(TlsContext &context, const TlsConfig &files, QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_files(files)
{
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(DebounceMs);
    connect(&m_debounce, &QTimer::timeout, this, [this] { (void)reload(); });
    connect(&m_watcher,
            &QFileSystemWatcher::directoryChanged,
            &m_debounce,
            qOverload<>(&QTimer::start));
    connect(&m_watcher, &QFileSystemWatcher::fileChanged, &m_debounce, qOverload<>(&QTimer::start));
    watch();
}

void TlsWatcher::setFiles(const TlsConfig &files)
{
    m_files = files;
    watch();
}

// The files (for writes in place) and their directories (for renames over them). A watch on a
// file that was replaced is gone: every reload sets them again.
void TlsWatcher::watch()
{
    if (const QStringList old = m_watcher.files() + m_watcher.directories(); !old.isEmpty())
        m_watcher.removePaths(old);
    QStringList paths;
    for (const QString &file : {m_files.cert, m_files.key, m_files.ca}) {
        if (file.isEmpty())
            continue;
        const QFileInfo info(file);
        paths << info.absoluteFilePath() << info.absolutePath();
    }
    paths.removeDuplicates();
    for (const QString &path : std::as_const(paths)) {
        if (QFileInfo::exists(path))
            m_watcher.addPath(path);
    }
}

Result<bool> TlsWatcher::reload()
{
    watch();
    const QSslConfiguration current = m_context.current();
    auto loaded = TlsContext::load(m_files);
    if (!loaded) {
        qCWarning(lcTransport).noquote()
            << "TLS certificate reload refused:" << loaded.error().message << "- still using"
            << TlsContext::describe(current);
        Q_EMIT refused(loaded.error().message);
        return tl::unexpected(loaded.error());
    }
    if (loaded->localCertificateChain() == current.localCertificateChain()
        && loaded->privateKey() == current.privateKey()
        && loaded->caCertificates() == current.caCertificates()
        && loaded->peerVerifyMode() == current.peerVerifyMode()
        && loaded->protocol() == current.protocol()) {
        return false;
    }
    m_context.replace(*loaded);
    const QString description = TlsContext::describe(*loaded);
    qCInfo(lcTransport).noquote() << "TLS certificate reloaded:" << description
                                  << "- new connections use it, open ones keep theirs";
    Q_EMIT reloaded(description);
    return true;
}

} // namespace Mtw::Internal
