// SPDX-License-Identifier: MIT
#pragma once

#include <QColor>
#include <QList>
#include <QPainterPath>
#include <QWidget>

class QPainter;

namespace Mtw {

// One metric over time (messages in per second, bytes out per second, connections, ...) with
// its own scale and unit, drawn with QPainter so the app needs no Qt Charts. It keeps every
// sample of the session (up to maxSamples, one a second is two days) and shows a window of it:
// the last minute, ten minutes, an hour, or all. Samples more than a few seconds apart (the
// connection was down) leave a gap in the line. Lives in the GUI thread.
class MetricChart : public QWidget
{
    Q_OBJECT

public:
    enum class Unit { PerSecond, BytesPerSecond, Count };
    struct Sample
    {
        qint64 time; // ms since the epoch
        double value;
    };

    explicit MetricChart(const QString &title,
                         Unit unit,
                         const QColor &color,
                         QWidget *parent = nullptr);

    void addSample(qint64 msecsSinceEpoch, double value);
    void clear();
    // The time shown, ending at the newest sample; 0 shows the whole session.
    void setRange(qint64 msecs);
    qint64 range() const { return m_range; }

    QString title() const { return m_title; }
    Unit unit() const { return m_unit; }
    int sampleCount() const { return int(m_samples.size()); }
    const QList<Sample> &samples() const { return m_samples; }
    // What the current window shows, for tests: samples in it, the value at the top of the
    // scale and the labels of the value axis, with their unit.
    int visibleSampleCount() const;
    double scaleTop() const;
    QStringList valueLabels() const;
    QString formatValue(double value) const;

    static constexpr int maxSamples = 2 * 24 * 3600;
    static constexpr qint64 gapMs = 5000;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    struct Frame
    {
        QRectF plot;
        qint64 start = 0; // ms since the epoch at the left edge
        qint64 span = 1000;
        double top = 1;
    };
    // Background, heading, grid, value and time labels; where the lines go.
    Frame drawFrame(QPainter &painter) const;
    QList<QPainterPath> lines(const Frame &frame) const;
    qsizetype firstVisible() const;
    static double niceCeiling(double value);
    QString spanText(qint64 msecs) const;

    QString m_title;
    Unit m_unit;
    QColor m_color;
    QList<Sample> m_samples;
    qint64 m_range = 60 * 1000;
};

} // namespace Mtw
