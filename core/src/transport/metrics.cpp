// SPDX-License-Identifier: MIT
#include "transport/metrics.h"

#include "agents/agentrunner.h"
#include "transport/servercontext.h"
#include "transport/worker.h"

#include <mtw/buildinfo.h>

#include <QString>

namespace Mtw::Internal {

namespace {

constexpr const char *DecisionNames[] = {"authenticate", "filter", "request"};

QByteArrayView disconnectName(size_t kind)
{
    switch (DisconnectReason::Kind(kind)) {
    case DisconnectReason::Kind::Normal:
        return "normal";
    case DisconnectReason::Kind::Timeout:
        return "timeout";
    case DisconnectReason::Kind::Error:
        return "error";
    case DisconnectReason::Kind::Kicked:
        return "kicked";
    case DisconnectReason::Kind::ServerShutdown:
        return "server_shutdown";
    }
    return "unknown";
}

class Writer
{
public:
    void family(QByteArrayView name, QByteArrayView type, QByteArrayView help)
    {
        m_out += "# HELP " + name.toByteArray() + ' ' + help.toByteArray() + "\n# TYPE "
            + name.toByteArray() + ' ' + type.toByteArray() + '\n';
    }
    void sample(QByteArrayView name, QByteArrayView labels, double value)
    {
        m_out += name.toByteArray();
        if (!labels.isEmpty())
            m_out += '{' + labels.toByteArray() + '}';
        m_out += ' ' + QByteArray::number(value, 'g', 17) + '\n';
    }
    void sample(QByteArrayView name, QByteArrayView labels, quint64 value)
    {
        m_out += name.toByteArray();
        if (!labels.isEmpty())
            m_out += '{' + labels.toByteArray() + '}';
        m_out += ' ' + QByteArray::number(value) + '\n';
    }
    // One histogram series: `labels` (may be empty) plus le; the buckets summed over workers.
    void histogram(QByteArrayView name,
                   QByteArrayView labels,
                   const QList<const LocalHistogram *> &parts)
    {
        quint64 cumulative = 0;
        quint64 sumNs = 0;
        quint64 count = 0;
        const QByteArray prefix = labels.isEmpty() ? QByteArray() : labels.toByteArray() + ',';
        for (size_t i = 0; i <= DurationBuckets.size(); ++i) {
            for (const LocalHistogram *h : parts)
                cumulative += h->buckets[i].value();
            const QByteArray le = i < DurationBuckets.size()
                ? QByteArray::number(DurationBuckets[i], 'g', 6)
                : QByteArray("+Inf");
            sample(name.toByteArray() + "_bucket", prefix + "le=\"" + le + '"', cumulative);
        }
        for (const LocalHistogram *h : parts) {
            sumNs += h->sumNs.value();
            count += h->count.value();
        }
        sample(name.toByteArray() + "_sum", labels, double(sumNs) / 1e9);
        sample(name.toByteArray() + "_count", labels, count);
    }
    QByteArray take() { return std::move(m_out); }

private:
    QByteArray m_out;
};

// The runner's per-agent counters (relaxed atomics of the agents' thread), read without a lock.
void renderAgentMetrics(Writer &out, const ServerContext &context)
{
    const AgentRunner *runner = context.agents;
    if (!runner)
        return;
    const auto &agents = runner->agentMetrics();
    const auto label = [](const AgentMetrics &m) { return "agent=\"" + m.name.toUtf8() + '"'; };
    const auto each = [&](const char *name, auto value) {
        for (const auto &m : agents)
            out.sample(name, label(*m), quint64(std::max<qint64>(0, value(*m))));
    };
    out.family("mtw_agent_tasks_running", "gauge", "Agent tasks talking to their provider now.");
    each("mtw_agent_tasks_running", [](const AgentMetrics &m) { return m.running.load(); });
    out.family("mtw_agent_tasks_queued", "gauge", "Agent tasks waiting for a running slot.");
    each("mtw_agent_tasks_queued", [](const AgentMetrics &m) { return m.queued.load(); });
    out.family("mtw_agent_tasks_total", "counter", "Agent tasks ended, by outcome.");
    for (const auto &m : agents) {
        out.sample("mtw_agent_tasks_total",
                   label(*m) + ",outcome=\"completed\"",
                   quint64(m->completed.load(std::memory_order_relaxed)));
        out.sample("mtw_agent_tasks_total",
                   label(*m) + ",outcome=\"failed\"",
                   quint64(m->failed.load(std::memory_order_relaxed)));
    }
    out.family("mtw_agent_input_tokens_total",
               "counter",
               "Input tokens the provider counted (its usage), by agent.");
    each("mtw_agent_input_tokens_total", [](const AgentMetrics &m) { return m.tokensIn.load(); });
    out.family("mtw_agent_output_tokens_total",
               "counter",
               "Output tokens the provider counted (its usage), by agent.");
    each("mtw_agent_output_tokens_total", [](const AgentMetrics &m) { return m.tokensOut.load(); });
    out.family("mtw_agent_provider_errors_total",
               "counter",
               "Provider calls that failed, by agent and kind.");
    for (const auto &m : agents) {
        for (size_t k = 0; k < size_t(ProviderErrorKind::Count); ++k) {
            out.sample("mtw_agent_provider_errors_total",
                       label(*m) + ",kind=\"" + providerErrorKindName(ProviderErrorKind(k)) + '"',
                       quint64(m->providerErrors[k].load(std::memory_order_relaxed)));
        }
    }
    out.family("mtw_agent_task_duration_seconds",
               "histogram",
               "Time an agent task ran (from its slot to its end), by agent.");
    for (const auto &m : agents) {
        quint64 cumulative = 0;
        for (size_t i = 0; i <= AgentDurationBuckets.size(); ++i) {
            cumulative += quint64(m->durationBuckets[i].load(std::memory_order_relaxed));
            const QByteArray le = i < AgentDurationBuckets.size()
                ? QByteArray::number(AgentDurationBuckets[i], 'g', 6)
                : QByteArray("+Inf");
            out.sample("mtw_agent_task_duration_seconds_bucket",
                       label(*m) + ",le=\"" + le + '"',
                       cumulative);
        }
        out.sample("mtw_agent_task_duration_seconds_sum",
                   label(*m),
                   double(m->durationSumUs.load(std::memory_order_relaxed)) / 1e6);
        out.sample("mtw_agent_task_duration_seconds_count",
                   label(*m),
                   quint64(m->durationCount.load(std::memory_order_relaxed)));
    }
}

} // namespace

void LocalHistogram::observe(std::chrono::nanoseconds duration)
{
    const double seconds = double(duration.count()) / 1e9;
    size_t bucket = 0;
    while (bucket < DurationBuckets.size() && seconds > DurationBuckets[bucket])
        ++bucket;
    buckets[bucket].add();
    sumNs.add(quint64(std::max<qint64>(0, duration.count())));
    count.add();
}

void WorkerMetrics::countError(int code)
{
    size_t i = 0;
    while (i + 1 < CountedErrorCodes.size() && CountedErrorCodes[i] != code)
        ++i;
    errors[i].add();
}

TrafficTotals trafficTotals(const ServerContext &context)
{
    TrafficTotals totals;
    for (const Worker *worker : context.workers) {
        const WorkerMetrics &m = worker->metrics();
        totals.messagesIn += m.framesIn.value();
        totals.messagesOut += m.framesOut.value();
        totals.bytesIn += m.bytesIn.value();
        totals.bytesOut += m.bytesOut.value();
    }
    return totals;
}

QByteArray renderMetrics(const ServerContext &context)
{
    QList<const WorkerMetrics *> workers;
    int connections = 0;
    for (const Worker *worker : context.workers) {
        workers.append(&worker->metrics());
        connections += worker->connectionCount();
    }
    const auto sum = [&workers](auto member) {
        quint64 total = 0;
        for (const WorkerMetrics *w : std::as_const(workers))
            total += member(*w).value();
        return total;
    };
    const QList<ChannelInfo> channels = context.registry.channels();
    quint64 subscriptions = 0;
    for (const ChannelInfo &channel : channels)
        subscriptions += quint64(channel.members);

    Writer out;
    out.family("mtw_build_info", "gauge", "The running version.");
    out.sample("mtw_build_info", "version=\"" + versionString().toUtf8() + '"', quint64(1));
    out.family("mtw_connections",
               "gauge",
               "Upgraded WebSocket connections and SSE streams on this node.");
    out.sample("mtw_connections", {}, quint64(connections));
    out.family("mtw_connections_total",
               "counter",
               "WebSocket connections and SSE streams accepted since start.");
    out.sample("mtw_connections_total",
               {},
               quint64(context.counters.connectionsTotal.load(std::memory_order_relaxed)));
    out.family("mtw_subscriptions", "gauge", "Channel memberships on this node.");
    out.sample("mtw_subscriptions", {}, subscriptions);
    out.family("mtw_channels", "gauge", "Channels that exist on this node.");
    out.sample("mtw_channels", {}, quint64(channels.size()));

    out.family("mtw_messages_received_total",
               "counter",
               "Messages received from clients, by type.");
    for (size_t t = 0; t <= MessageTypeCount; ++t) {
        const QByteArray type = t < MessageTypeCount
            ? QByteArray(messageTypeName(MessageType(t)).data())
            : QByteArray("invalid");
        out.sample(
            "mtw_messages_received_total",
            "type=\"" + type + '"',
            sum([t](const WorkerMetrics &w) -> const LocalCounter & { return w.messagesIn[t]; }));
    }
    out.family("mtw_messages_sent_total", "counter", "Messages sent to clients, by type.");
    for (size_t t = 0; t < MessageTypeCount; ++t) {
        out.sample(
            "mtw_messages_sent_total",
            "type=\"" + QByteArray(messageTypeName(MessageType(t)).data()) + '"',
            sum([t](const WorkerMetrics &w) -> const LocalCounter & { return w.messagesOut[t]; }));
    }
    out.family("mtw_received_bytes_total", "counter", "Message bytes received from clients.");
    out.sample("mtw_received_bytes_total",
               {},
               sum([](const WorkerMetrics &w) -> const LocalCounter & { return w.bytesIn; }));
    out.family("mtw_sent_bytes_total", "counter", "Bytes queued to clients (WebSocket frames).");
    out.sample("mtw_sent_bytes_total", {}, sum([](const WorkerMetrics &w) -> const LocalCounter & {
                   return w.bytesOut;
               }));
    out.family("mtw_errors_total", "counter", "Error messages sent to clients, by code.");
    for (size_t i = 0; i < CountedErrorCodes.size(); ++i) {
        const QByteArray code =
            CountedErrorCodes[i] ? QByteArray::number(CountedErrorCodes[i]) : QByteArray("other");
        out.sample(
            "mtw_errors_total",
            "code=\"" + code + '"',
            sum([i](const WorkerMetrics &w) -> const LocalCounter & { return w.errors[i]; }));
    }
    out.family("mtw_disconnects_total",
               "counter",
               "Closed WebSocket connections and SSE streams, by reason.");
    for (size_t k = 0; k < DisconnectKindCount; ++k) {
        out.sample(
            "mtw_disconnects_total",
            "reason=\"" + disconnectName(k).toByteArray() + '"',
            sum([k](const WorkerMetrics &w) -> const LocalCounter & { return w.disconnects[k]; }));
    }
    out.family("mtw_slow_consumer_drops_total",
               "counter",
               "Connections dropped because their queue was full.");
    out.sample("mtw_slow_consumer_drops_total",
               {},
               sum([](const WorkerMetrics &w) -> const LocalCounter & { return w.slowConsumers; }));
    out.family("mtw_rate_limited_total", "counter", "Messages refused with 429 by the rate limit.");
    out.sample("mtw_rate_limited_total",
               {},
               quint64(context.counters.rateLimited.load(std::memory_order_relaxed)));
    out.family("mtw_http_api_requests_total", "counter", "Server API requests answered.");
    out.sample("mtw_http_api_requests_total",
               {},
               sum([](const WorkerMetrics &w) -> const LocalCounter & { return w.httpRequests; }));

    out.family("mtw_command_duration_seconds",
               "histogram",
               "Time a message's handler took on its worker, by type (asynchronous answers, "
               "such as a cluster broker's, not included).");
    for (size_t t = 0; t < MessageTypeCount; ++t) {
        QList<const LocalHistogram *> parts;
        for (const WorkerMetrics *w : std::as_const(workers))
            parts.append(&w->commandDuration[t]);
        out.histogram("mtw_command_duration_seconds",
                      "type=\"" + QByteArray(messageTypeName(MessageType(t)).data()) + '"',
                      parts);
    }
    {
        QList<const LocalHistogram *> parts;
        for (const WorkerMetrics *w : std::as_const(workers))
            parts.append(&w->broadcastDuration);
        out.family("mtw_broadcast_duration_seconds",
                   "histogram",
                   "Time of one publish on this node: offset, history, delivery to the "
                   "publishing worker's members, queues for the others.");
        out.histogram("mtw_broadcast_duration_seconds", {}, parts);
    }
    out.family("mtw_module_decision_duration_seconds",
               "histogram",
               "Time from asking a module for a decision to its answer, by kind.");
    for (size_t k = 0; k < size_t(DecisionKind::Count); ++k) {
        QList<const LocalHistogram *> parts;
        for (const WorkerMetrics *w : std::as_const(workers))
            parts.append(&w->decisionDuration[k]);
        out.histogram("mtw_module_decision_duration_seconds",
                      QByteArray("kind=\"") + DecisionNames[k] + '"',
                      parts);
    }
    out.family("mtw_module_decision_timeouts_total",
               "counter",
               "Module decisions not answered within server.decision_timeout_ms, by kind.");
    for (size_t k = 0; k < size_t(DecisionKind::Count); ++k) {
        out.sample("mtw_module_decision_timeouts_total",
                   QByteArray("kind=\"") + DecisionNames[k] + '"',
                   sum([k](const WorkerMetrics &w) -> const LocalCounter & {
                       return w.decisionTimeouts[k];
                   }));
    }
    renderAgentMetrics(out, context);
    return out.take();
}

} // namespace Mtw::Internal
