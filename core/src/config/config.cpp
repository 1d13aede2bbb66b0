// SPDX-License-Identifier: MIT
// Config values, diagnostics, files on disk and environment overrides.

#include "config_p.h"

#include <mtw/configschema.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include <cerrno>

using namespace Qt::Literals::StringLiterals;

namespace Mtw {

namespace Internal {

QString quoted(const QString &text)
{
    QString escaped = text;
    escaped.replace(QLatin1Char('\\'), u"\\\\"_s).replace(QLatin1Char('"'), u"\\\""_s);
    return QLatin1Char('"') + escaped + QLatin1Char('"');
}

QString integerExpectation(qint64 min, qint64 max)
{
    if (max == std::numeric_limits<int>::max())
        return u"an integer >= %1"_s.arg(min);
    return u"an integer %1-%2"_s.arg(min).arg(max);
}

QString sizeExpectation(qint64 min, qint64 max)
{
    if (max == std::numeric_limits<qint64>::max())
        return u"a size of at least %1"_s.arg(formatSize(min));
    return u"a size from %1 to %2"_s.arg(formatSize(min), formatSize(max));
}

std::optional<qint64> parseInteger(const QString &text)
{
    bool ok = false;
    const qint64 value = text.trimmed().toLongLong(&ok, 10);
    return ok ? std::optional<qint64>(value) : std::nullopt;
}

} // namespace Internal

namespace {

// An override from the environment; nullopt when unset or empty.
Result<std::optional<int>>
integerOverride(const QProcessEnvironment &env, const QString &name, qint64 min, qint64 max)
{
    const QString text = env.value(name);
    if (text.isEmpty())
        return std::nullopt;
    const auto value = Internal::parseInteger(text);
    if (!value || *value < min || *value > max) {
        return fail(400,
                    u"%1: expected %2, got %3"_s.arg(name,
                                                     Internal::integerExpectation(min, max),
                                                     Internal::quoted(text)));
    }
    return int(*value);
}

} // namespace

bool Config::operator==(const Config &other) const
{
    // Through the schema, so that equality cannot forget a key (positions say where an entry was
    // written, not what it configures).
    return diffConfigs(*this, other).isEmpty();
}

QString ConfigDiagnostic::toString() const
{
    QString text = file;
    if (line > 0) {
        text += QLatin1Char(':') + QString::number(line);
        if (column > 0)
            text += QLatin1Char(':') + QString::number(column);
    }
    text += u": "_s;
    if (severity == Severity::Warning)
        text += u"warning: "_s;
    if (!keyPath.isEmpty())
        text += keyPath + u": "_s;
    return text + message;
}

bool ConfigLoadResult::hasErrors() const
{
    for (const ConfigDiagnostic &diagnostic : diagnostics) {
        if (diagnostic.severity == ConfigDiagnostic::Severity::Error)
            return true;
    }
    return false;
}

QList<ConfigDiagnostic> ConfigLoadResult::errors() const
{
    QList<ConfigDiagnostic> list;
    for (const ConfigDiagnostic &diagnostic : diagnostics) {
        if (diagnostic.severity == ConfigDiagnostic::Severity::Error)
            list.append(diagnostic);
    }
    return list;
}

QList<ConfigDiagnostic> ConfigLoadResult::warnings() const
{
    QList<ConfigDiagnostic> list;
    for (const ConfigDiagnostic &diagnostic : diagnostics) {
        if (diagnostic.severity == ConfigDiagnostic::Severity::Warning)
            list.append(diagnostic);
    }
    return list;
}

Result<ConfigLoadResult> loadConfigFile(const QString &path, const QProcessEnvironment &env)
{
    const QFileInfo info(path);
    const auto cannotRead = [&path](int code, const QString &reason) {
        return fail(code, u"cannot read config file %1: %2"_s.arg(path, reason));
    };
    if (!info.exists())
        return cannotRead(404, qt_error_string(ENOENT));
    if (info.isDir())
        return cannotRead(403, qt_error_string(EISDIR));
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        const int code = file.error() == QFileDevice::OpenError && !file.exists() ? 404 : 403;
        return cannotRead(code, file.errorString());
    }
    const QByteArray bytes = file.readAll();
    if (file.error() != QFileDevice::NoError)
        return cannotRead(403, file.errorString());
    ConfigLoadResult result = Internal::parseConfigUtf8(bytes, path, env);
    result.config.sourcePath = info.absoluteFilePath();
    return result;
}

QString findConfigFile(const QString &explicitPath, const QString &workingDir)
{
    if (!explicitPath.isEmpty())
        return explicitPath;
    const QDir dir(workingDir.isEmpty() ? QDir::currentPath() : workingDir);
    const QStringList candidates{dir.absoluteFilePath(u"mtw.toml"_s),
                                 dir.absoluteFilePath(u"config/mtw.toml"_s),
                                 u"/etc/mtw/mtw.toml"_s};
    for (const QString &candidate : candidates) {
        if (QFileInfo(candidate).isFile())
            return QDir::cleanPath(candidate);
    }
    return QString();
}

Result<void> applyEnvironmentOverrides(Config &config, const QProcessEnvironment &env)
{
    // Check everything before changing anything: a bad variable leaves `config` as it was.
    const QString host = env.value(u"MTW_HOST"_s);
    if (!host.isEmpty() && host.trimmed().isEmpty()) {
        return fail(400,
                    u"MTW_HOST: expected a non-empty host, got %1"_s.arg(Internal::quoted(host)));
    }
    const auto port = integerOverride(env, u"MTW_PORT"_s, 0, 65535);
    if (!port)
        return tl::unexpected(port.error());
    const auto maxConnections =
        integerOverride(env, u"MTW_MAX_CONNECTIONS"_s, 1, std::numeric_limits<int>::max());
    if (!maxConnections)
        return tl::unexpected(maxConnections.error());

    if (!host.isEmpty())
        config.server.host = host;
    if (*port)
        config.server.port = **port;
    if (*maxConnections)
        config.server.maxConnections = **maxConnections;
    return {};
}

QString loggingFilterRules(const LoggingConfig &logging)
{
    QStringList rules;
    if (logging.level == "debug"_L1) {
        rules << u"mtw.*.debug=true"_s;
    } else if (logging.level == "warning"_L1) {
        rules << u"mtw.*.debug=false"_s << u"mtw.*.info=false"_s;
    } else if (logging.level == "error"_L1) {
        rules << u"mtw.*.debug=false"_s << u"mtw.*.info=false"_s << u"mtw.*.warning=false"_s;
    }
    for (const QString &rule :
         logging.rules.split(QRegularExpression(u"[;\\n]"_s), Qt::SkipEmptyParts))
        rules << rule.trimmed();
    return rules.join(u'\n');
}

} // namespace Mtw
