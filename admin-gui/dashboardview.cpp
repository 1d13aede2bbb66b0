// SPDX-License-Identifier: MIT
#include "dashboardview.h"

#include "adminclient.h"
#include "jsontablemodel.h"
#include "ratechart.h"

#include <QDateTime>
#include <QFrame>
#include <QGridLayout>
#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>

namespace Mtw {

using namespace Qt::StringLiterals;

namespace {

struct CardSpec
{
    const char16_t *key;
    const char *title;
};

// The counters of docs/admin-api.md in the order they are shown.
constexpr CardSpec cards[] = {
    {u"connections", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Connections")},
    {u"channels", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Channels")},
    {u"subscriptions", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Subscriptions")},
    {u"protocol_errors", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Protocol errors")},
    {u"messages_in_per_s", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Messages in/s")},
    {u"messages_out_per_s", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Messages out/s")},
    {u"bytes_in_per_s", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Bytes in/s")},
    {u"bytes_out_per_s", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Bytes out/s")},
    {u"messages_in", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Messages in")},
    {u"messages_out", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Messages out")},
    {u"bytes_in", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Bytes in")},
    {u"bytes_out", QT_TRANSLATE_NOOP("Mtw::DashboardView", "Bytes out")},
};

QString uptimeText(qint64 ms)
{
    const qint64 seconds = ms / 1000;
    return u"%1:%2:%3"_s.arg(seconds / 3600)
        .arg((seconds / 60) % 60, 2, 10, QLatin1Char('0'))
        .arg(seconds % 60, 2, 10, QLatin1Char('0'));
}

} // namespace

DashboardView::DashboardView(AdminClient *client, QWidget *parent)
    : QWidget(parent)
    , m_client(client)
    , m_chart(new RateChart(this))
    , m_serverLabel(new QLabel(this))
{
    auto *layout = new QVBoxLayout(this);
    m_serverLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_serverLabel->setWordWrap(true);
    m_serverLabel->setText(tr("Not connected. Use File → Run server here… or File → Connect…"));
    layout->addWidget(m_serverLabel);

    auto *grid = new QGridLayout;
    grid->setSpacing(8);
    int i = 0;
    for (const CardSpec &card : cards) {
        grid->addWidget(makeCard(QString::fromUtf16(card.key), tr(card.title)), i / 4, i % 4);
        ++i;
    }
    layout->addLayout(grid);

    m_chart->addSeries(tr("Messages in"), QColor(0x1f, 0x77, 0xb4));
    m_chart->addSeries(tr("Messages out"), QColor(0xe0, 0x6c, 0x00));
    layout->addWidget(m_chart, 1);

    connect(client, &AdminClient::snapshotReceived, this, [this](const QJsonObject &server) {
        m_chart->clear();
        m_server = server;
        m_snapshotClock.start();
        showServer(server);
    });
    connect(client, &AdminClient::countersChanged, this, &DashboardView::showCounters);
    connect(client, &AdminClient::stateChanged, this, [this](AdminClient::State state) {
        if (state == AdminClient::State::Disconnected) {
            m_serverLabel->setText(tr("Not connected."));
            m_server = {};
        }
    });
}

QWidget *DashboardView::makeCard(const QString &key, const QString &title)
{
    auto *frame = new QFrame(this);
    frame->setFrameShape(QFrame::StyledPanel);
    frame->setBackgroundRole(QPalette::Base);
    frame->setAutoFillBackground(true);
    auto *layout = new QVBoxLayout(frame);
    layout->setContentsMargins(10, 6, 10, 6);
    auto *caption = new QLabel(title, frame);
    QPalette captionPalette = caption->palette();
    captionPalette.setColor(QPalette::WindowText, palette().color(QPalette::PlaceholderText));
    caption->setPalette(captionPalette);
    auto *value = new QLabel(u"–"_s, frame);
    QFont font = value->font();
    font.setPointSizeF(font.pointSizeF() * 1.6);
    font.setBold(true);
    value->setFont(font);
    value->setAccessibleName(title);
    layout->addWidget(caption);
    layout->addWidget(value);
    m_values.insert(key, value);
    return frame;
}

QString DashboardView::counterText(const QString &key) const
{
    const QLabel *label = m_values.value(key);
    return label ? label->text() : QString();
}

void DashboardView::showServer(const QJsonObject &server)
{
    const QString address =
        u"%1:%2"_s.arg(server.value(u"host"_s).toString()).arg(server.value(u"port"_s).toInt());
    QString config = server.value(u"config_path"_s).toString();
    if (config.isEmpty())
        config = tr("built-in defaults");
    m_serverLabel->setText(
        tr("<b>mtwserver %1</b> (%2, Qt %3) on <b>%4</b>, WebSocket path %5 · %6 workers · "
           "pid %7 · up %8 · config: %9")
            .arg(server.value(u"version"_s).toString().toHtmlEscaped(),
                 server.value(u"commit"_s).toString().toHtmlEscaped(),
                 server.value(u"qt_version"_s).toString().toHtmlEscaped(),
                 address.toHtmlEscaped(),
                 server.value(u"ws_path"_s).toString().toHtmlEscaped(),
                 QString::number(server.value(u"workers"_s).toInt()),
                 QString::number(qint64(server.value(u"pid"_s).toDouble())),
                 uptimeText(qint64(server.value(u"uptime_ms"_s).toDouble())
                            + (m_snapshotClock.isValid() ? m_snapshotClock.elapsed() : 0)),
                 config.toHtmlEscaped()));
}

void DashboardView::showCounters(const QJsonObject &counters)
{
    for (auto it = m_values.cbegin(); it != m_values.cend(); ++it) {
        const QJsonValue value = counters.value(it.key());
        if (value.isUndefined())
            continue;
        const double number = value.toDouble();
        QString text;
        if (it.key().startsWith("bytes"_L1))
            text = JsonTableModel::formatBytes(qint64(number))
                + (it.key().endsWith("_per_s"_L1) ? u"/s"_s : QString());
        else if (it.key().endsWith("_per_s"_L1))
            text = QLocale().toString(number, 'f', 0);
        else
            text = QLocale().toString(qint64(number));
        it.value()->setText(text);
    }
    if (!m_server.isEmpty())
        showServer(m_server); // keeps the uptime current
    if (counters.contains(u"messages_in_per_s"_s)) {
        m_chart->addSample({counters.value(u"messages_in_per_s"_s).toDouble(),
                            counters.value(u"messages_out_per_s"_s).toDouble()});
    }
}

} // namespace Mtw
