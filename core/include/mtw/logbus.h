// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QList>
#include <QString>

namespace Mtw {

struct LogEntry
{
    quint64 sequence = 0; // increasing, for readers that want only what is new
    qint64 timestamp = 0; // ms since the Unix epoch
    QtMsgType level = QtInfoMsg;
    QString category;
    QString message;
};

// The last log lines of the process, for the admin API's log stream. An executable's Qt message
// handler posts every line it writes; readers poll with since(). Thread-safe and bounded.
namespace LogBus {

inline constexpr int Capacity = 1000;

MTW_CORE_EXPORT void post(QtMsgType level, const char *category, const QString &message);
// Entries with a sequence greater than `after`, oldest first (at most Capacity).
MTW_CORE_EXPORT QList<LogEntry> since(quint64 after);
MTW_CORE_EXPORT QList<LogEntry> recent(int count);
MTW_CORE_EXPORT quint64 lastSequence();             // of the newest entry; 0 when there is none
MTW_CORE_EXPORT QString levelName(QtMsgType level); // debug, info, warning, error, fatal

} // namespace LogBus
} // namespace Mtw
