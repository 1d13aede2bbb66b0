// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/qglobal.h>

#if defined(MTW_CORE_BUILD)
#  define MTW_CORE_EXPORT Q_DECL_EXPORT
#else
#  define MTW_CORE_EXPORT Q_DECL_IMPORT
#endif
