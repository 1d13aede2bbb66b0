// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/global.h>

#include <QString>

#include <tl/expected.hpp>

namespace Mtw {

// A failure a user can act on. `code` follows HTTP meaning where the error reaches a client
// (400 malformed, 401, 403, 404, 409, 413, 429, 500, 503); `message` names the offending value.
// `detail` is for the server log only and never reaches a client: put internals there (the
// backend's own error, a host name, a stack of causes), keep `message` fit for the client.
//
// A plain aggregate on purpose: Error{code, message} and .code/.message are written in many
// places, and the three members are fixed for module API 2 (see docs/plugins.md).
struct Error
{
    int code = 500;
    QString message;
    QString detail = {};

    friend bool operator==(const Error &, const Error &) = default;
};

// Functions that can fail return Result<T>; no exception crosses a Qt or plugin boundary.
template<typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(int code, QString message, QString detail = {})
{
    return tl::unexpected<Error>(Error{code, std::move(message), std::move(detail)});
}

} // namespace Mtw
