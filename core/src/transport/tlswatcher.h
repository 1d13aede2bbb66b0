// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/result.h>

#include <QFileSystemWatcher>
#include <QObject>
#include <QTimer>

namespace Mtw::Internal {

class TlsContext;

// Watches the files of [server.tls] and puts a renewed pair into the TlsContext once it has
// been checked (TlsContext::load); a broken pair is refused with a log line and the one in use
// stays. The directories are watched, not only the files: certbot and Kubernetes replace
// files by renaming a new file or a `..data` symlink over the old one, which a watch on the
// old file does not see. Changes are debounced (a renewal writes the certificate and the key
// one after the other). Lives in the server's thread.
class TlsWatcher : public QObject
{
    Q_OBJECT

public:
    TlsWatcher(TlsContext &context, const TlsConfig &files, QObject *parent = nullptr);

    // Reads the files now (a change seen, SIGHUP, a configuration reload with other paths).
    // True when the pair in use changed; an error (nothing changed) otherwise, already logged.
    Result<bool> reload();
    // New paths from a configuration reload: the next reload() reads them.
    void setFiles(const TlsConfig &files);
    const TlsConfig &files() const { return m_files; }

    static constexpr int DebounceMs = 300;

Q_SIGNALS:
    void reloaded(const QString &description);
    void refused(const QString &error);

private:
    void watch();

    TlsContext &m_context;
    TlsConfig m_files;
    QFileSystemWatcher m_watcher;
    QTimer m_debounce;
};

} // namespace Mtw::Internal
