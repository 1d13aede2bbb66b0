// SPDX-License-Identifier: MIT
#include "dashboardview.h"

#include "adminclient.h"
#include "jsontablemodel.h"
#include "metricchart.h"

#include <QComboBox>
#include <QDateTime>
#include <QFrame>
#include <QGridLayout>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
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
    , m_serverLabel(new QLabel(this))
{
    auto *layout = new QVBoxLayout(this);
    m_serverLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_serverLabel->setWordWrap(true);
    layout->addWidget(m_serverLabel);
    m_welcome = makeWelcome();
    layout->addWidget(m_welcome);

    m_cards = new QWidget(this);
    auto *grid = new QGridLayout(m_cards);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setSpacing(8);
    int i = 0;
    for (const CardSpec &card : cards) {
        grid->addWidget(makeCard(QString::fromUtf16(card.key), tr(card.title)), i / 4, i % 4);
        ++i;
    }
    layout->addWidget(m_cards);

    layout->addWidget(makeCharts(), 1);
    // The first-run screen keeps its content at the top when there are no charts yet.
    layout->addStretch(0);

    connect(client, &AdminClient::snapshotReceived, this, [this](const QJsonObject &server) {
        // The session's history stays across reconnections to the same server.
        if (m_client->url() != m_chartedUrl) {
            for (MetricChart *chart : std::as_const(m_charts))
                chart->clear();
            m_chartedUrl = m_client->url();
        }
        m_server = server;
        m_snapshotClock.start();
        m_welcome->hide();
        m_cards->show();
        m_chartArea->show();
        showServer(server);
    });
    connect(client, &AdminClient::countersChanged, this, &DashboardView::showCounters);
    connect(client, &AdminClient::stateChanged, this, [this](AdminClient::State state) {
        if (state == AdminClient::State::Disconnected)
            showDisconnected();
    });
    showDisconnected();
}

QWidget *DashboardView::makeCharts()
{
    m_range = new QComboBox(this);
    m_range->addItem(tr("Last minute"), 60 * 1000);
    m_range->addItem(tr("Last 10 minutes"), 10 * 60 * 1000);
    m_range->addItem(tr("Last hour"), 3600 * 1000);
    m_range->addItem(tr("Whole session"), 0);
    auto *rangeLabel = new QLabel(tr("Charts &show:"), this);
    rangeLabel->setBuddy(m_range);
    m_chartArea = new QWidget(this);
    auto *chartLayout = new QVBoxLayout(m_chartArea);
    chartLayout->setContentsMargins(0, 0, 0, 0);
    auto *rangeRow = new QHBoxLayout;
    rangeRow->addWidget(rangeLabel);
    rangeRow->addWidget(m_range);
    rangeRow->addStretch(1);
    chartLayout->addLayout(rangeRow);

    using Unit = MetricChart::Unit;
    const struct
    {
        QString title;
        Unit unit;
        QColor color;
    } specs[] = {
        {tr("Messages in"), Unit::PerSecond, QColor(0x1f, 0x77, 0xb4)},
        {tr("Messages out"), Unit::PerSecond, QColor(0xe0, 0x6c, 0x00)},
        {tr("Connections"), Unit::Count, QColor(0x2c, 0xa0, 0x2c)},
        {tr("Bytes in"), Unit::BytesPerSecond, QColor(0x17, 0xbe, 0xcf)},
        {tr("Bytes out"), Unit::BytesPerSecond, QColor(0xd6, 0x27, 0x28)},
        {tr("Subscriptions"), Unit::Count, QColor(0x94, 0x67, 0xbd)},
    };
    auto *charts = new QGridLayout;
    charts->setSpacing(8);
    for (const auto &spec : specs) {
        auto *chart = new MetricChart(spec.title, spec.unit, spec.color, this);
        charts->addWidget(chart, int(m_charts.size()) / 3, int(m_charts.size()) % 3);
        m_charts.append(chart);
    }
    chartLayout->addLayout(charts, 1);
    connect(m_range, &QComboBox::currentIndexChanged, this, [this] {
        for (MetricChart *chart : std::as_const(m_charts))
            chart->setRange(m_range->currentData().toLongLong());
    });
    return m_chartArea;
}

QWidget *DashboardView::makeWelcome()
{
    auto *panel = new QWidget(this);
    auto *layout = new QVBoxLayout(panel);
    auto *text = new QLabel(
        tr("<h2>Welcome to mtwadmin</h2><p>mtwadmin watches and steers an mtwserver: its "
           "connections, channels, modules, log and configuration. Start one of two ways:</p>"),
        panel);
    text->setWordWrap(true);
    layout->addWidget(text);
    const auto addChoice = [&](QPushButton *button, const QString &explanation) {
        button->setMinimumHeight(button->sizeHint().height() * 3 / 2);
        auto *row = new QHBoxLayout;
        row->addWidget(button);
        auto *label = new QLabel(explanation, panel);
        label->setWordWrap(true);
        row->addWidget(label, 1);
        layout->addLayout(row);
    };
    m_runButton = new QPushButton(tr("&Run a Server Here…"), panel);
    m_connectButton = new QPushButton(tr("C&onnect to a Server…"), panel);
    const int width =
        std::max(m_runButton->sizeHint().width(), m_connectButton->sizeHint().width()) + 24;
    m_runButton->setMinimumWidth(width);
    m_connectButton->setMinimumWidth(width);
    addChoice(m_runButton,
              tr("Start mtwserver inside this app, with a config file or the built-in defaults "
                 "(File → Run Server Here, Ctrl+R). Its clients are closed when mtwadmin "
                 "quits."));
    addChoice(m_connectButton,
              tr("Attach to a running mtwserver through its admin API: ws://host:port/admin and "
                 "the admin token (File → Connect to Server, Ctrl+O)."));
    connect(m_runButton, &QPushButton::clicked, this, &DashboardView::runRequested);
    connect(m_connectButton, &QPushButton::clicked, this, &DashboardView::connectRequested);
    return panel;
}

void DashboardView::showDisconnected()
{
    m_server = {};
    for (QLabel *value : std::as_const(m_values))
        value->setText(u"–"_s);
    const bool history = !m_charts.isEmpty() && m_charts.constFirst()->sampleCount() > 0;
    m_serverLabel->setText(history ? tr("Not connected. The charts keep this session's history.")
                                   : QString());
    m_serverLabel->setVisible(history);
    m_welcome->show();
    m_cards->hide();
    m_chartArea->setVisible(history);
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
    m_serverLabel->show();
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
    if (counters.contains(u"messages_in_per_s"_s))
        addSample(QDateTime::currentMSecsSinceEpoch(), counters);
}

void DashboardView::addSample(qint64 msecsSinceEpoch, const QJsonObject &counters)
{
    m_chartArea->show();
    static const char *const keys[] = {"messages_in_per_s",
                                       "messages_out_per_s",
                                       "connections",
                                       "bytes_in_per_s",
                                       "bytes_out_per_s",
                                       "subscriptions"};
    for (int i = 0; i < MetricCount; ++i)
        m_charts.at(i)->addSample(msecsSinceEpoch,
                                  counters.value(QLatin1String(keys[i])).toDouble());
}

} // namespace Mtw
