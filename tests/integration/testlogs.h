// SPDX-License-Identifier: MIT
#pragma once

#include <QString>
#include <QStringList>
#include <QtGlobal>

#include <algorithm>
#include <mutex>

// Collects every log message while it lives (and passes them on to QtTest's handler).
class LogCapture
{
public:
    LogCapture()
    {
        s_lines = &m_lines;
        s_previous = qInstallMessageHandler(&LogCapture::handle);
    }
    ~LogCapture()
    {
        qInstallMessageHandler(s_previous);
        s_lines = nullptr;
    }
    QStringList lines() const
    {
        std::lock_guard lock(s_mutex);
        return m_lines;
    }
    qsizetype count(const QString &part) const
    {
        const QStringList all = lines();
        return std::count_if(all.cbegin(), all.cend(), [&](const QString &line) {
            return line.contains(part);
        });
    }

private:
    static void handle(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        {
            std::lock_guard lock(s_mutex);
            if (s_lines)
                s_lines->append(message);
        }
        s_previous(type, context, message);
    }
    QStringList m_lines;
    static inline QStringList *s_lines = nullptr;
    static inline QtMessageHandler s_previous = nullptr;
    static inline std::mutex s_mutex;
};
