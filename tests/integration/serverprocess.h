// SPDX-License-Identifier: MIT
#pragma once

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryFile>
#include <QTest>

// Runs the real mtwserver binary for process tests and learns its port from the log line
// "listening on 127.0.0.1:PORT".
class ServerProcess
{
public:
    // MTW_TEST_SERVER_BIN runs the process tests against another build (to show that a test
    // fails on an older server, for instance).
    // The server logs to a file, not a pipe: a test that blocks in a plain recv() while a slow
    // server (a sanitizer build) logs a burst cannot fill a pipe and stall the server in its
    // next log line, with each side waiting for the other.
    ServerProcess()
    {
        process.setProgram(serverBinary());
        if (logFile.open())
            process.setStandardErrorFile(logFile.fileName());
    }

    static QString serverBinary()
    {
        const QString other = qEnvironmentVariable("MTW_TEST_SERVER_BIN");
        return other.isEmpty() ? QStringLiteral(MTW_BIN_DIR "/mtwserver") : other;
    }
    ~ServerProcess()
    {
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished(3000);
        }
    }

    // Starts with `arguments` and waits for the listening line; false when it never came.
    bool start(const QStringList &arguments, int timeoutMs = 10000)
    {
        process.setArguments(arguments);
        process.start();
        if (!process.waitForStarted(timeoutMs))
            return false;
        static const QRegularExpression listening(QStringLiteral("listening on [^ ]*:(\\d+) "));
        return QTest::qWaitFor(
                   [&] {
                       readLog();
                       const auto match = listening.match(QString::fromUtf8(log));
                       if (match.hasMatch())
                           port = quint16(match.captured(1).toUInt());
                       return port != 0 || process.state() == QProcess::NotRunning;
                   },
                   timeoutMs)
            && port != 0;
    }

    // Reads what the server logged so far.
    void drainLog() { readLog(); }

    QString allLog()
    {
        readLog();
        return QString::fromUtf8(log);
    }

    // The file the server logs to.
    QString logPath() const { return logFile.fileName(); }

    QProcess process;
    QByteArray log;
    quint16 port = 0;

private:
    void readLog()
    {
        QFile file(logFile.fileName());
        if (file.open(QIODevice::ReadOnly))
            log = file.readAll();
    }

    QTemporaryFile logFile;
};

// Runs mtwserver to completion (for --version, --check-config ...) and returns exit code + output.
struct ProcessResult
{
    int exitCode = -1;
    QString out;
    QString err;
};

inline ProcessResult
runServer(const QStringList &arguments,
          const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment(),
          const QString &workingDir = QString())
{
    QProcess process;
    process.setProcessEnvironment(env);
    if (!workingDir.isEmpty())
        process.setWorkingDirectory(workingDir);
    process.start(QStringLiteral(MTW_BIN_DIR "/mtwserver"), arguments);
    ProcessResult result;
    if (!process.waitForFinished(15000)) {
        process.kill();
        process.waitForFinished();
        return result;
    }
    result.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    result.out = QString::fromUtf8(process.readAllStandardOutput());
    result.err = QString::fromUtf8(process.readAllStandardError());
    return result;
}
