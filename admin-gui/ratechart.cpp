// SPDX-License-Identifier: MIT
#include "ratechart.h"

#include <QLocale>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

namespace Mtw {

using namespace Qt::StringLiterals;

RateChart::RateChart(QWidget *parent)
    : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setAccessibleName(tr("Message rate chart"));
}

int RateChart::addSeries(const QString &name, const QColor &color)
{
    m_series.append(Series{name, color, {}});
    return int(m_series.size()) - 1;
}

void RateChart::addSample(const QList<double> &values)
{
    for (int i = 0; i < int(m_series.size()); ++i) {
        QList<double> &series = m_series[i].values;
        series.append(i < int(values.size()) ? std::max(0.0, values.at(i)) : 0.0);
        if (series.size() > m_capacity)
            series.remove(0, series.size() - m_capacity);
    }
    update();
}

void RateChart::clear()
{
    for (Series &series : m_series)
        series.values.clear();
    update();
}

int RateChart::sampleCount() const
{
    return m_series.isEmpty() ? 0 : int(m_series.constFirst().values.size());
}

QSize RateChart::sizeHint() const
{
    return {480, 220};
}

QSize RateChart::minimumSizeHint() const
{
    return {200, 120};
}

double RateChart::niceCeiling(double value)
{
    if (value <= 0)
        return 1;
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (double step : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (value <= step * magnitude)
            return step * magnitude;
    }
    return 10 * magnitude;
}

void RateChart::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const QPalette pal = palette();
    painter.fillRect(rect(), pal.base());

    const QFontMetrics metrics = fontMetrics();
    double maximum = 0;
    for (const Series &series : std::as_const(m_series)) {
        for (double value : series.values)
            maximum = std::max(maximum, value);
    }
    const double top = niceCeiling(maximum);
    const QString topLabel = QLocale().toString(top, 'g', 6);

    const int legendHeight = metrics.height() + 6;
    const int left = metrics.horizontalAdvance(topLabel) + 10;
    const QRectF plot(left,
                      legendHeight + 4,
                      width() - left - 10,
                      height() - legendHeight - metrics.height() - 12);
    if (plot.width() < 10 || plot.height() < 10)
        return;

    // Grid: four horizontal lines with their values.
    QColor grid = pal.color(QPalette::Text);
    grid.setAlpha(40);
    for (int i = 0; i <= 4; ++i) {
        const double y = plot.bottom() - plot.height() * i / 4.0;
        painter.setPen(QPen(grid, 1));
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y));
        painter.setPen(pal.color(QPalette::PlaceholderText));
        const QString label = QLocale().toString(top * i / 4.0, 'g', 6);
        painter.drawText(QRectF(0, y - metrics.height() / 2.0, left - 6, metrics.height()),
                         Qt::AlignRight | Qt::AlignVCenter,
                         label);
    }
    painter.setPen(pal.color(QPalette::PlaceholderText));
    painter.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), metrics.height()),
                     Qt::AlignLeft,
                     tr("%n s ago", nullptr, m_capacity));
    painter.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), metrics.height()),
                     Qt::AlignRight,
                     tr("now"));

    // Series, right-aligned so the newest sample is at the right edge.
    const double step = plot.width() / std::max(1, m_capacity - 1);
    for (const Series &series : std::as_const(m_series)) {
        if (series.values.isEmpty())
            continue;
        QPainterPath path;
        const int count = int(series.values.size());
        for (int i = 0; i < count; ++i) {
            const double x = plot.right() - (count - 1 - i) * step;
            const double y = plot.bottom() - plot.height() * series.values.at(i) / top;
            if (i == 0)
                path.moveTo(x, y);
            else
                path.lineTo(x, y);
        }
        // A light fill under the line makes a short history readable at a glance.
        QPainterPath area = path;
        area.lineTo(plot.right(), plot.bottom());
        area.lineTo(plot.right() - (count - 1) * step, plot.bottom());
        area.closeSubpath();
        QColor fill = series.color;
        fill.setAlpha(40);
        painter.fillPath(area, fill);
        painter.setPen(QPen(series.color, 2));
        painter.drawPath(path);
    }

    // Legend with the latest value of each series.
    int x = left;
    for (const Series &series : std::as_const(m_series)) {
        const double latest = series.values.isEmpty() ? 0 : series.values.constLast();
        const QString text = u"%1: %2/s"_s.arg(series.name, QLocale().toString(latest, 'f', 0));
        painter.fillRect(QRectF(x, 4 + (metrics.height() - 10) / 2.0, 10, 10), series.color);
        painter.setPen(pal.color(QPalette::Text));
        painter.drawText(QPointF(x + 14, 4 + metrics.ascent()), text);
        x += 14 + metrics.horizontalAdvance(text) + 18;
    }
}

} // namespace Mtw
