// SPDX-License-Identifier: MIT
#include "server/configwatcher.h"

#include <QFile>
#include <QFileInfo>

namespace Mtw::Internal {

namespace {

QByteArray contentsOf(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

ConfigWatcher::ConfigWatcher(const QString &path, QObject *parent)
    : QObject(parent)
    , m_path(QFileInfo(path).absoluteFilePath())
    , m_contents(contentsOf(m_path))
{
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(DebounceMs);
    connect(&m_debounce, &QTimer::timeout, this, &ConfigWatcher::check);
    connect(&m_watcher, &QFileSystemWatcher::fileChanged, &m_debounce, qOverload<>(&QTimer::start));
    connect(&m_watcher,
            &QFileSystemWatcher::directoryChanged,
            &m_debounce,
            qOverload<>(&QTimer::start));
    watch();
}

void ConfigWatcher::watch()
{
    if (!m_watcher.files().contains(m_path) && QFileInfo::exists(m_path))
        m_watcher.addPath(m_path);
    if (const QString dir = QFileInfo(m_path).absolutePath();
        !m_watcher.directories().contains(dir))
        m_watcher.addPath(dir);
}

void ConfigWatcher::check()
{
    watch(); // a file renamed over the old one is a new file to watch
    if (!QFileInfo::exists(m_path))
        return; // between the removal and the rename of a replacement: wait for the rename
    const QByteArray contents = contentsOf(m_path);
    if (contents == m_contents)
        return;
    m_contents = contents;
    Q_EMIT changed();
}

} // namespace Mtw::Internal
