// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QList>

#include <utility>

namespace Mtw::Internal {

// The last `capacity` encoded envelopes of a channel. Entries are implicitly shared QByteArrays,
// so storing and reading them copies no message bytes. Not thread-safe: the registry guards it.
class HistoryRing
{
public:
    explicit HistoryRing(int capacity = 0)
        : m_capacity(qMax(0, capacity))
    { }

    int capacity() const { return m_capacity; }
    qsizetype size() const { return m_items.size(); }

    // Returns the entry pushed out, if any, so that the caller can drop the last reference to it
    // after leaving its critical section.
    [[nodiscard]] QByteArray push(const QByteArray &item)
    {
        if (m_capacity == 0)
            return {};
        if (m_items.size() < m_capacity) {
            m_items.append(item);
            return {};
        }
        QByteArray evicted = std::exchange(m_items[m_oldest], item);
        m_oldest = (m_oldest + 1) % m_capacity;
        return evicted;
    }

    // The newest min(count, size()) entries, oldest first; count <= 0 means all.
    QList<QByteArray> newest(qsizetype count) const
    {
        const qsizetype stored = m_items.size();
        if (count <= 0 || count > stored)
            count = stored;
        QList<QByteArray> out;
        out.reserve(count);
        for (qsizetype i = stored - count; i < stored; ++i)
            out.append(m_items.at((m_oldest + i) % stored));
        return out;
    }

private:
    QList<QByteArray> m_items; // never copied, so writing into it never detaches
    qsizetype m_oldest = 0;    // index of the oldest entry once the ring is full
    int m_capacity = 0;
};

} // namespace Mtw::Internal
