// SPDX-License-Identifier: MIT
#include "theme.h"

namespace Mtw {

using namespace Qt::StringLiterals;

bool isDarkPalette(const QPalette &palette)
{
    return palette.color(QPalette::Window).lightness() < 128;
}

QColor errorTextColor(const QPalette &palette)
{
    return isDarkPalette(palette) ? QColor(0xff, 0x8a, 0x80) : QColor(0xb0, 0x1e, 0x1e);
}

QString bannerStyleSheet(const QPalette &palette, bool error)
{
    const bool dark = isDarkPalette(palette);
    QColor background;
    QColor text;
    QColor border;
    if (error) {
        background = dark ? QColor(0x4a, 0x1c, 0x1c) : QColor(0xfd, 0xec, 0xea);
        text = dark ? QColor(0xff, 0xd6, 0xd2) : QColor(0x8a, 0x1c, 0x1c);
        border = dark ? QColor(0x8a, 0x33, 0x30) : QColor(0xf5, 0xc2, 0xc0);
    } else {
        const QColor highlight = palette.color(QPalette::Highlight);
        background = dark ? highlight.darker(300) : highlight.lighter(190);
        text = palette.color(QPalette::WindowText);
        border = highlight;
    }
    return u"background: %1; color: %2; border: 1px solid %3;"_s.arg(background.name(),
                                                                     text.name(),
                                                                     border.name());
}

} // namespace Mtw
