// SPDX-License-Identifier: MIT
// A log-linear latency histogram (HdrHistogram-like): exact below 256 ns, then 128 buckets per
// power of two, so every percentile is within 0.8% of the true value. One per thread, merged at
// the end; adding a sample is a few instructions and never allocates.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace MtwBench {

class Histogram
{
public:
    Histogram()
        : m_counts(BucketCount, 0)
    { }

    void add(int64_t value)
    {
        const uint64_t v = value < 0 ? 0 : static_cast<uint64_t>(value);
        ++m_counts[index(v)];
        ++m_total;
        m_sum += v;
        m_max = std::max(m_max, v);
        m_min = std::min(m_min, v);
    }

    void merge(const Histogram &other)
    {
        for (size_t i = 0; i < BucketCount; ++i)
            m_counts[i] += other.m_counts[i];
        m_total += other.m_total;
        m_sum += other.m_sum;
        m_max = std::max(m_max, other.m_max);
        m_min = std::min(m_min, other.m_min);
    }

    uint64_t count() const { return m_total; }
    uint64_t max() const { return m_total ? m_max : 0; }
    uint64_t min() const { return m_total ? m_min : 0; }
    double mean() const { return m_total ? double(m_sum) / double(m_total) : 0.0; }

    // The value at quantile q (0..1): the middle of the bucket holding that rank, capped at max.
    uint64_t percentile(double q) const
    {
        if (m_total == 0)
            return 0;
        uint64_t rank = static_cast<uint64_t>(q * double(m_total) + 0.5);
        rank = std::clamp<uint64_t>(rank, 1, m_total);
        uint64_t seen = 0;
        for (size_t i = 0; i < BucketCount; ++i) {
            seen += m_counts[i];
            if (seen >= rank)
                return std::clamp(middle(i), min(), max());
        }
        return m_max;
    }

private:
    static constexpr size_t Exact = 256;
    static constexpr int SubBits = 7;
    static constexpr size_t BucketCount = Exact + (64 - 8) * (size_t(1) << SubBits);

    static size_t index(uint64_t v)
    {
        if (v < Exact)
            return static_cast<size_t>(v);
        const int msb = 63 - std::countl_zero(v);
        const int shift = msb - SubBits;
        const size_t sub = (v >> shift) & ((size_t(1) << SubBits) - 1);
        return Exact + size_t(msb - 8) * (size_t(1) << SubBits) + sub;
    }

    static uint64_t middle(size_t i)
    {
        if (i < Exact)
            return i;
        const size_t k = i - Exact;
        const int msb = int(k >> SubBits) + 8;
        const int shift = msb - SubBits;
        const uint64_t sub = k & ((size_t(1) << SubBits) - 1);
        const uint64_t low = ((uint64_t(1) << SubBits) | sub) << shift;
        return low + (uint64_t(1) << shift) / 2;
    }

    std::vector<uint64_t> m_counts;
    uint64_t m_total = 0;
    uint64_t m_sum = 0;
    uint64_t m_max = 0;
    uint64_t m_min = UINT64_MAX;
};

} // namespace MtwBench
