// SPDX-License-Identifier: MIT
// Defines what MTW_DECLARE_SHARED_VALUE (<mtw/global.h>) declares, for a class whose `d` points to
// Internal::<Class>Private, a QSharedData subclass complete where this is used.
#pragma once

#define MTW_DEFINE_SHARED_VALUE(Class)                   \
  Class::Class()                                         \
      : d(new Internal::Class##Private)                  \
  { }                                                    \
  Class::Class(const Class &other) = default;            \
  Class &Class::operator=(const Class &other) = default; \
  Class::~Class() = default;

// A getter `Type getter() const` and a setter `void setter(const Type &)` over d->member.
#define MTW_SHARED_PROPERTY(Class, Type, getter, setter, member) \
  Type Class::getter() const                                     \
  {                                                              \
    return d->member;                                            \
  }                                                              \
  void Class::setter(const Type &value)                          \
  {                                                              \
    d->member = value;                                           \
  }

// The same for types passed by value (bool, integers, enums): `void setter(Type)`.
#define MTW_SHARED_SCALAR_PROPERTY(Class, Type, getter, setter, member) \
  Type Class::getter() const                                            \
  {                                                                     \
    return d->member;                                                   \
  }                                                                     \
  void Class::setter(Type value)                                        \
  {                                                                     \
    d->member = value;                                                  \
  }
