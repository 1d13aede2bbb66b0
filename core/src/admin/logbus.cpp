// SPDX-License-Identifier: MIT
#include <mtw/logbus.h>

#include <QDateTime>
#include <QMutex>

#include <deque>

namespace Mtw::LogBus {

using namespace Qt::StringLiterals;

namespace {

struct Ring
{
    QMutex mutex;
    std::deque<LogEntry> entries;
    quint64 sequence = 0;
};

Ring &ring()
{
    static Ring instance;
    return instance;
}

} // namespace

void post(QtMsgType level, const char *category, const QString &message)
{
    LogEntry entry;
    entry.timestamp = QDateTime::currentMSecsSinceEpoch();
    entry.level = level;
    entry.category = QString::fromLatin1(category ? category : "default");
    entry.message = message;
    Ring &r = ring();
    QMutexLocker lock(&r.mutex);
    entry.sequence = ++r.sequence;
    r.entries.push_back(std::move(entry));
    if (r.entries.size() > size_t(Capacity))
        r.entries.pop_front();
}

QList<LogEntry> since(quint64 after)
{
    Ring &r = ring();
    QMutexLocker lock(&r.mutex);
    QList<LogEntry> out;
    for (auto it = r.entries.rbegin(); it != r.entries.rend() && it->sequence > after; ++it)
        out.prepend(*it);
    return out;
}

QList<LogEntry> recent(int count)
{
    Ring &r = ring();
    QMutexLocker lock(&r.mutex);
    QList<LogEntry> out;
    const size_t first = r.entries.size() > size_t(count) ? r.entries.size() - size_t(count) : 0;
    for (size_t i = first; i < r.entries.size(); ++i)
        out.append(r.entries[i]);
    return out;
}

quint64 lastSequence()
{
    Ring &r = ring();
    QMutexLocker lock(&r.mutex);
    return r.sequence;
}

QString levelName(QtMsgType level)
{
    switch (level) {
    case QtDebugMsg:
        return u"debug"_s;
    case QtInfoMsg:
        return u"info"_s;
    case QtWarningMsg:
        return u"warning"_s;
    case QtCriticalMsg:
        return u"error"_s;
    case QtFatalMsg:
        return u"fatal"_s;
    }
    return u"info"_s;
}

} // namespace Mtw::LogBus
