// SPDX-License-Identifier: MIT
// A Qt plugin of another application (another interface id): refused before its code runs.
#include "fixture.h"

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-wrong-iid");
}

class FixtureWrongIid : public QObject
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID "org.example.Other/1" FILE "fixture-wrong-iid.json")
};

#include "fixture-wrong-iid.moc"
