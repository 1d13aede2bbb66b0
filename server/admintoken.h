// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/config.h>
#include <mtw/result.h>

#include <QString>

namespace Mtw {

// Where mtwserver keeps the admin token it generated: admin.token_file, or
// $XDG_RUNTIME_DIR/mtwserver/admin-<port>.token (a directory only the user can read).
QString adminTokenPath(const Config &config, quint16 port);

// Writes `token` to `path`, readable by the owner only (mode 0600, created fresh so that nobody
// holds an earlier descriptor to it). Errors name the path and the OS reason.
Result<void> writeAdminTokenFile(const QString &path, const QString &token);

// The token in `path`; 404 when there is none, naming the path.
Result<QString> readAdminTokenFile(const QString &path);

// Removes `path` if it still holds `token` (another server may have replaced it since).
void removeAdminTokenFile(const QString &path, const QString &token);

} // namespace Mtw
