// SPDX-License-Identifier: MIT
#include "ulid_p.h"

#include <mtw/ulid.h>

#include <QDateTime>
#include <QRandomGenerator>

#include <array>

namespace Mtw {

namespace {

constexpr char Alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr qsizetype UlidLength = 26;
constexpr qint64 MaxTimestamp = (qint64(1) << 48) - 1;

// Character -> 5-bit value for the canonical alphabet; -1 elsewhere.
constexpr std::array<qint8, 128> makeDecodeTable()
{
    std::array<qint8, 128> table{};
    for (auto &entry : table)
        entry = -1;
    for (int i = 0; i < 32; ++i)
        table[static_cast<unsigned char>(Alphabet[i])] = static_cast<qint8>(i);
    return table;
}
constexpr std::array<qint8, 128> DecodeTable = makeDecodeTable();

// The last id a thread made, so that the next one made in the same millisecond can follow it.
struct UlidState
{
    qint64 msecs = -1;
    quint16 randomHigh = 0; // top 16 of the 80 random bits
    quint64 randomLow = 0;  // low 64 of the 80 random bits
};
thread_local UlidState t_state;

void drawRandom(UlidState &state)
{
    QRandomGenerator *generator = QRandomGenerator::global();
    state.randomLow = generator->generate64();
    state.randomHigh = static_cast<quint16>(generator->generate());
}

} // namespace

QString Internal::generateUlid(qint64 msecsSinceEpoch)
{
    const qint64 now = qBound(qint64(0), msecsSinceEpoch, MaxTimestamp);
    UlidState &state = t_state;
    if (now > state.msecs) {
        state.msecs = now;
        drawRandom(state);
    } else if (++state.randomLow == 0 && ++state.randomHigh == 0) {
        // Same millisecond (or the clock stepped back) and the 80 random bits overflowed: move to
        // the next millisecond rather than break the order.
        state.msecs = qMin(state.msecs + 1, MaxTimestamp);
        drawRandom(state);
    }

    QString result(UlidLength, Qt::Uninitialized);
    QChar *out = result.data();
    // 10 characters hold the 48-bit timestamp (the top 2 of their 50 bits are zero).
    for (int i = 0; i < 10; ++i)
        *out++ = QLatin1Char(Alphabet[(state.msecs >> (45 - 5 * i)) & 31]);
    // 16 characters hold the 80 random bits: randomHigh:randomLow.
    for (int i = 0; i < 16; ++i) {
        const int shift = 75 - 5 * i;
        quint64 bits;
        if (shift >= 64)
            bits = quint64(state.randomHigh) >> (shift - 64);
        else if (shift > 59)
            bits = (quint64(state.randomHigh) << (64 - shift)) | (state.randomLow >> shift);
        else
            bits = state.randomLow >> shift;
        *out++ = QLatin1Char(Alphabet[bits & 31]);
    }
    return result;
}

QString generateUlid()
{
    return Internal::generateUlid(QDateTime::currentMSecsSinceEpoch());
}

bool isValidUlid(QStringView ulid)
{
    if (ulid.size() != UlidLength || ulid.front() > QLatin1Char('7'))
        return false;
    for (const QChar c : ulid) {
        if (c.unicode() >= DecodeTable.size() || DecodeTable[c.unicode()] < 0)
            return false;
    }
    return true;
}

qint64 ulidTimestamp(QStringView ulid)
{
    if (!isValidUlid(ulid))
        return -1;
    qint64 msecs = 0;
    for (qsizetype i = 0; i < 10; ++i)
        msecs = (msecs << 5) | DecodeTable[ulid[i].unicode()];
    return msecs;
}

} // namespace Mtw
