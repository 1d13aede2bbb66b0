// SPDX-License-Identifier: MIT
#pragma once

#include <QColor>
#include <QPalette>
#include <QString>

namespace Mtw {

// Colours that follow the palette, so a dark theme gets dark banners and readable red text.
bool isDarkPalette(const QPalette &palette);
// Red text that reads on the palette's window and base colours.
QColor errorTextColor(const QPalette &palette);
enum class BannerKind { Error, Warning, Note };
// A style sheet for a message banner: an error (red), a warning (amber) or a note (the
// highlight hue).
QString bannerStyleSheet(const QPalette &palette, BannerKind kind);
inline QString bannerStyleSheet(const QPalette &palette, bool error)
{
    return bannerStyleSheet(palette, error ? BannerKind::Error : BannerKind::Note);
}

} // namespace Mtw
