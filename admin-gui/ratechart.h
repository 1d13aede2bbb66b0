// SPDX-License-Identifier: MIT
#pragma once

#include <QColor>
#include <QList>
#include <QWidget>

namespace Mtw {

// A small line chart of per-second rates (messages in and out), newest on the right, drawn with
// QPainter so the app needs no Qt Charts. Lives in the GUI thread.
class RateChart : public QWidget
{
    Q_OBJECT

public:
    struct Series
    {
        QString name;
        QColor color;
        QList<double> values;
    };

    explicit RateChart(QWidget *parent = nullptr);

    // Adds one sample per series (in the order the series were added).
    int addSeries(const QString &name, const QColor &color);
    void addSample(const QList<double> &values);
    void clear();
    void setCapacity(int samples) { m_capacity = samples; }
    int sampleCount() const;
    const QList<Series> &series() const { return m_series; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    static double niceCeiling(double value);

    QList<Series> m_series;
    int m_capacity = 60;
};

} // namespace Mtw
