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

QString bannerStyleSheet(const QPalette &palette, BannerKind kind)
{
    const bool dark = isDarkPalette(palette);
    QColor background;
    QColor text;
    QColor border;
    if (kind == BannerKind::Warning) {
        background = dark ? QColor(0x4a, 0x3a, 0x12) : QColor(0xff, 0xf4, 0xd6);
        text = dark ? QColor(0xff, 0xe8, 0xb0) : QColor(0x6b, 0x4a, 0x00);
        border = dark ? QColor(0x8a, 0x6d, 0x22) : QColor(0xf0, 0xc8, 0x5a);
    } else if (kind == BannerKind::Error) {
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
