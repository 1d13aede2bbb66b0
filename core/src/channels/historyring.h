// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QList>
#include <QVarLengthArray>

namespace Mtw::Internal {

// The history of one channel: the newest encoded envelopes, bounded by count, by bytes and by
// age. Entries are implicitly shared QByteArrays, so storing and reading them copies no message
// bytes. Not thread-safe: the registry guards it. Times are the registry's monotonic clock (ms).
class HistoryRing
{
public:
    // What a call pushed out; the caller drops the last references after leaving its lock.
    using Evicted = QVarLengthArray<QByteArray, 2>;

    // capacity: entries (0 = keep none); maxBytes: 0 = no byte bound; ttlMs: 0 = no expiry.
    explicit HistoryRing(int capacity = 0, qint64 maxBytes = 0, qint64 ttlMs = 0)
        : m_capacity(qMax(0, capacity))
        , m_maxBytes(qMax<qint64>(0, maxBytes))
        , m_ttlMs(qMax<qint64>(0, ttlMs))
    { }

    int capacity() const { return m_capacity; }
    qsizetype size() const { return m_count; }
    qint64 bytes() const { return m_bytes; }

    // Appends `item`, published as `offset` (greater than every stored offset), first pushing out
    // what the bounds require. An item larger than the byte bound on its own is not stored.
    void push(const QByteArray &item, quint64 offset, qint64 now, Evicted &evicted)
    {
        expire(now, evicted);
        if (m_capacity == 0 || (m_maxBytes > 0 && item.size() > m_maxBytes))
            return;
        while (m_count >= m_capacity || (m_maxBytes > 0 && m_bytes + item.size() > m_maxBytes))
            popFront(evicted);
        if (m_count == m_items.size())
            grow();
        Entry &slot = m_items[(m_head + m_count) % m_items.size()];
        slot.data = item;
        slot.at = now;
        slot.offset = offset;
        ++m_count;
        m_bytes += item.size();
    }

    // New bounds (a configuration reload): what they no longer allow is pushed out at once,
    // oldest first, and a smaller capacity gives its memory back. A larger one grows as used.
    void setBounds(int capacity, qint64 maxBytes, qint64 ttlMs, qint64 now, Evicted &evicted)
    {
        m_capacity = qMax(0, capacity);
        m_maxBytes = qMax<qint64>(0, maxBytes);
        m_ttlMs = qMax<qint64>(0, ttlMs);
        expire(now, evicted);
        while (m_count > m_capacity || (m_maxBytes > 0 && m_bytes > m_maxBytes))
            popFront(evicted);
        if (m_items.size() > m_capacity)
            repack(m_capacity);
    }

    // Drops the entries older than the TTL.
    void expire(qint64 now, Evicted &evicted)
    {
        if (m_ttlMs <= 0)
            return;
        while (m_count > 0 && now - m_items.at(m_head).at >= m_ttlMs)
            popFront(evicted);
    }

    // The newest min(count, size()) entries not older than the TTL at `now`, oldest first;
    // count <= 0 means all.
    QList<QByteArray> newest(qsizetype count, qint64 now) const
    {
        return select(0, 0, count, Window::Newest, now);
    }

    enum class Window {
        Oldest, // the first `count` entries after the offset
        Newest, // the last `count`
    };
    // Entries not older than the TTL with after < offset < before (before 0: no upper bound),
    // at most `count` of them (<= 0: all) from the chosen end of that range, oldest first.
    QList<QByteArray>
    select(quint64 after, quint64 before, qsizetype count, Window window, qint64 now) const
    {
        const qsizetype begin = lowerBound(firstLive(now), after + 1);
        const qsizetype end = before == 0 ? m_count : lowerBound(begin, before);
        qsizetype from = begin;
        qsizetype to = end;
        if (count > 0 && to - from > count) {
            if (window == Window::Oldest)
                to = from + count;
            else
                from = to - count;
        }
        QList<QByteArray> out;
        out.reserve(to - from);
        for (qsizetype i = from; i < to; ++i)
            out.append(entry(i).data);
        return out;
    }

    // The offset of the newest entry, expired or not; 0 when there is none.
    quint64 lastOffset() const { return m_count > 0 ? entry(m_count - 1).offset : 0; }

    // The offset of the oldest entry not older than the TTL; 0 when there is none.
    quint64 firstOffset(qint64 now) const
    {
        const qsizetype first = firstLive(now);
        return first < m_count ? entry(first).offset : 0;
    }

private:
    struct Entry
    {
        QByteArray data;
        qint64 at = 0;
        quint64 offset = 0;
    };

    const Entry &entry(qsizetype i) const { return m_items.at((m_head + i) % m_items.size()); }

    // The first index at or after `from` whose offset is at least `offset` (offsets grow with
    // the index, so a binary search).
    qsizetype lowerBound(qsizetype from, quint64 offset) const
    {
        qsizetype to = m_count;
        while (from < to) {
            const qsizetype mid = from + (to - from) / 2;
            if (entry(mid).offset < offset)
                from = mid + 1;
            else
                to = mid;
        }
        return from;
    }

    // The index of the oldest entry the TTL has not expired at `now` (m_count: none).
    qsizetype firstLive(qint64 now) const
    {
        qsizetype first = 0;
        while (m_ttlMs > 0 && first < m_count && now - entry(first).at >= m_ttlMs)
            ++first;
        return first;
    }

    void popFront(Evicted &evicted)
    {
        Entry &oldest = m_items[m_head];
        m_bytes -= oldest.data.size();
        evicted.append(std::move(oldest.data));
        oldest.data = QByteArray();
        m_head = (m_head + 1) % m_items.size();
        --m_count;
    }

    // Room for more entries, up to the capacity: the ring grows as a channel is used, so an
    // idle channel costs no history memory.
    void grow() { repack(qMin<qsizetype>(m_capacity, qMax<qsizetype>(4, m_items.size() * 2))); }

    // The entries moved to a buffer of `size` (at least m_count) slots, oldest first.
    void repack(qsizetype size)
    {
        QList<Entry> items(size);
        for (qsizetype i = 0; i < m_count; ++i)
            items[i] = std::move(m_items[(m_head + i) % m_items.size()]);
        m_items = std::move(items);
        m_head = 0;
    }

    QList<Entry> m_items; // a circular buffer; never shared, so writing never detaches
    qsizetype m_head = 0; // index of the oldest entry
    qsizetype m_count = 0;
    int m_capacity = 0;
    qint64 m_maxBytes = 0;
    qint64 m_ttlMs = 0;
    qint64 m_bytes = 0;
};

} // namespace Mtw::Internal
