// SPDX-License-Identifier: MIT
#include "logoutput.h"

#include <mtw/logbus.h>

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>

#include <cstdio>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace {

bool g_json = false;

QLatin1String levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return "debug"_L1;
    case QtInfoMsg:
        return "info"_L1;
    case QtWarningMsg:
        return "warning"_L1;
    case QtCriticalMsg:
        return "error"_L1;
    case QtFatalMsg:
        return "fatal"_L1;
    }
    return "info"_L1;
}

void writeLine(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QString time = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
    const QLatin1String category(context.category ? context.category : "default");
    QByteArray line;
    if (g_json) {
        const QJsonObject object{{u"ts"_s, time},
                                 {u"level"_s, levelName(type)},
                                 {u"category"_s, category},
                                 {u"msg"_s, message}};
        line = QJsonDocument(object).toJson(QJsonDocument::Compact);
    } else {
        line = (time + u' ' + levelName(type) + u' ' + category + u": "_s + message).toUtf8();
    }
    line += '\n';
    LogBus::post(type, context.category, message);
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
    if (type == QtFatalMsg)
        std::abort();
}

} // namespace

void installLogOutput(const LoggingConfig &logging)
{
    g_json = logging.format == "json"_L1;
    qInstallMessageHandler(writeLine);
    QLoggingCategory::setFilterRules(loggingFilterRules(logging));
}

} // namespace Mtw
