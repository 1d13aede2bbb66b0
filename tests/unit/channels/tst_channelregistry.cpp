// SPDX-License-Identifier: MIT
#include "channels/channelpattern.h"
#include "channels/channelregistry.h"

#include <QDeadlineTimer>
#include <QSet>
#include <QTest>
#include <QThread>

#include <atomic>
#include <latch>
#include <memory>
#include <vector>

using namespace Mtw;
using namespace Mtw::Internal;

namespace {

constexpr int kWorkers = 4;

Member member(quint64 key, int worker, const QString &userId = QString())
{
    return Member{key, QStringLiteral("conn-%1").arg(key), userId, worker};
}

ChannelConfig entry(const QString &name)
{
    ChannelConfig c;
    c.name = name;
    return c;
}

Config registryConfig()
{
    Config config;
    ChannelConfig vip = entry(QStringLiteral("vip"));
    vip.maxMembers = 2;
    ChannelConfig secure = entry(QStringLiteral("secure.*"));
    secure.auth = true;
    ChannelConfig ring = entry(QStringLiteral("ring.*"));
    ring.history = 3;
    ChannelConfig nohist = entry(QStringLiteral("nohist"));
    nohist.history = 0;
    ChannelConfig room = entry(QStringLiteral("room.*"));
    room.presence = true;
    ChannelConfig limited = entry(QStringLiteral("limited.*"));
    limited.maxMembers = 10;
    ChannelConfig stress = entry(QStringLiteral("stress.*"));
    stress.history = 1000000;
    ChannelConfig media = entry(QStringLiteral("media"));
    media.codec = QStringLiteral("binary");
    config.channels =
        {entry(QStringLiteral("lobby")), vip, secure, ring, nohist, room, limited, stress, media};
    return config;
}

// A sink that keeps the envelope as given (the tests compare stored bytes) and counts routes.
struct RawSink final : PublishSink
{
    QByteArray envelope;
    QList<PublishOutcome> routed;
    QByteArray encode(const StreamPosition &) override { return envelope; }
    void route(const PublishOutcome &outcome) override { routed.append(outcome); }
};

Result<PublishOutcome> publishRaw(ChannelRegistry &registry,
                                  const QString &channel,
                                  quint64 sender,
                                  bool authenticated,
                                  const QByteArray &envelope)
{
    RawSink sink;
    sink.envelope = envelope;
    return registry.publish(channel, sender, authenticated, sink);
}

QByteArray msg(int i)
{
    return "m" + QByteArray::number(i);
}

QList<QByteArray> msgs(int from, int to)
{
    QList<QByteArray> out;
    for (int i = from; i <= to; ++i)
        out.append(msg(i));
    return out;
}

// For QVERIFY2, which evaluates its message even when the check passes.
template<typename T>
QByteArray errorOf(const Result<T> &result)
{
    return result.has_value() ? QByteArray() : result.error().message.toUtf8();
}

QStringList names(const QList<ChannelInfo> &infos)
{
    QStringList out;
    for (const ChannelInfo &info : infos)
        out.append(info.name);
    return out;
}

} // namespace

class tst_ChannelRegistry : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void precreatesExactChannels();
    void subscribeUnsubscribeCounts();
    void idempotentResubscribe();
    void subscribeErrors_data();
    void subscribeErrors();
    void failedSubscribeCreatesNothing();
    void publishErrors_data();
    void publishErrors();
    void publishToConfiguredChannelWithoutMembers();
    void channelOutlivesItsMembers();
    void recipientsExcludeSender_data();
    void recipientsExcludeSender();
    void subscribeWorkerMask();
    void publishWorkerMask_data();
    void publishWorkerMask();
    void unsubscribeWorkerMask();
    void historyRing_data();
    void historyRing();
    void historyOnSubscribe_data();
    void historyOnSubscribe();
    void historyErrors();
    void presence();
    void binaryFlag();
    void channelsSorted();
    void concurrentHammer();
    void concurrentMaxMembers();
    void reconfigureLimitsAndHistory();
    void reconfigurePatternsAndExactNames();
    void reconfigureWhilePublishing();
};

void tst_ChannelRegistry::precreatesExactChannels()
{
    const ChannelRegistry registry(registryConfig(), kWorkers);
    QCOMPARE(registry.channelCount(), 4);
    QCOMPARE(names(registry.channels()),
             QStringList({QStringLiteral("lobby"),
                          QStringLiteral("media"),
                          QStringLiteral("nohist"),
                          QStringLiteral("vip")}));
    QVERIFY(registry.settings(QStringLiteral("vip")).has_value());
    QCOMPARE(registry.settings(QStringLiteral("vip"))->maxMembers, 2);
    QVERIFY(!registry.settings(QStringLiteral("room.a")).has_value()); // pattern only
    QVERIFY(!registry.settings(QStringLiteral("secure.*")).has_value());
}

void tst_ChannelRegistry::subscribeUnsubscribeCounts()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString chat = QStringLiteral("chat.general");
    for (int i = 1; i <= 3; ++i) {
        const auto r = registry.subscribe(chat, member(i, 0), false, 0);
        QVERIFY2(r.has_value(), errorOf(r).constData());
        QCOMPARE(r->members, i);
        QCOMPARE(r->alreadyMember, false);
    }
    QVERIFY(registry.isMember(chat, 2));
    QVERIFY(!registry.isMember(chat, 4));

    UnsubscribeOutcome u = registry.unsubscribe(chat, 2);
    QVERIFY(u.wasMember);
    QCOMPARE(u.members, 2);
    QCOMPARE(u.member, member(2, 0));
    QVERIFY(!registry.isMember(chat, 2));

    u = registry.unsubscribe(chat, 2); // not a member any more: no error
    QVERIFY(!u.wasMember);
    QCOMPARE(u.members, 2);

    u = registry.unsubscribe(QStringLiteral("no.such.channel"), 1);
    QVERIFY(!u.wasMember);
    QCOMPARE(u.members, 0);
    u = registry.unsubscribe(QStringLiteral("bad..name"), 1);
    QVERIFY(!u.wasMember);

    const auto again = registry.subscribe(chat, member(2, 1), false, 0);
    QVERIFY(again.has_value());
    QCOMPARE(again->members, 3);
}

void tst_ChannelRegistry::idempotentResubscribe()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString room = QStringLiteral("room.a");
    QVERIFY(registry.subscribe(room, member(1, 0), false, 0).has_value());
    QVERIFY(registry.subscribe(room, member(2, 1), false, 0).has_value());
    const auto r = registry.subscribe(room, member(1, 0), false, 0);
    QVERIFY(r.has_value());
    QCOMPARE(r->alreadyMember, true);
    QCOMPARE(r->members, 2);
    QCOMPARE(registry.presence(room)->size(), 2);

    // A member of a full channel may re-subscribe.
    QVERIFY(registry.subscribe(QStringLiteral("vip"), member(1, 0), false, 0).has_value());
    QVERIFY(registry.subscribe(QStringLiteral("vip"), member(2, 0), false, 0).has_value());
    const auto full = registry.subscribe(QStringLiteral("vip"), member(2, 0), false, 0);
    QVERIFY2(full.has_value(), errorOf(full).constData());
    QCOMPARE(full->alreadyMember, true);
    QCOMPARE(full->members, 2);
}

void tst_ChannelRegistry::subscribeErrors_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<bool>("authenticated");
    QTest::addColumn<int>("prefill"); // members subscribed first, authenticated
    QTest::addColumn<int>("code");    // 0 = success
    QTest::addColumn<QString>("message");

    QTest::newRow("invalid name") << QStringLiteral("chat..x") << true << 0 << 400
                                  << QStringLiteral("invalid channel name \"chat..x\"");
    QTest::newRow("empty name") << QString() << true << 0 << 400
                                << QStringLiteral("invalid channel name \"\"");
    QTest::newRow("pattern as name") << QStringLiteral("room.*") << true << 0 << 400
                                     << QStringLiteral("invalid channel name \"room.*\"");
    QTest::newRow("auth, new channel")
        << QStringLiteral("secure.vault") << false << 0 << 401
        << QStringLiteral("channel 'secure.vault' requires authentication");
    QTest::newRow("auth, existing channel")
        << QStringLiteral("secure.vault") << false << 1 << 401
        << QStringLiteral("channel 'secure.vault' requires authentication");
    QTest::newRow("auth ok") << QStringLiteral("secure.vault") << true << 1 << 0 << QString();
    QTest::newRow("full") << QStringLiteral("vip") << true << 2 << 409
                          << QStringLiteral("channel 'vip' is full (max: 2)");
    QTest::newRow("full by pattern") << QStringLiteral("limited.x") << true << 10 << 409
                                     << QStringLiteral("channel 'limited.x' is full (max: 10)");
    QTest::newRow("one place left") << QStringLiteral("vip") << true << 1 << 0 << QString();
}

void tst_ChannelRegistry::subscribeErrors()
{
    QFETCH(QString, channel);
    QFETCH(bool, authenticated);
    QFETCH(int, prefill);
    QFETCH(int, code);
    QFETCH(QString, message);

    ChannelRegistry registry(registryConfig(), kWorkers);
    for (int i = 0; i < prefill; ++i)
        QVERIFY(registry.subscribe(channel, member(100 + i, i % kWorkers), true, 0).has_value());

    const auto r = registry.subscribe(channel, member(1, 0), authenticated, 0);
    if (code == 0) {
        QVERIFY2(r.has_value(), errorOf(r).constData());
        QCOMPARE(r->members, prefill + 1);
        return;
    }
    QVERIFY(!r.has_value());
    QCOMPARE(r.error().code, code);
    QCOMPARE(r.error().message, message);
    QVERIFY(!registry.isMember(channel, 1));
    if (isValidChannelName(channel))
        QCOMPARE(registry.presence(channel).value_or(QList<Member>()).size(), prefill);
}

void tst_ChannelRegistry::failedSubscribeCreatesNothing()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const int before = registry.channelCount();
    QCOMPARE(registry.subscribe(QStringLiteral("secure.x"), member(1, 0), false, 0).error().code,
             401);
    QCOMPARE(registry.subscribe(QStringLiteral("a b"), member(1, 0), false, 0).error().code, 400);
    QCOMPARE(registry.channelCount(), before);
    QVERIFY(!registry.settings(QStringLiteral("secure.x")).has_value());

    const auto badWorker =
        registry.subscribe(QStringLiteral("lobby"), member(1, kWorkers), false, 0);
    QVERIFY(!badWorker.has_value());
    QCOMPARE(badWorker.error().code, 500);
}

void tst_ChannelRegistry::publishErrors_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<bool>("subscribeFirst");
    QTest::addColumn<bool>("authenticated");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");

    QTest::newRow("never subscribed") << QStringLiteral("never.subscribed") << false << true << 404
                                      << QStringLiteral("channel 'never.subscribed' not found");
    QTest::newRow("pattern-matched but never subscribed")
        << QStringLiteral("room.x") << false << true << 404
        << QStringLiteral("channel 'room.x' not found");
    QTest::newRow("invalid name") << QStringLiteral("room.") << false << true << 400
                                  << QStringLiteral("invalid channel name \"room.\"");
    QTest::newRow("auth channel, anonymous publisher")
        << QStringLiteral("secure.x") << true << false << 401
        << QStringLiteral("channel 'secure.x' requires authentication");
    QTest::newRow("auth channel, authenticated publisher")
        << QStringLiteral("secure.x") << true << true << 0 << QString();
    QTest::newRow("auth channel never subscribed: 404 first")
        << QStringLiteral("secure.y") << false << false << 404
        << QStringLiteral("channel 'secure.y' not found");
}

void tst_ChannelRegistry::publishErrors()
{
    QFETCH(QString, channel);
    QFETCH(bool, subscribeFirst);
    QFETCH(bool, authenticated);
    QFETCH(int, code);
    QFETCH(QString, message);

    ChannelRegistry registry(registryConfig(), kWorkers);
    if (subscribeFirst)
        QVERIFY(registry.subscribe(channel, member(7, 0), true, 0).has_value());
    const int before = registry.channelCount();

    const auto r = publishRaw(registry, channel, 1, authenticated, msg(1));
    if (code == 0) {
        QVERIFY2(r.has_value(), errorOf(r).constData());
        QCOMPARE(r->recipients, 1);
        QCOMPARE(registry.history(channel, 0).value(), QList<QByteArray>({msg(1)}));
        return;
    }
    QVERIFY(!r.has_value());
    QCOMPARE(r.error().code, code);
    QCOMPARE(r.error().message, message);
    QCOMPARE(registry.channelCount(), before); // a failed publish creates nothing
    if (subscribeFirst)
        QVERIFY(registry.history(channel, 0).value().isEmpty()); // nor stores anything
}

void tst_ChannelRegistry::publishToConfiguredChannelWithoutMembers()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const auto r = publishRaw(registry, QStringLiteral("lobby"), 1, false, msg(1));
    QVERIFY2(r.has_value(), errorOf(r).constData());
    QCOMPARE(r->recipients, 0);
    QCOMPARE(r->workerMask, quint64(0));
    QCOMPARE(registry.history(QStringLiteral("lobby"), 0).value(), QList<QByteArray>({msg(1)}));
}

void tst_ChannelRegistry::channelOutlivesItsMembers()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ch = QStringLiteral("temp.x");
    QVERIFY(registry.subscribe(ch, member(1, 0), false, 0).has_value());
    QVERIFY(publishRaw(registry, ch, 1, false, msg(1)).has_value());
    QVERIFY(registry.unsubscribe(ch, 1).wasMember);
    const auto r = publishRaw(registry, ch, 1, false, msg(2));
    QVERIFY2(r.has_value(), errorOf(r).constData());
    QCOMPARE(r->recipients, 0);
    QCOMPARE(registry.history(ch, 0).value(), msgs(1, 2));
}

void tst_ChannelRegistry::recipientsExcludeSender_data()
{
    QTest::addColumn<int>("members"); // connKeys 1..members
    QTest::addColumn<quint64>("sender");
    QTest::addColumn<int>("recipients");

    QTest::newRow("sender is the only member") << 1 << quint64(1) << 0;
    QTest::newRow("sender is one of three") << 3 << quint64(2) << 2;
    QTest::newRow("sender not a member") << 3 << quint64(99) << 3;
    QTest::newRow("no members, outside sender") << 0 << quint64(99) << 0;
}

void tst_ChannelRegistry::recipientsExcludeSender()
{
    QFETCH(int, members);
    QFETCH(quint64, sender);
    QFETCH(int, recipients);

    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ch = QStringLiteral("lobby");
    for (int i = 1; i <= members; ++i)
        QVERIFY(registry.subscribe(ch, member(i, i % kWorkers), false, 0).has_value());
    const auto r = publishRaw(registry, ch, sender, false, msg(1));
    QVERIFY(r.has_value());
    QCOMPARE(r->recipients, recipients);
}

void tst_ChannelRegistry::subscribeWorkerMask()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ch = QStringLiteral("room.masks");
    // The mask names the workers holding members other than the subscriber.
    auto r = registry.subscribe(ch, member(1, 1), false, 0);
    QCOMPARE(r->workerMask, quint64(0));
    QCOMPARE(r->presence, true);
    r = registry.subscribe(ch, member(2, 1), false, 0);
    QCOMPARE(r->workerMask, quint64(0b0010));
    r = registry.subscribe(ch, member(3, 3), false, 0);
    QCOMPARE(r->workerMask, quint64(0b0010));
    r = registry.subscribe(ch, member(4, 0), false, 0);
    QCOMPARE(r->workerMask, quint64(0b1010));
    // Re-subscribe: member 3 is alone on worker 3, so its own bit is not set.
    r = registry.subscribe(ch, member(3, 3), false, 0);
    QCOMPARE(r->alreadyMember, true);
    QCOMPARE(r->workerMask, quint64(0b0011));
}

void tst_ChannelRegistry::publishWorkerMask_data()
{
    QTest::addColumn<quint64>("sender");
    QTest::addColumn<quint64>("mask");
    QTest::addColumn<int>("recipients");

    // Members: 1 on worker 0; 2 and 3 on worker 1; 4 on worker 2. Worker 3 has none.
    QTest::newRow("sender alone on its worker") << quint64(1) << quint64(0b0110) << 3;
    QTest::newRow("sender shares its worker") << quint64(2) << quint64(0b0111) << 3;
    QTest::newRow("sender alone on worker 2") << quint64(4) << quint64(0b0011) << 3;
    QTest::newRow("sender not a member") << quint64(50) << quint64(0b0111) << 4;
}

void tst_ChannelRegistry::publishWorkerMask()
{
    QFETCH(quint64, sender);
    QFETCH(quint64, mask);
    QFETCH(int, recipients);

    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ch = QStringLiteral("lobby");
    QVERIFY(registry.subscribe(ch, member(1, 0), false, 0).has_value());
    QVERIFY(registry.subscribe(ch, member(2, 1), false, 0).has_value());
    QVERIFY(registry.subscribe(ch, member(3, 1), false, 0).has_value());
    QVERIFY(registry.subscribe(ch, member(4, 2), false, 0).has_value());
    const auto r = publishRaw(registry, ch, sender, false, msg(1));
    QVERIFY(r.has_value());
    QCOMPARE(r->workerMask, mask);
    QCOMPARE(r->recipients, recipients);
}

void tst_ChannelRegistry::unsubscribeWorkerMask()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ch = QStringLiteral("room.leave");
    QVERIFY(registry.subscribe(ch, member(1, 0, QStringLiteral("alice")), true, 0).has_value());
    QVERIFY(registry.subscribe(ch, member(2, 2), false, 0).has_value());
    QVERIFY(registry.subscribe(ch, member(3, 2), false, 0).has_value());

    UnsubscribeOutcome u = registry.unsubscribe(ch, 2);
    QCOMPARE(u.workerMask, quint64(0b0101)); // 3 is still on worker 2
    QCOMPARE(u.presence, true);
    u = registry.unsubscribe(ch, 1);
    QCOMPARE(u.workerMask, quint64(0b0100));
    QCOMPARE(u.member.userId, QStringLiteral("alice"));
    QCOMPARE(u.member.connId, QStringLiteral("conn-1"));
    u = registry.unsubscribe(ch, 3);
    QCOMPARE(u.workerMask, quint64(0));
    QCOMPARE(u.members, 0);
    QCOMPARE(publishRaw(registry, ch, 9, false, msg(1))->workerMask, quint64(0));
}

void tst_ChannelRegistry::historyRing_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<int>("published"); // m1..mN
    QTest::addColumn<int>("limit");
    QTest::addColumn<QList<QByteArray>>("expected");

    // ring.* keeps 3, lobby the default 50, nohist none.
    QTest::newRow("empty") << QStringLiteral("ring.a") << 0 << 0 << QList<QByteArray>();
    QTest::newRow("under capacity") << QStringLiteral("ring.a") << 2 << 0 << msgs(1, 2);
    QTest::newRow("at capacity") << QStringLiteral("ring.a") << 3 << 0 << msgs(1, 3);
    QTest::newRow("wrapped once") << QStringLiteral("ring.a") << 5 << 0 << msgs(3, 5);
    QTest::newRow("wrapped many times") << QStringLiteral("ring.a") << 11 << 0 << msgs(9, 11);
    QTest::newRow("wrapped, limit 2") << QStringLiteral("ring.a") << 7 << 2 << msgs(6, 7);
    QTest::newRow("wrapped, limit 1") << QStringLiteral("ring.a") << 7 << 1 << msgs(7, 7);
    QTest::newRow("limit over stored") << QStringLiteral("ring.a") << 2 << 10 << msgs(1, 2);
    QTest::newRow("negative limit: all") << QStringLiteral("ring.a") << 4 << -1 << msgs(2, 4);
    QTest::newRow("default capacity 50") << QStringLiteral("lobby") << 60 << 0 << msgs(11, 60);
    QTest::newRow("default capacity, limit 5")
        << QStringLiteral("lobby") << 60 << 5 << msgs(56, 60);
    QTest::newRow("history = 0 keeps none")
        << QStringLiteral("nohist") << 5 << 0 << QList<QByteArray>();
}

void tst_ChannelRegistry::historyRing()
{
    QFETCH(QString, channel);
    QFETCH(int, published);
    QFETCH(int, limit);
    QFETCH(QList<QByteArray>, expected);

    ChannelRegistry registry(registryConfig(), kWorkers);
    QVERIFY(registry.subscribe(channel, member(1, 0), false, 0).has_value());
    for (int i = 1; i <= published; ++i)
        QVERIFY(publishRaw(registry, channel, 1, false, msg(i)).has_value());
    const auto h = registry.history(channel, limit);
    QVERIFY(h.has_value());
    QCOMPARE(*h, expected);

    const auto infos = registry.channels();
    const auto info = std::find_if(infos.cbegin(), infos.cend(), [&](const ChannelInfo &i) {
        return i.name == channel;
    });
    QVERIFY(info != infos.cend());
    QCOMPARE(info->historySize,
             limit > 0 ? int(registry.history(channel, 0)->size()) : int(expected.size()));
}

void tst_ChannelRegistry::historyOnSubscribe_data()
{
    QTest::addColumn<int>("historyLimit");
    QTest::addColumn<QList<QByteArray>>("expected");

    // ring.b holds m3..m5 after five publishes.
    QTest::newRow("none requested") << 0 << QList<QByteArray>();
    QTest::newRow("negative") << -4 << QList<QByteArray>();
    QTest::newRow("newest one") << 1 << msgs(5, 5);
    QTest::newRow("newest two, oldest first") << 2 << msgs(4, 5);
    QTest::newRow("more than stored") << 100 << msgs(3, 5);
}

void tst_ChannelRegistry::historyOnSubscribe()
{
    QFETCH(int, historyLimit);
    QFETCH(QList<QByteArray>, expected);

    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ch = QStringLiteral("ring.b");
    QVERIFY(registry.subscribe(ch, member(1, 0), false, 0).has_value());
    for (int i = 1; i <= 5; ++i)
        QVERIFY(publishRaw(registry, ch, 1, false, msg(i)).has_value());

    const auto r = registry.subscribe(ch, member(2, 1), false, historyLimit);
    QVERIFY(r.has_value());
    QCOMPARE(r->history, expected);
    // Idempotent re-subscribe still replays.
    const auto again = registry.subscribe(ch, member(2, 1), false, historyLimit);
    QCOMPARE(again->history, expected);
}

void tst_ChannelRegistry::historyErrors()
{
    const ChannelRegistry registry(registryConfig(), kWorkers);
    auto h = registry.history(QStringLiteral("unknown"), 0);
    QVERIFY(!h.has_value());
    QCOMPARE(h.error(), (Error{404, QStringLiteral("channel 'unknown' not found")}));
    h = registry.history(QStringLiteral("a b"), 0);
    QCOMPARE(h.error().code, 400);
    const auto p = registry.presence(QStringLiteral("unknown"));
    QCOMPARE(p.error(), (Error{404, QStringLiteral("channel 'unknown' not found")}));
    QVERIFY(registry.history(QStringLiteral("lobby"), 0)->isEmpty());
}

void tst_ChannelRegistry::presence()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ch = QStringLiteral("room.presence");
    const QList<Member> joined = {member(30, 2, QStringLiteral("carol")),
                                  member(10, 0),
                                  member(20, 1, QStringLiteral("bob"))};
    for (const Member &m : joined) {
        const auto r = registry.subscribe(ch, m, !m.userId.isEmpty(), 0);
        QVERIFY(r.has_value());
        QCOMPARE(r->presence, true);
        QCOMPARE(r->settings.presence, true);
    }
    const auto p = registry.presence(ch);
    QVERIFY(p.has_value());
    QCOMPARE(*p,
             QList<Member>({member(10, 0),
                            member(20, 1, QStringLiteral("bob")),
                            member(30, 2, QStringLiteral("carol"))}));

    registry.unsubscribe(ch, 20);
    QCOMPARE(*registry.presence(ch),
             QList<Member>({member(10, 0), member(30, 2, QStringLiteral("carol"))}));

    const auto noPresence = registry.subscribe(QStringLiteral("lobby"), member(1, 0), false, 0);
    QCOMPARE(noPresence->presence, false);
    QCOMPARE(registry.unsubscribe(QStringLiteral("lobby"), 1).presence, false);
}

void tst_ChannelRegistry::binaryFlag()
{
    Config config = registryConfig();
    config.codec.binaryChannels = {QStringLiteral("bin.**")};
    ChannelRegistry registry(config, kWorkers);
    auto r = publishRaw(registry, QStringLiteral("media"), 1, false, msg(1));
    QVERIFY(r.has_value());
    QCOMPARE(r->binary, true);
    QCOMPARE(r->settings.binary, true);
    QVERIFY(registry.subscribe(QStringLiteral("bin.a.b"), member(1, 0), false, 0).has_value());
    QCOMPARE(publishRaw(registry, QStringLiteral("bin.a.b"), 1, false, msg(1))->binary, true);
    QCOMPARE(publishRaw(registry, QStringLiteral("lobby"), 1, false, msg(1))->binary, false);
}

void tst_ChannelRegistry::channelsSorted()
{
    ChannelRegistry registry(Config(), kWorkers);
    const QStringList order = {QStringLiteral("zeta"),
                               QStringLiteral("alpha.b"),
                               QStringLiteral("mid"),
                               QStringLiteral("alpha"),
                               QStringLiteral("Beta"),
                               QStringLiteral("alpha.a")};
    quint64 key = 1;
    for (const QString &ch : order) {
        QVERIFY(registry.subscribe(ch, member(key++, 0), false, 0).has_value());
    }
    QVERIFY(registry.subscribe(QStringLiteral("mid"), member(key++, 1), false, 0).has_value());
    QVERIFY(publishRaw(registry, QStringLiteral("mid"), 1, false, msg(1)).has_value());

    const QList<ChannelInfo> infos = registry.channels();
    QCOMPARE(names(infos),
             QStringList({QStringLiteral("Beta"),
                          QStringLiteral("alpha"),
                          QStringLiteral("alpha.a"),
                          QStringLiteral("alpha.b"),
                          QStringLiteral("mid"),
                          QStringLiteral("zeta")}));
    QCOMPARE(registry.channelCount(), 6);
    QCOMPARE(infos.at(4).members, 2);
    QCOMPARE(infos.at(4).historySize, 1);
    QCOMPARE(infos.at(0).members, 1);
    QCOMPARE(infos.at(0).historySize, 0);
    QCOMPARE(infos.at(0).settings, ChannelSettings());
}

// Four threads, one per worker, subscribe, publish and unsubscribe on overlapping channels with
// their own connections. The operations of one thread are deterministic, so the final state is
// known: the same operations are replayed on a plain model afterwards and compared.
void tst_ChannelRegistry::concurrentHammer()
{
    constexpr int kThreads = kWorkers;
    constexpr int kIterations = 20000;
    constexpr int kChannels = 6;
    constexpr int kConnsPerThread = 10;

    ChannelRegistry registry(registryConfig(), kWorkers);
    const auto channelName = [](int i) { return QStringLiteral("stress.%1").arg(i % kChannels); };
    const auto connKey = [](int thread, int i) {
        return quint64(thread) * 1000 + quint64(i % kConnsPerThread) + 1;
    };
    // The step every thread runs; `model` replays it single-threaded.
    struct Step
    {
        QString subscribeTo;
        QString publishTo;
        bool unsubscribe;
        quint64 key;
    };
    const auto step = [&](int thread, int i) {
        return Step{channelName(i + thread),
                    channelName(i * 7 + thread + 1),
                    i % 3 != 0,
                    connKey(thread, i)};
    };

    // Publishing needs an existing channel: create them all (they outlive their members).
    for (int c = 0; c < kChannels; ++c) {
        QVERIFY(registry.subscribe(channelName(c), member(1, 0), false, 0).has_value());
        QVERIFY(registry.unsubscribe(channelName(c), 1).wasMember);
    }

    std::atomic<int> errors{0};
    std::latch start(kThreads);
    std::vector<std::unique_ptr<QThread>> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back(QThread::create([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < kIterations; ++i) {
                const Step s = step(t, i);
                const Member m{s.key, QStringLiteral("c%1").arg(s.key), QString(), t};
                const auto sub = registry.subscribe(s.subscribeTo, m, false, 2);
                if (!sub.has_value() || sub->members < 1
                    || !registry.isMember(s.subscribeTo, s.key))
                    ++errors;
                const QByteArray payload = QByteArray::number(t) + ':' + QByteArray::number(i);
                const auto pub = publishRaw(registry, s.publishTo, s.key, false, payload);
                if (!pub.has_value() || pub->recipients < 0)
                    ++errors;
                if (s.unsubscribe && !registry.unsubscribe(s.subscribeTo, s.key).wasMember)
                    ++errors;
                if (i % 50 == 0 && registry.channels().isEmpty())
                    ++errors;
                if (i % 20 == 0 && !registry.presence(s.subscribeTo).has_value())
                    ++errors;
            }
        }));
    }
    for (auto &thread : threads)
        thread->start();
    for (auto &thread : threads)
        QVERIFY(thread->wait(QDeadlineTimer(120000)));
    QCOMPARE(errors.load(), 0);

    // Replay on a model: channel -> (connKey -> worker), and publishes per channel.
    QHash<QString, QHash<quint64, int>> members;
    QHash<QString, int> published;
    for (int t = 0; t < kThreads; ++t) {
        for (int i = 0; i < kIterations; ++i) {
            const Step s = step(t, i);
            members[s.subscribeTo].insert(s.key, t);
            ++published[s.publishTo];
            if (s.unsubscribe)
                members[s.subscribeTo].remove(s.key);
        }
    }

    for (int c = 0; c < kChannels; ++c) {
        const QString ch = channelName(c);
        const auto p = registry.presence(ch);
        QVERIFY(p.has_value());
        QSet<quint64> keys;
        for (const Member &m : *p)
            keys.insert(m.connKey);
        const QList<quint64> expectedKeys = members.value(ch).keys();
        QCOMPARE(keys, QSet<quint64>(expectedKeys.cbegin(), expectedKeys.cend()));

        quint64 expectedMask = 0;
        for (const int worker : members.value(ch))
            expectedMask |= quint64(1) << worker;
        const auto outsider = publishRaw(registry, ch, 999999, false, QByteArray("final"));
        QVERIFY(outsider.has_value());
        QCOMPARE(outsider->recipients, int(members.value(ch).size()));
        QCOMPARE(outsider->workerMask, expectedMask);

        // Every publish was kept, and each thread's messages are in the order it sent them.
        const QList<QByteArray> history = registry.history(ch, 0).value();
        QCOMPARE(int(history.size()), published.value(ch) + 1);
        QList<int> lastSeen(kThreads, -1);
        for (qsizetype h = 0; h + 1 < history.size(); ++h) {
            const QList<QByteArray> parts = history.at(h).split(':');
            QCOMPARE(parts.size(), 2);
            const int t = parts.at(0).toInt();
            const int i = parts.at(1).toInt();
            QVERIFY2(i > lastSeen.at(t), history.at(h).constData());
            lastSeen[t] = i;
        }
    }
}

// Many threads race for the last places of a limited channel: exactly maxMembers win.
void tst_ChannelRegistry::concurrentMaxMembers()
{
    constexpr int kThreads = kWorkers;
    constexpr int kPerThread = 200;
    const QString ch = QStringLiteral("limited.race");

    ChannelRegistry registry(registryConfig(), kWorkers);
    std::atomic<int> joined{0};
    std::atomic<int> full{0};
    std::atomic<int> other{0};
    std::latch start(kThreads);
    std::vector<std::unique_ptr<QThread>> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back(QThread::create([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < kPerThread; ++i) {
                const quint64 key = quint64(t) * 1000 + quint64(i);
                const auto r = registry.subscribe(ch, member(key, t), false, 0);
                if (r.has_value())
                    ++joined;
                else if (r.error().code == 409)
                    ++full;
                else
                    ++other;
            }
        }));
    }
    for (auto &thread : threads)
        thread->start();
    for (auto &thread : threads)
        QVERIFY(thread->wait(QDeadlineTimer(60000)));

    QCOMPARE(joined.load(), 10);
    QCOMPARE(full.load(), kThreads * kPerThread - 10);
    QCOMPARE(other.load(), 0);
    QCOMPARE(registry.presence(ch)->size(), 10);
    QCOMPARE(registry.channelCount(), 5); // 4 configured exact + this one
}

// A reload (ChannelRegistry::reconfigure): current members stay when max_members drops, new
// ones are refused; a smaller history is trimmed at once, a larger one fills up from then on.
void tst_ChannelRegistry::reconfigureLimitsAndHistory()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString vip = QStringLiteral("vip");
    QVERIFY(registry.subscribe(vip, member(1, 0), false, 0));
    QVERIFY(registry.subscribe(vip, member(2, 1), false, 0));
    const QString ring = QStringLiteral("ring.a");
    QVERIFY(registry.subscribe(ring, member(3, 0), false, 0));
    for (int i = 1; i <= 3; ++i)
        QVERIFY(publishRaw(registry, ring, 3, false, msg(i)));

    Config next = registryConfig();
    next.channels[1].maxMembers = 1; // vip: 2 members now
    next.channels[3].history = 1;    // ring.*: 3 kept now
    QCOMPARE(registry.reconfigure(next), QStringList());
    QCOMPARE(registry.settings(vip)->maxMembers, 1);
    QVERIFY(registry.isMember(vip, 1));
    QVERIFY(registry.isMember(vip, 2));
    const auto refused = registry.subscribe(vip, member(4, 0), false, 0);
    QVERIFY(!refused);
    QCOMPARE(refused.error().code, 409);
    QCOMPARE(*registry.history(ring, 0), msgs(3, 3)); // trimmed at once, newest kept

    next.channels[3].history = 5;
    registry.reconfigure(next);
    for (int i = 4; i <= 9; ++i)
        QVERIFY(publishRaw(registry, ring, 3, false, msg(i)));
    QCOMPARE(*registry.history(ring, 0), msgs(5, 9));
    const auto later = registry.subscribe(QStringLiteral("ring.b"), member(5, 0), false, 0);
    QVERIFY(later);
    QCOMPARE(later->settings.history, 5);
}

// A changed pattern list resolves every existing channel again; a channel named exactly for the
// first time exists at once, one no longer named is reclaimed once empty; channels that became
// auth = true with members are returned for their workers to remove the anonymous ones.
void tst_ChannelRegistry::reconfigurePatternsAndExactNames()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString chat = QStringLiteral("chat.general");
    QVERIFY(registry.subscribe(chat, member(1, 0), false, 0));
    QCOMPARE(registry.settings(chat)->presence, false);

    Config next = registryConfig();
    ChannelConfig chats = entry(QStringLiteral("chat.*"));
    chats.auth = true;
    chats.presence = true;
    next.channels.append(chats);
    next.channels.append(entry(QStringLiteral("announcements")));
    next.channels.removeAt(4); // nohist
    const int before = registry.channelCount();
    QCOMPARE(registry.reconfigure(next), QStringList{chat});
    QCOMPARE(registry.settings(chat)->auth, true);
    QCOMPARE(registry.settings(chat)->presence, true);
    QVERIFY(registry.isMember(chat, 1)); // until its worker removes it
    const auto anonymous = registry.subscribe(QStringLiteral("chat.other"), member(2, 0), false, 0);
    QVERIFY(!anonymous);
    QCOMPARE(anonymous.error().code, 401);
    QVERIFY(registry.settings(QStringLiteral("announcements")).has_value());
    QVERIFY(publishRaw(registry, QStringLiteral("announcements"), 9, false, msg(1)));
    // nohist is an ordinary channel now: empty and without history, it is reclaimed.
    QCOMPARE(registry.channelCount(), before + 1);
    QCOMPARE(registry.reclaim(ChannelRegistry::ReclaimMode::EvenIfRecent), 1);
    QVERIFY(!registry.settings(QStringLiteral("nohist")).has_value());
    QVERIFY(registry.settings(QStringLiteral("announcements")).has_value()); // configured
}

// Reloads race publishes and subscribes from other threads: every publish lands, offsets stay
// increasing and the last settings win (run under TSan in the ci preset).
void tst_ChannelRegistry::reconfigureWhilePublishing()
{
    ChannelRegistry registry(registryConfig(), kWorkers);
    const QString ring = QStringLiteral("ring.hot");
    QVERIFY(registry.subscribe(ring, member(1, 0), false, 0));
    std::atomic<bool> stop{false};
    std::atomic<int> published{0};
    std::unique_ptr<QThread> publisher(QThread::create([&] {
        quint64 last = 0;
        while (!stop.load()) {
            const auto r = publishRaw(registry, ring, 1, false, msg(1));
            if (!r || r->position.offset <= last)
                return;
            last = r->position.offset;
            published.fetch_add(1);
            (void)registry.subscribe(QStringLiteral("ring.n%1").arg(last % 50),
                                     member(2, 1),
                                     false,
                                     0);
        }
    }));
    publisher->start();
    Config next = registryConfig();
    for (int i = 0; i < 200; ++i) {
        next.channels[3].history = 1 + i % 7;
        registry.reconfigure(next);
    }
    QTRY_VERIFY(published.load() > 100);
    stop.store(true);
    QVERIFY(publisher->wait(10000));
    QCOMPARE(registry.settings(ring)->history, 1 + 199 % 7);
    QVERIFY(registry.history(ring, 0)->size() <= 1 + 199 % 7);
}

QTEST_GUILESS_MAIN(tst_ChannelRegistry)

#include "tst_channelregistry.moc"
