// SPDX-License-Identifier: MIT
#pragma once

#include <QStringList>

class QTableView;

namespace Mtw {

// Gives each column of `view` the width of a typical widest value (`samples`, one per column;
// empty = leave as is) or of its header text with the sort arrow, whichever is wider, so
// neither headers nor typical values are elided. Also sets a row height that fits the font.
void fitColumns(QTableView *view, const QStringList &samples);

} // namespace Mtw
