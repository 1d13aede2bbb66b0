// SPDX-License-Identifier: MIT
#include "metricchart.h"

#include "jsontablemodel.h"

#include <QLocale>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <climits>
#include <cmath>

namespace Mtw {

using namespace Qt::StringLiterals;

MetricChart::MetricChart(const QString &title, Unit unit, const QColor &color, QWidget *parent)
    : QWidget(parent)
    , m_title(title)
    , m_unit(unit)
    , m_color(color)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setAccessibleName(tr("%1 chart").arg(title));
}

void MetricChart::addSample(qint64 msecsSinceEpoch, double value)
{
    m_samples.append(Sample{msecsSinceEpoch, std::max(0.0, value)});
    if (m_samples.size() > maxSamples)
        m_samples.remove(0, m_samples.size() - maxSamples);
    update();
}

void MetricChart::clear()
{
    m_samples.clear();
    update();
}

void MetricChart::setRange(qint64 msecs)
{
    m_range = std::max<qint64>(0, msecs);
    update();
}

qsizetype MetricChart::firstVisible() const
{
    if (m_range == 0 || m_samples.isEmpty())
        return 0;
    const qint64 start = m_samples.constLast().time - m_range;
    const auto it = std::lower_bound(m_samples.cbegin(),
                                     m_samples.cend(),
                                     start,
                                     [](const Sample &s, qint64 t) { return s.time < t; });
    return it - m_samples.cbegin();
}

int MetricChart::visibleSampleCount() const
{
    return int(m_samples.size() - firstVisible());
}

double MetricChart::scaleTop() const
{
    double maximum = 0;
    for (qsizetype i = firstVisible(); i < m_samples.size(); ++i)
        maximum = std::max(maximum, m_samples.at(i).value);
    // Four grid steps of a round size, so every label is round too; counts and bytes step by
    // whole units at least.
    const double step = maximum / 4;
    if (m_unit == Unit::BytesPerSecond && step >= 1024) {
        // Round in the unit the labels use: 1.5 MB, not 1,500,000 bytes shown as "1.4 MB".
        const double unit = std::pow(1024.0, std::floor(std::log(step) / std::log(1024.0)));
        return 4 * niceCeiling(step / unit) * unit;
    }
    const double minimumStep = m_unit == Unit::PerSecond ? 0.25 : 1.0;
    return 4 * std::max(minimumStep, niceCeiling(step));
}

QString MetricChart::formatValue(double value) const
{
    switch (m_unit) {
    case Unit::BytesPerSecond:
        return JsonTableModel::formatBytes(qint64(value)) + u"/s"_s;
    case Unit::PerSecond:
        return tr("%1/s").arg(QLocale().toString(value, 'g', 4));
    case Unit::Count:
        return QLocale().toString(value, 'g', 6);
    }
    return {};
}

QStringList MetricChart::valueLabels() const
{
    const double top = scaleTop();
    QStringList labels;
    for (int i = 0; i <= 4; ++i)
        labels.append(formatValue(top * i / 4.0));
    return labels;
}

QString MetricChart::spanText(qint64 msecs) const
{
    const qint64 seconds = msecs / 1000;
    if (seconds < 120)
        return tr("%n s ago", nullptr, int(seconds));
    if (seconds < 2 * 3600)
        return tr("%n min ago", nullptr, int(seconds / 60));
    return tr("%1 h ago").arg(QLocale().toString(seconds / 3600.0, 'f', 1));
}

QSize MetricChart::sizeHint() const
{
    return {320, 180};
}

QSize MetricChart::minimumSizeHint() const
{
    const QFontMetrics metrics = fontMetrics();
    return {metrics.horizontalAdvance(m_title) + 40, metrics.height() * 5 + 20};
}

double MetricChart::niceCeiling(double value)
{
    if (value <= 0)
        return 1;
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (double step : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
        if (value <= step * magnitude)
            return step * magnitude;
    }
    return 10 * magnitude;
}

void MetricChart::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const Frame frame = drawFrame(painter);
    if (frame.plot.width() < 20 || frame.plot.height() < 20 || firstVisible() >= m_samples.size())
        return;
    const QList<QPainterPath> pieces = lines(frame);
    QColor fill = m_color;
    fill.setAlpha(40);
    painter.setClipRect(frame.plot.adjusted(-1, -1, 1, 1));
    for (const QPainterPath &piece : pieces) {
        if (piece.elementCount() == 0)
            continue;
        if (piece.elementCount() == 1) { // a lone sample: a dot
            painter.setPen(Qt::NoPen);
            painter.setBrush(m_color);
            painter.drawEllipse(piece.elementAt(0), 2.5, 2.5);
            continue;
        }
        QPainterPath area = piece;
        area.lineTo(piece.currentPosition().x(), frame.plot.bottom());
        area.lineTo(piece.elementAt(0).x, frame.plot.bottom());
        area.closeSubpath();
        painter.fillPath(area, fill);
        painter.setBrush(Qt::NoBrush);
        painter.setPen(QPen(m_color, 2));
        painter.drawPath(piece);
    }
}

MetricChart::Frame MetricChart::drawFrame(QPainter &painter) const
{
    const QPalette pal = palette();
    painter.fillRect(rect(), pal.base());
    painter.setPen(pal.color(QPalette::Mid));
    painter.drawRect(rect().adjusted(0, 0, -1, -1));

    const QFontMetrics metrics = fontMetrics();
    const QStringList labels = valueLabels();
    // The widest label decides the margin, so no label is clipped whatever the scale.
    int labelWidth = 0;
    for (const QString &label : labels)
        labelWidth = std::max(labelWidth, metrics.horizontalAdvance(label));

    // Title with the latest value.
    const double latest = m_samples.isEmpty() ? 0 : m_samples.constLast().value;
    const QString heading =
        m_samples.isEmpty() ? m_title : u"%1: %2"_s.arg(m_title, formatValue(latest));
    painter.fillRect(QRectF(8, 6 + (metrics.height() - 10) / 2.0, 10, 10), m_color);
    painter.setPen(pal.color(QPalette::Text));
    painter.drawText(QRectF(22, 6, width() - 30, metrics.height()),
                     Qt::AlignLeft | Qt::AlignVCenter,
                     metrics.elidedText(heading, Qt::ElideRight, width() - 30));

    Frame frame;
    const int headingHeight = metrics.height() + 10;
    const int left = labelWidth + 12;
    frame.plot = QRectF(left,
                        headingHeight + metrics.height() / 2.0,
                        width() - left - 12,
                        height() - headingHeight - metrics.height() * 2 - 8);
    frame.top = scaleTop();
    const qint64 end = m_samples.isEmpty() ? 0 : m_samples.constLast().time;
    frame.start =
        m_range > 0 ? end - m_range : (m_samples.isEmpty() ? 0 : m_samples.constFirst().time);
    frame.span = std::max<qint64>(1000, end - frame.start);
    if (frame.plot.width() < 20 || frame.plot.height() < 20)
        return frame;

    QColor grid = pal.color(QPalette::Text);
    grid.setAlpha(40);
    const QColor muted = pal.color(QPalette::PlaceholderText);
    const QRectF &plot = frame.plot;
    for (int i = 0; i <= 4; ++i) {
        const double y = plot.bottom() - plot.height() * i / 4.0;
        painter.setPen(QPen(grid, 1));
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y));
        painter.setPen(muted);
        painter.drawText(QRectF(0, y - metrics.height() / 2.0, left - 6, metrics.height()),
                         Qt::AlignRight | Qt::AlignVCenter,
                         labels.at(i));
    }
    const QRectF axis(plot.left(), plot.bottom() + 4, plot.width(), metrics.height());
    painter.setPen(muted);
    painter.drawText(axis, Qt::AlignLeft, spanText(frame.span));
    painter.drawText(axis, Qt::AlignRight, tr("now"));
    return frame;
}

QList<QPainterPath> MetricChart::lines(const Frame &frame) const
{
    // One point per pixel column at most (the column's peak), so hours of samples stay cheap to
    // draw and short spikes stay visible; samples further apart than gapMs start a new line.
    const QRectF &plot = frame.plot;
    const auto xOf = [&](qint64 t) {
        return plot.left() + plot.width() * double(t - frame.start) / frame.span;
    };
    const auto yOf = [&](double v) { return plot.bottom() - plot.height() * v / frame.top; };
    QList<QPainterPath> pieces;
    QPainterPath path;
    bool started = false; // QPainterPath::isEmpty() is still true after a lone moveTo()
    const auto addPoint = [&](const QPointF &point) {
        if (started)
            path.lineTo(point);
        else
            path.moveTo(point);
        started = true;
    };
    qint64 previousTime = -1;
    int previousColumn = INT_MIN;
    double columnPeak = 0;
    double columnX = 0;
    bool havePending = false;
    for (qsizetype i = firstVisible(); i < m_samples.size(); ++i) {
        const Sample &sample = m_samples.at(i);
        const bool gap = previousTime >= 0 && sample.time - previousTime > gapMs;
        previousTime = sample.time;
        const double x = xOf(sample.time);
        const int column = int(x);
        if (gap) {
            if (havePending)
                addPoint(QPointF(columnX, yOf(columnPeak)));
            pieces.append(path);
            path = QPainterPath();
            started = false;
            havePending = false;
        } else if (havePending && column == previousColumn) {
            columnPeak = std::max(columnPeak, sample.value);
            continue;
        } else if (havePending) {
            addPoint(QPointF(columnX, yOf(columnPeak)));
        }
        columnX = x;
        columnPeak = sample.value;
        previousColumn = column;
        havePending = true;
    }
    if (havePending)
        addPoint(QPointF(columnX, yOf(columnPeak)));
    pieces.append(path);
    return pieces;
}

} // namespace Mtw
