// SPDX-License-Identifier: MIT
#pragma once

#include <mtw/disconnectreason.h>
#include <mtw/message.h>

#include <QByteArray>

#include <array>
#include <atomic>
#include <chrono>

namespace Mtw::Internal {

class ServerContext;

// A counter that one thread writes and any thread reads: a relaxed load and store, no lock and
// no read-modify-write instruction on the hot path. Only its own worker writes it.
class LocalCounter
{
public:
    void add(quint64 n = 1)
    {
        m_value.store(m_value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    quint64 value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<quint64> m_value{0};
};

// Upper bounds of the duration histograms, in seconds (Prometheus `le`), then +Inf.
inline constexpr std::array<double, 12>
    DurationBuckets{0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};

class LocalHistogram
{
public:
    void observe(std::chrono::nanoseconds duration);

    std::array<LocalCounter, DurationBuckets.size() + 1> buckets; // not cumulative; last: +Inf
    LocalCounter sumNs;
    LocalCounter count;
};

inline constexpr size_t MessageTypeCount = size_t(MessageType::Ack) + 1;
// Error codes counted by value; any other code is counted as "other".
inline constexpr std::array<int, 12>
    CountedErrorCodes{400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 0};
inline constexpr size_t DisconnectKindCount = size_t(DisconnectReason::Kind::ServerShutdown) + 1;

// Module decisions by kind (ModuleCalls::ask's `what`).
enum class DecisionKind { Authenticate, Filter, Request, Count };

// What one I/O worker counts (docs/metrics.md). Written only by its worker's thread, read by
// the scrape from any worker's thread, summed over the workers.
struct WorkerMetrics
{
    std::array<LocalCounter, MessageTypeCount + 1> messagesIn; // by type; last: undecodable
    std::array<LocalCounter, MessageTypeCount> messagesOut;    // by type; fan-out is publish
    LocalCounter bytesIn;
    LocalCounter bytesOut;
    LocalCounter framesIn;  // every message read (the admin API's messages_in)
    LocalCounter framesOut; // every message written (its messages_out)
    std::array<LocalCounter, CountedErrorCodes.size()> errors; // error messages sent, by code
    std::array<LocalCounter, DisconnectKindCount> disconnects;
    LocalCounter slowConsumers;
    LocalCounter httpRequests;                                    // server API requests answered
    std::array<LocalHistogram, MessageTypeCount> commandDuration; // a handler's own time
    LocalHistogram broadcastDuration; // a publish: registry, history, local delivery
    std::array<LocalHistogram, size_t(DecisionKind::Count)> decisionDuration;
    std::array<LocalCounter, size_t(DecisionKind::Count)> decisionTimeouts;

    void countError(int code);
};

// The admin API's running totals, summed over the workers.
struct TrafficTotals
{
    quint64 messagesIn = 0;
    quint64 messagesOut = 0;
    quint64 bytesIn = 0;
    quint64 bytesOut = 0;
};
TrafficTotals trafficTotals(const ServerContext &context);

// The Prometheus text exposition (format 0.0.4) of the whole server: gauges read now, the
// workers' counters summed.
QByteArray renderMetrics(const ServerContext &context);

} // namespace Mtw::Internal
