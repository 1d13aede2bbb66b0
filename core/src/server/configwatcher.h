// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QFileSystemWatcher>
#include <QObject>
#include <QTimer>

namespace Mtw::Internal {

// server.watch_config: tells when the configuration file has new contents. The directory is
// watched as well as the file, because editors and deploy tools replace a file by renaming a
// new one over it (which ends a watch on the file). Changes are debounced, and a change that
// leaves the bytes as they were (a save of the same text, a touch) is not reported. Lives in
// the server's thread.
class ConfigWatcher : public QObject
{
    Q_OBJECT

public:
    explicit ConfigWatcher(const QString &path, QObject *parent = nullptr);

    static constexpr int DebounceMs = 500;

Q_SIGNALS:
    void changed();

private:
    void check();
    void watch();

    QString m_path;
    QByteArray m_contents;
    QFileSystemWatcher m_watcher;
    QTimer m_debounce;
};

} // namespace Mtw::Internal
