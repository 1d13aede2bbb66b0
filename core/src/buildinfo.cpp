// SPDX-License-Identifier: MIT
#include "buildstamp.h" // MTW_GIT_COMMIT, MTW_BUILD_DATE: written at build time

#include <mtw/buildinfo.h>
#include <mtw/version.h>

#include <QtGlobal>

namespace Mtw {

QString versionString()
{
    return QStringLiteral(MTW_VERSION_STRING);
}

QString gitCommit()
{
    return QStringLiteral(MTW_GIT_COMMIT);
}

QString buildDate()
{
    return QStringLiteral(MTW_BUILD_DATE);
}

QString buildInfo()
{
    return QStringLiteral("mtwserver %1 (commit %2, built %3, Qt %4)")
        .arg(versionString(), gitCommit(), buildDate(), QString::fromLatin1(qVersion()));
}

} // namespace Mtw
