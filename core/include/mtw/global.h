// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/qglobal.h>

#if defined(MTW_CORE_BUILD)
#  define MTW_CORE_EXPORT Q_DECL_EXPORT
#else
#  define MTW_CORE_EXPORT Q_DECL_IMPORT
#endif

// Declares the special members of an implicitly shared value type of the module API: a class
// whose only data member is a QSharedDataPointer `d` to a private class that only libmtwcore
// sees. They are defined in libmtwcore, so a member added to the private class changes nothing
// in a compiled plugin (see docs/plugins.md, "What stays compatible").
#define MTW_DECLARE_SHARED_VALUE(Class) \
  Class();                              \
  Class(const Class &other);            \
  Class &operator=(const Class &other); \
  ~Class();
