// SPDX-License-Identifier: MIT
#include "admintoken.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace {

QString osError()
{
    return QString::fromLocal8Bit(std::strerror(errno));
}

} // namespace

QString adminTokenPath(const Config &config, quint16 port)
{
    if (!config.admin.tokenFile.isEmpty())
        return config.admin.tokenFile;
    return QStandardPaths::writableLocation(QStandardPaths::RuntimeLocation)
        + u"/mtwserver/admin-%1.token"_s.arg(port);
}

Result<void> writeAdminTokenFile(const QString &path, const QString &token)
{
    const QString directory = QFileInfo(path).absolutePath();
    if (!QDir(directory).exists()) {
        const QByteArray native = QFile::encodeName(directory);
        if (!QDir().mkpath(directory) || ::chmod(native.constData(), 0700) != 0)
            return fail(500, u"cannot create %1: %2"_s.arg(directory, osError()));
    }
    const QByteArray native = QFile::encodeName(path);
    if (::unlink(native.constData()) != 0 && errno != ENOENT)
        return fail(500, u"cannot replace %1: %2"_s.arg(path, osError()));
    const int fd =
        ::open(native.constData(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(500, u"cannot write %1: %2"_s.arg(path, osError()));
    const QByteArray bytes = token.toUtf8() + '\n';
    const bool written = ::write(fd, bytes.constData(), size_t(bytes.size())) == bytes.size();
    const QString reason = written ? QString() : osError();
    ::close(fd);
    if (!written)
        return fail(500, u"cannot write %1: %2"_s.arg(path, reason));
    return {};
}

Result<QString> readAdminTokenFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return fail(file.exists() ? 403 : 404,
                    u"no admin token in %1: %2"_s.arg(path, file.errorString()));
    }
    return QString::fromUtf8(file.readAll()).trimmed();
}

void removeAdminTokenFile(const QString &path, const QString &token)
{
    const auto current = readAdminTokenFile(path);
    if (current && *current == token)
        QFile::remove(path);
}

} // namespace Mtw
