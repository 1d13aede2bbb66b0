// SPDX-License-Identifier: MIT
#include "protocol/ulid_p.h"

#include <mtw/ulid.h>

#include <QDateTime>
#include <QSet>
#include <QTest>

#include <thread>
#include <vector>

using namespace Mtw;

namespace {

const QLatin1String Alphabet("0123456789ABCDEFGHJKMNPQRSTVWXYZ");

// The 80 random bits of a ULID as (high 16, low 64).
std::pair<quint64, quint64> randomPart(const QString &ulid)
{
    quint64 high = 0;
    quint64 low = 0;
    for (qsizetype i = 10; i < 26; ++i) {
        const auto value = quint64(Alphabet.indexOf(ulid.at(i)));
        high = (high << 5) | (low >> 59);
        low = (low << 5) | value;
    }
    return {high, low};
}

// Calls Internal::generateUlid() with each clock reading on a new thread, which starts with no
// previous ULID (the generator's state is per thread). Checks happen on the test thread.
// std::thread, joined: ThreadSanitizer sees join(), not the Qt-internal QThread::wait().
QStringList generateOnNewThread(const QList<qint64> &clockReadings)
{
    QStringList ulids;
    std::thread thread([&] {
        for (const qint64 msecs : clockReadings)
            ulids.append(Internal::generateUlid(msecs));
    });
    thread.join();
    return ulids;
}

} // namespace

class tst_Ulid : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void format();
    void timestampRoundTrip();
    void uniqueAndSorted();
    void incrementsWithinMillisecond();
    void clockSteppingBack();
    void threads();
    void isValid_data();
    void isValid();
    void knownTimestamps_data();
    void knownTimestamps();
};

void tst_Ulid::format()
{
    for (int i = 0; i < 1000; ++i) {
        const QString ulid = generateUlid();
        QCOMPARE(ulid.size(), 26);
        for (const QChar c : ulid)
            QVERIFY2(Alphabet.contains(c), qPrintable(ulid));
        QVERIFY(ulid.at(0) <= QLatin1Char('7'));
        QVERIFY(isValidUlid(ulid));
    }
}

void tst_Ulid::timestampRoundTrip()
{
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    const QString ulid = generateUlid();
    const qint64 after = QDateTime::currentMSecsSinceEpoch();
    const qint64 stamp = ulidTimestamp(ulid);
    QVERIFY2(stamp >= before && stamp <= after, qPrintable(QString::number(stamp)));

    const QStringList spec = generateOnNewThread({1469918176385, 0});
    QCOMPARE(ulidTimestamp(spec.at(0)), qint64(1469918176385));
    QVERIFY(spec.at(0).startsWith(QLatin1String("01ARYZ6S41")));
    QCOMPARE(ulidTimestamp(spec.at(1)), qint64(1469918176385)); // the clock went back: monotonic
    QVERIFY(spec.at(1) > spec.at(0));

    const QStringList zero = generateOnNewThread({0});
    QCOMPARE(ulidTimestamp(zero.at(0)), qint64(0));
    QVERIFY(zero.at(0).startsWith(QLatin1String("0000000000")));
}

void tst_Ulid::uniqueAndSorted()
{
    constexpr int Count = 100000;
    QSet<QString> seen;
    seen.reserve(Count);
    QString previous;
    for (int i = 0; i < Count; ++i) {
        const QString ulid = generateUlid();
        QVERIFY2(ulid > previous, qPrintable(previous + QLatin1String(" then ") + ulid));
        seen.insert(ulid);
        previous = ulid;
    }
    QCOMPARE(seen.size(), Count);
}

void tst_Ulid::incrementsWithinMillisecond()
{
    const qint64 ms = 1711843200000;
    QList<qint64> readings(1001, ms);
    readings.append(ms + 1);
    const QStringList ulids = generateOnNewThread(readings);
    QCOMPARE(ulids.size(), readings.size());
    for (qsizetype i = 1; i < 1001; ++i) {
        const QString &ulid = ulids.at(i);
        const QString &previous = ulids.at(i - 1);
        QCOMPARE(ulidTimestamp(ulid), ms);
        QVERIFY(ulid > previous);
        const auto [high, low] = randomPart(ulid);
        const auto [previousHigh, previousLow] = randomPart(previous);
        // The random part goes up by one (with a carry into the high bits).
        QCOMPARE(low, previousLow + 1);
        QCOMPARE(high, previousLow + 1 == 0 ? previousHigh + 1 : previousHigh);
    }
    // A new millisecond draws new random bits.
    QCOMPARE(ulidTimestamp(ulids.last()), ms + 1);
    QVERIFY(ulids.last() > ulids.at(1000));
}

void tst_Ulid::clockSteppingBack()
{
    const QStringList ulids = generateOnNewThread({1711843200500, 1711843200000, 1711843200501});
    QVERIFY(ulids.at(1) > ulids.at(0));
    QCOMPARE(ulidTimestamp(ulids.at(1)), qint64(1711843200500)); // the clock went back 500 ms
    QVERIFY(ulids.at(2) > ulids.at(1));
    QCOMPARE(ulidTimestamp(ulids.at(2)), qint64(1711843200501));
}

void tst_Ulid::threads()
{
    constexpr int Threads = 4;
    constexpr int PerThread = 20000;
    QList<QStringList> results(Threads);
    std::vector<std::thread> threads; // joined: see generateOnNewThread()
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([&list = results[t]] {
            list.reserve(PerThread);
            for (int i = 0; i < PerThread; ++i)
                list.append(generateUlid());
        });
    }
    for (std::thread &thread : threads)
        thread.join();

    QSet<QString> all;
    for (const QStringList &list : results) {
        QCOMPARE(list.size(), PerThread);
        for (qsizetype i = 1; i < list.size(); ++i)
            QVERIFY(list.at(i) > list.at(i - 1));
        for (const QString &ulid : list)
            all.insert(ulid);
    }
    QCOMPARE(all.size(), Threads * PerThread);
}

void tst_Ulid::isValid_data()
{
    QTest::addColumn<QString>("ulid");
    QTest::addColumn<bool>("valid");

    QTest::newRow("spec example") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FAV") << true;
    QTest::newRow("zero") << QStringLiteral("00000000000000000000000000") << true;
    QTest::newRow("maximum") << QStringLiteral("7ZZZZZZZZZZZZZZZZZZZZZZZZZ") << true;
    QTest::newRow("timestamp overflow") << QStringLiteral("8ZZZZZZZZZZZZZZZZZZZZZZZZZ") << false;
    QTest::newRow("lower case") << QStringLiteral("01arz3ndektsv4rrffq69g5fav") << false;
    QTest::newRow("letter I") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FAI") << false;
    QTest::newRow("letter L") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FAL") << false;
    QTest::newRow("letter O") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FAO") << false;
    QTest::newRow("letter U") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FAU") << false;
    QTest::newRow("25 chars") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FA") << false;
    QTest::newRow("27 chars") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FAV0") << false;
    QTest::newRow("empty") << QString() << false;
    QTest::newRow("non-ascii") << QStringLiteral("01ARZ3NDEKTSV4RRFFQ69G5FA\u00c9") << false;
}

void tst_Ulid::isValid()
{
    QFETCH(QString, ulid);
    QFETCH(bool, valid);
    QCOMPARE(isValidUlid(ulid), valid);
    QCOMPARE(ulidTimestamp(ulid) >= 0, valid);
}

void tst_Ulid::knownTimestamps_data()
{
    QTest::addColumn<QString>("ulid");
    QTest::addColumn<qint64>("timestamp");
    QTest::newRow("spec") << QStringLiteral("01ARYZ6S41TSV4RRFFQ69G5FAV") << qint64(1469918176385);
    QTest::newRow("zero") << QStringLiteral("00000000000000000000000000") << qint64(0);
    QTest::newRow("maximum") << QStringLiteral("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
                             << qint64(281474976710655);
    QTest::newRow("invalid") << QStringLiteral("not a ulid") << qint64(-1);
}

void tst_Ulid::knownTimestamps()
{
    QFETCH(QString, ulid);
    QFETCH(qint64, timestamp);
    QCOMPARE(ulidTimestamp(ulid), timestamp);
}

QTEST_GUILESS_MAIN(tst_Ulid)
#include "tst_ulid.moc"
