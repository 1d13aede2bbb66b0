// SPDX-License-Identifier: MIT
#include "engine.h"

#include "histogram.h"
#include "sseparser.h"
#include "wsframe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace MtwBench {

namespace {

constexpr int PhaseSetup = 0;
constexpr int PhaseRun = 1;
constexpr int MaxLoggedProblems = 5;

int64_t monotonicNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void atomicMax(std::atomic<int64_t> &target, int64_t value)
{
    int64_t current = target.load(std::memory_order_relaxed);
    while (current < value
           && !target.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
    }
}

void atomicMin(std::atomic<int64_t> &target, int64_t value)
{
    int64_t current = target.load(std::memory_order_relaxed);
    while (current > value
           && !target.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
    }
}

// The digits after the first occurrence of key, or -1.
int64_t numberAfter(const char *data, size_t size, std::string_view key)
{
    const void *hit = memmem(data, size, key.data(), key.size());
    if (!hit)
        return -1;
    const char *begin = static_cast<const char *>(hit) + key.size();
    int64_t value = -1;
    const auto result = std::from_chars(begin, data + size, value);
    return result.ec == std::errc() ? value : -1;
}

// The text after the first occurrence of key (empty when absent).
std::string_view textAfter(const char *data, size_t size, std::string_view key)
{
    const void *hit = memmem(data, size, key.data(), key.size());
    if (!hit)
        return {};
    const char *begin = static_cast<const char *>(hit) + key.size();
    return std::string_view(begin, size_t(data + size - begin));
}

long readRssKb(int pid)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

void raiseFileLimit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

enum class State : uint8_t { Pending, Connecting, Handshake, Open, Dead };
enum class Role : uint8_t { Plain, Subscriber, Publisher, Echo };

struct Connection
{
    int fd = -1;
    State state = State::Pending;
    Role role = Role::Plain;
    uint8_t server = 0; // index into Options::ports
    bool acked = false;
    bool wantWrite = false;
    bool sse = false; // a Server-Sent Events subscriber: an HTTP GET, not an upgrade
    uint32_t index = 0;
    uint32_t channel = 0;
    int64_t startNs = 0;
    int64_t sent = 0;
    int64_t done = 0; // echo: answered; subscriber: the next sequence it expects, in its channel
    std::string in;   // bytes of an incomplete frame or event (or of the HTTP response head)
    std::string fragment; // a fragmented message being assembled
    std::string out;
    size_t outOffset = 0;
};

struct ChannelState
{
    std::atomic<int64_t> completed{0};
    int owner = 0;
};

class Worker;

struct Shared
{
    explicit Shared(const Options &o)
        : options(o)
    { }

    const Options &options;
    int64_t epoch = 0;
    std::vector<std::string> upgrades; // per server (Options::ports)
    std::string padding;
    std::vector<sockaddr_in> targets;
    int64_t runStartNs = 0;
    std::atomic<int> phase{PhaseSetup};
    std::atomic<bool> stop{false};
    std::atomic<int64_t> acked{0};
    std::atomic<int64_t> failed{0};
    std::atomic<int64_t> subscribed{0};
    std::atomic<int64_t> errors{0};
    std::atomic<int64_t> closedByServer{0};
    std::atomic<int64_t> completedTotal{0};
    std::atomic<int64_t> echoDone{0};
    std::atomic<int64_t> lastAckNs{0};
    std::atomic<int64_t> lastCompleteNs{0};
    std::atomic<int64_t> badRecipients{0};
    std::atomic<int64_t> overDelivered{0};
    std::atomic<int64_t> unexpected{0};
    std::atomic<int64_t> misordered{0}; // a subscriber got a sequence other than the next one
    std::atomic<int64_t> firstPublishNs{INT64_MAX};
    std::atomic<int64_t> lastPublishNs{0};
    std::atomic<int> problemsLogged{0};
    int64_t totalMessages = 0;
    uint32_t expectedPerMessage = 0; // deliveries + the publish response
    std::vector<std::atomic<uint32_t>> counts;
    std::vector<std::atomic<int64_t>> sendTime;
    std::deque<ChannelState> channels;
    std::vector<std::unique_ptr<Worker>> workers;

    int64_t now() const { return monotonicNs() - epoch; }

    void problem(const char *what, const std::string &detail)
    {
        if (problemsLogged.fetch_add(1) < MaxLoggedProblems)
            std::fprintf(stderr, "mtw-loadgen: %s: %s\n", what, detail.c_str());
    }
};

class Worker
{
public:
    Worker(Shared &shared, int index)
        : m_shared(shared)
        , m_index(index)
        , m_epoll(epoll_create1(EPOLL_CLOEXEC))
        , m_event(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
        , m_buffer(256 * 1024)
        , m_pending(size_t(shared.totalMessages), 0)
        , m_random(0x9e3779b97f4a7c15ULL * uint64_t(index + 1))
    {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = nullptr;
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_event, &event);
    }

    ~Worker()
    {
        for (Connection &connection : m_connections) {
            if (connection.fd >= 0)
                close(connection.fd);
        }
        if (m_timer >= 0)
            close(m_timer);
        close(m_event);
        close(m_epoll);
    }

    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    Connection &add(Role role, uint32_t index, uint32_t channel, uint8_t server)
    {
        Connection &connection = m_connections.emplace_back();
        connection.role = role;
        connection.index = index;
        connection.channel = channel;
        connection.server = server;
        return connection;
    }

    // The open connections' descriptors, handed over (the worker no longer closes them).
    std::vector<int> takeDescriptors()
    {
        std::vector<int> fds;
        for (Connection &connection : m_connections) {
            if (connection.fd >= 0 && connection.state != State::Dead)
                fds.push_back(std::exchange(connection.fd, -1));
        }
        return fds;
    }

    void setConnectLimit(int limit) { m_connectLimit = limit; }
    void start()
    {
        m_thread = std::thread([this] { run(); });
    }
    void join()
    {
        if (m_thread.joinable())
            m_thread.join();
    }

    // From any thread: a message of one of our publishers completed, or the phase changed.
    void wake()
    {
        if (!m_wakePending.exchange(true)) {
            const uint64_t one = 1;
            [[maybe_unused]] const ssize_t written = write(m_event, &one, sizeof one);
        }
    }

    Histogram delivery;   // publish -> one subscriber, per delivery
    Histogram completion; // publish -> last subscriber and the response, per message
    Histogram roundTrip;  // echo request -> response
    Histogram connect;    // connect() -> opening ack
    uint64_t deliveries = 0;
    uint64_t responses = 0;

private:
    void run();
    void openMore();
    void open(Connection &connection);
    void handleEvent(Connection &connection, uint32_t events);
    bool readAll(Connection &connection);
    void onBytes(Connection &connection, char *data, size_t size);
    size_t parseFrames(Connection &connection, char *data, size_t size);
    size_t parseEvents(Connection &connection, char *data, size_t size);
    void onEvent(Connection &connection, std::string_view name, const char *data, size_t size);
    void onFrame(Connection &connection, const FrameView &frame);
    void onMessage(Connection &connection, const char *data, size_t size);
    void onResponse(Connection &connection, const char *data, size_t size, int64_t now);
    void onDelivery(Connection &connection, const char *data, size_t size, int64_t now);
    void onOpened(Connection &connection, int64_t now);
    void onSocketIoPacket(Connection &connection, const char *data, size_t size, int64_t now);
    void countDelivery(int64_t sequence);
    void flushCompletions();
    void pumpAll();
    void pumpPublisher(Connection &connection);
    void pumpEcho(Connection &connection);
    void startPacing();
    void sendText(Connection &connection, const char *data, size_t size);
    void flush(Connection &connection);
    void setWantWrite(Connection &connection, bool want);
    std::string sseRequest(const Connection &connection) const;
    void fail(Connection &connection, const std::string &why);
    uint32_t nextMask()
    {
        m_random ^= m_random << 13;
        m_random ^= m_random >> 7;
        m_random ^= m_random << 17;
        return static_cast<uint32_t>(m_random);
    }

    Shared &m_shared;
    int m_index;
    int m_epoll;
    int m_event;
    int m_timer = -1; // --rate: a periodic timerfd that paces this worker's publishers
    std::deque<Connection> m_connections; // a deque: epoll holds pointers into it
    std::vector<Connection *> m_drivers;  // publishers and echo connections
    std::vector<char> m_buffer;
    std::vector<uint32_t> m_pending; // deliveries per message seen in this batch
    std::vector<int64_t> m_touched;
    std::thread m_thread;
    std::atomic<bool> m_wakePending{false};
    uint64_t m_random;
    size_t m_next = 0;
    int m_inProgress = 0;
    int m_connectLimit = 0;
    bool m_running = false;
    bool m_selfNotify = false;
};

void Worker::run()
{
    for (Connection &connection : m_connections) {
        if (connection.role == Role::Publisher || connection.role == Role::Echo)
            m_drivers.push_back(&connection);
    }
    constexpr int MaxEvents = 512;
    epoll_event events[MaxEvents];
    while (!m_shared.stop.load(std::memory_order_relaxed)) {
        openMore();
        const int count = epoll_wait(m_epoll, events, MaxEvents, 5);
        bool woken = false;
        for (int i = 0; i < count; ++i) {
            if (events[i].data.ptr == &m_timer) {
                uint64_t expirations = 0;
                [[maybe_unused]] const ssize_t got =
                    read(m_timer, &expirations, sizeof expirations);
                woken = true;
                continue;
            }
            auto *connection = static_cast<Connection *>(events[i].data.ptr);
            if (!connection) {
                uint64_t value = 0;
                [[maybe_unused]] const ssize_t got = read(m_event, &value, sizeof value);
                m_wakePending.store(false);
                woken = true;
                continue;
            }
            handleEvent(*connection, events[i].events);
        }
        flushCompletions();
        if (m_shared.phase.load(std::memory_order_acquire) == PhaseRun
            && (!m_running || woken || m_selfNotify)) {
            if (!m_running)
                startPacing();
            m_running = true;
            m_selfNotify = false;
            pumpAll();
        }
    }
}

// --rate: a timer wakes the worker every 1/rate s (50 us at least); each wake-up sends what is
// due by the clock, so late ticks do not lower the rate.
void Worker::startPacing()
{
    if (m_shared.options.rate <= 0 || m_drivers.empty())
        return;
    m_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (m_timer < 0)
        return;
    const int64_t period = std::max<int64_t>(50'000, int64_t(1e9 / m_shared.options.rate));
    itimerspec spec{};
    spec.it_interval.tv_sec = time_t(period / 1'000'000'000);
    spec.it_interval.tv_nsec = long(period % 1'000'000'000);
    spec.it_value = spec.it_interval;
    timerfd_settime(m_timer, 0, &spec, nullptr);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &m_timer;
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_timer, &event);
}

void Worker::openMore()
{
    while (m_next < m_connections.size() && (m_connectLimit <= 0 || m_inProgress < m_connectLimit))
        open(m_connections[m_next++]);
}

void Worker::open(Connection &connection)
{
    const Options &options = m_shared.options;
    connection.state = State::Connecting;
    connection.startNs = m_shared.now();
    ++m_inProgress;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(connection, std::string("socket: ") + std::strerror(errno));
        return;
    }
    connection.fd = fd;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (options.sourceAddrs > 0) {
        // Many source addresses, so that 10,000+ connections do not run out of ephemeral ports;
        // the port is chosen at connect() time, per 4-tuple.
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in source{};
        source.sin_family = AF_INET;
        source.sin_addr.s_addr =
            htonl((127u << 24) | uint32_t(2 + connection.index % uint32_t(options.sourceAddrs)));
        if (bind(fd, reinterpret_cast<sockaddr *>(&source), sizeof source) != 0) {
            fail(connection, std::string("bind: ") + std::strerror(errno));
            return;
        }
    }
    const sockaddr_in &target = m_shared.targets[connection.server];
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&target), sizeof target) != 0
        && errno != EINPROGRESS) {
        fail(connection, std::string("connect: ") + std::strerror(errno));
        return;
    }
    connection.wantWrite = true;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT;
    event.data.ptr = &connection;
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &event);
}

void Worker::handleEvent(Connection &connection, uint32_t events)
{
    if (connection.state == State::Connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
            fail(connection, std::string("connect: ") + std::strerror(error));
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLIN)))
            return;
        connection.state = State::Handshake;
        connection.out =
            connection.sse ? sseRequest(connection) : m_shared.upgrades[connection.server];
        connection.outOffset = 0;
        flush(connection);
        return;
    }
    if ((events & EPOLLIN) && !readAll(connection))
        return;
    if (connection.state == State::Dead)
        return;
    if ((events & EPOLLOUT) && connection.wantWrite)
        flush(connection);
    if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        fail(connection, "connection reset");
}

bool Worker::readAll(Connection &connection)
{
    for (int round = 0; round < 8; ++round) {
        const ssize_t got = read(connection.fd, m_buffer.data(), m_buffer.size());
        if (got > 0 && m_shared.options.quickAck) {
            const int one = 1;
            setsockopt(connection.fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        }
        if (got > 0) {
            onBytes(connection, m_buffer.data(), size_t(got));
            if (connection.state == State::Dead)
                return false;
            if (size_t(got) < m_buffer.size())
                return true;
        } else if (got == 0) {
            fail(connection, "closed by the server");
            return false;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return true;
        } else if (errno != EINTR) {
            fail(connection, std::string("read: ") + std::strerror(errno));
            return false;
        }
    }
    return true;
}

void Worker::onBytes(Connection &connection, char *data, size_t size)
{
    if (connection.state == State::Handshake) {
        connection.in.append(data, size);
        const size_t end = connection.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (connection.in.size() > 16384)
                fail(connection, "oversized HTTP response");
            return;
        }
        if (connection.in.compare(0, 12, connection.sse ? "HTTP/1.1 200" : "HTTP/1.1 101") != 0) {
            // An event stream's refusal explains itself in its JSON body: shown on one line.
            std::string body = connection.sse ? connection.in.substr(end + 4, 300) : std::string();
            while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
                body.pop_back();
            fail(connection,
                 std::string(connection.sse ? "event stream refused: " : "upgrade refused: ")
                     + connection.in.substr(0, connection.in.find('\r'))
                     + (body.empty() ? std::string() : " " + body));
            return;
        }
        connection.state = State::Open;
        std::string rest = connection.in.substr(end + 4);
        connection.in.clear();
        if (!rest.empty())
            onBytes(connection, rest.data(), rest.size());
        return;
    }
    const auto parse = connection.sse ? &Worker::parseEvents : &Worker::parseFrames;
    if (connection.in.empty()) {
        const size_t used = (this->*parse)(connection, data, size);
        if (connection.state != State::Dead && used < size)
            connection.in.assign(data + used, size - used);
    } else {
        connection.in.append(data, size);
        const size_t used = (this->*parse)(connection, connection.in.data(), connection.in.size());
        if (connection.state != State::Dead)
            connection.in.erase(0, used);
    }
    if (connection.state == State::Dead)
        std::string().swap(connection.in);
}

size_t Worker::parseFrames(Connection &connection, char *data, size_t size)
{
    size_t offset = 0;
    while (offset < size && connection.state == State::Open) {
        FrameView frame;
        const ParseResult result = parseFrame(data + offset, size - offset, frame);
        if (result == ParseResult::NeedMore)
            break;
        if (result == ParseResult::Invalid) {
            fail(connection, "invalid WebSocket frame");
            break;
        }
        offset += frame.frameBytes;
        onFrame(connection, frame);
    }
    return offset;
}

// The complete events of an SSE subscriber's stream; an event that does not end within 1 MiB
// is not one mtwserver sends.
size_t Worker::parseEvents(Connection &connection, char *data, size_t size)
{
    const size_t used =
        parseEventStream(data,
                         size,
                         [this, &connection](std::string_view name, std::string_view event) {
                             onEvent(connection, name, event.data(), event.size());
                             return connection.state == State::Open;
                         });
    if (used == 0 && size > (size_t(1) << 20))
        fail(connection, "no end of event in 1 MiB of the stream");
    return used;
}

// Unnamed events are fan-out (publications); named ones are what was sent to this connection
// alone, named after their envelope type: the opening ack, the subscribe's response, errors.
void Worker::onEvent(Connection &connection, std::string_view name, const char *data, size_t size)
{
    const int64_t now = m_shared.now();
    if (name.empty() || name == "message") {
        if (textAfter(data, size, "\"type\":\"").starts_with("publish\""))
            onDelivery(connection, data, size, now);
        else
            m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
    } else if (name == "ack") {
        onOpened(connection, now);
    } else if (name == "response") {
        if (memmem(data, size, "\"subscribed\":", 13))
            m_shared.subscribed.fetch_add(1, std::memory_order_relaxed);
        else
            m_shared.problem("odd subscribe response",
                             std::string(data, std::min<size_t>(size, 300)));
    } else if (name == "error") {
        m_shared.errors.fetch_add(1, std::memory_order_relaxed);
        m_shared.problem("error from the server", std::string(data, std::min<size_t>(size, 300)));
    } else {
        m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
        m_shared.problem("unexpected event", std::string(name));
    }
}

void Worker::onFrame(Connection &connection, const FrameView &frame)
{
    switch (frame.opcode) {
    case OpPing:
        appendFrame(connection.out, OpPong, frame.payload, frame.size, nextMask());
        flush(connection);
        return;
    case OpPong:
        return;
    case OpClose: {
        m_shared.closedByServer.fetch_add(1, std::memory_order_relaxed);
        const unsigned code = frame.size >= 2
            ? (unsigned(uint8_t(frame.payload[0])) << 8) | uint8_t(frame.payload[1])
            : 0;
        fail(connection, "close frame " + std::to_string(code));
        return;
    }
    case OpText:
    case OpBinary:
    case OpContinuation:
        if (frame.opcode != OpContinuation && frame.fin && connection.fragment.empty()) {
            onMessage(connection, frame.payload, frame.size);
            return;
        }
        if (frame.opcode != OpContinuation)
            connection.fragment.clear();
        connection.fragment.append(frame.payload, frame.size);
        if (frame.fin) {
            std::string message;
            message.swap(connection.fragment);
            onMessage(connection, message.data(), message.size());
        }
        return;
    default:
        fail(connection, "unknown opcode " + std::to_string(frame.opcode));
        return;
    }
}

void Worker::onMessage(Connection &connection, const char *data, size_t size)
{
    const int64_t now = m_shared.now();
    if (m_shared.options.protocol == Protocol::SocketIo) {
        onSocketIoPacket(connection, data, size, now);
        return;
    }
    const std::string_view type = textAfter(data, size, "\"type\":\"");
    if (type.starts_with("publish\"")) {
        onDelivery(connection, data, size, now);
    } else if (type.starts_with("response\"")) {
        onResponse(connection, data, size, now);
    } else if (type.starts_with("ack\"")) {
        onOpened(connection, now);
    } else if (type.starts_with("error\"")) {
        m_shared.errors.fetch_add(1, std::memory_order_relaxed);
        m_shared.problem("error from the server", std::string(data, std::min<size_t>(size, 300)));
    }
}

void Worker::onDelivery(Connection &connection, const char *data, size_t size, int64_t now)
{
    const int64_t sent = numberAfter(data, size, "\"t\":");
    delivery.add(now - sent);
    ++deliveries;
    const int64_t sequence = numberAfter(data, size, "\"seq\":");
    // One publisher per channel: each subscriber sees its sequences once each, in order.
    const int64_t first = int64_t(connection.channel) * m_shared.options.messages;
    if (sequence != first + connection.done) {
        m_shared.misordered.fetch_add(1, std::memory_order_relaxed);
        m_shared.problem("out of order",
                         "subscriber " + std::to_string(connection.index) + " on server "
                             + std::to_string(connection.server) + " expected seq "
                             + std::to_string(first + connection.done) + ", got "
                             + std::to_string(sequence));
    }
    connection.done = sequence - first + 1;
    countDelivery(sequence);
}

// The opening ack (mtw) or the namespace connect (Socket.IO): subscribers subscribe.
void Worker::onOpened(Connection &connection, int64_t now)
{
    if (connection.acked)
        return;
    connection.acked = true;
    --m_inProgress;
    connect.add(now - connection.startNs);
    m_shared.acked.fetch_add(1, std::memory_order_relaxed);
    atomicMax(m_shared.lastAckNs, now);
    if (connection.role != Role::Subscriber || connection.sse)
        return; // an event stream subscribed with its request
    char text[256];
    const int length = m_shared.options.protocol == Protocol::SocketIo
        ? std::snprintf(text, sizeof text, "420[\"subscribe\",\"bench.c%u\"]", connection.channel)
        : std::snprintf(text,
                        sizeof text,
                        "{\"id\":\"s\",\"type\":\"subscribe\",\"channel\":\"bench.c%u\","
                        "\"payload\":{\"kind\":\"None\"},\"timestamp\":1700000000000}",
                        connection.channel);
    sendText(connection, text, size_t(length));
}

// Engine.IO packet type, then (for "4", a message) the Socket.IO packet: 0 connect, 2 event,
// 3 ack (with its id), 4 connect error, 1 disconnect. Subscribes use ack id 0, publishes
// sequence + 1.
void Worker::onSocketIoPacket(Connection &connection, const char *data, size_t size, int64_t now)
{
    if (size == 0) {
        m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    switch (data[0]) {
    case '0': // Engine.IO open: connect to the main namespace
        sendText(connection, "40", 2);
        return;
    case '2': // ping
        sendText(connection, "3", 1);
        return;
    case '4':
        break;
    default:
        m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const char kind = size > 1 ? data[1] : '?';
    if (kind == '0') {
        onOpened(connection, now);
    } else if (kind == '2' && memmem(data, size, "[\"message\",", 11)) {
        onDelivery(connection, data, size, now);
    } else if (kind == '3') {
        int64_t id = -1;
        const auto parsed = std::from_chars(data + 2, data + size, id);
        if (parsed.ec != std::errc()) {
            m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
        } else if (id == 0) {
            if (memmem(data, size, "\"subscribed\":", 13))
                m_shared.subscribed.fetch_add(1, std::memory_order_relaxed);
            else
                m_shared.problem("odd subscribe ack", std::string(data, size));
        } else {
            ++responses; // Socket.IO counts no recipients
            countDelivery(id - 1);
        }
    } else if (kind == '4' || kind == '1') {
        m_shared.errors.fetch_add(1, std::memory_order_relaxed);
        m_shared.problem("Socket.IO refused", std::string(data, std::min<size_t>(size, 300)));
    } else {
        m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
    }
}

void Worker::onResponse(Connection &connection, const char *data, size_t size, int64_t now)
{
    const std::string_view ref = textAfter(data, size, "\"ref_id\":\"");
    if (ref.empty()) {
        m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    switch (ref.front()) {
    case 's':
        if (memmem(data, size, "\"subscribed\":", 13))
            m_shared.subscribed.fetch_add(1, std::memory_order_relaxed);
        else
            m_shared.problem("odd subscribe response", std::string(data, size));
        return;
    case 'p': {
        int64_t sequence = -1;
        std::from_chars(ref.data() + 1, ref.data() + ref.size(), sequence);
        if (numberAfter(data, size, "\"recipients\":") != m_shared.options.subscribers)
            m_shared.badRecipients.fetch_add(1, std::memory_order_relaxed);
        ++responses;
        countDelivery(sequence);
        return;
    }
    case 'r':
        roundTrip.add(now - numberAfter(data, size, "\"t\":"));
        ++responses;
        ++connection.done;
        m_shared.echoDone.fetch_add(1, std::memory_order_relaxed);
        atomicMax(m_shared.lastCompleteNs, now);
        pumpEcho(connection);
        return;
    default:
        m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
        return;
    }
}

// Deliveries are summed per message locally and added to the shared counter once per epoll batch:
// one atomic per message and batch instead of one per delivery.
void Worker::countDelivery(int64_t sequence)
{
    if (sequence < 0 || sequence >= m_shared.totalMessages) {
        m_shared.unexpected.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (m_pending[size_t(sequence)]++ == 0)
        m_touched.push_back(sequence);
}

void Worker::flushCompletions()
{
    if (m_touched.empty())
        return;
    const int64_t now = m_shared.now();
    const uint32_t expected = m_shared.expectedPerMessage;
    for (const int64_t sequence : m_touched) {
        const uint32_t added = m_pending[size_t(sequence)];
        m_pending[size_t(sequence)] = 0;
        const uint32_t total =
            m_shared.counts[size_t(sequence)].fetch_add(added, std::memory_order_acq_rel) + added;
        if (total > expected) {
            m_shared.overDelivered.fetch_add(std::min(added, total - expected),
                                             std::memory_order_relaxed);
            continue;
        }
        if (total != expected)
            continue;
        completion.add(now - m_shared.sendTime[size_t(sequence)].load(std::memory_order_acquire));
        const auto channel = size_t(sequence / m_shared.options.messages);
        m_shared.channels[channel].completed.fetch_add(1, std::memory_order_release);
        m_shared.completedTotal.fetch_add(1, std::memory_order_relaxed);
        atomicMax(m_shared.lastCompleteNs, now);
        const int owner = m_shared.channels[channel].owner;
        if (owner == m_index)
            m_selfNotify = true;
        else
            m_shared.workers[size_t(owner)]->wake();
    }
    m_touched.clear();
}

void Worker::pumpAll()
{
    for (Connection *connection : m_drivers) {
        if (connection->role == Role::Publisher)
            pumpPublisher(*connection);
        else
            pumpEcho(*connection);
    }
}

void Worker::pumpPublisher(Connection &connection)
{
    if (connection.state != State::Open || !connection.acked || !m_running)
        return;
    const Options &options = m_shared.options;
    const int64_t completed =
        m_shared.channels[connection.channel].completed.load(std::memory_order_acquire);
    bool sentAny = false;
    int64_t due = options.messages;
    if (options.rate > 0) {
        const double elapsed = double(m_shared.now() - m_shared.runStartNs) / 1e9;
        due = std::min<int64_t>(options.messages, int64_t(elapsed * options.rate) + 1);
    }
    while (connection.sent < due && connection.sent - completed < options.window) {
        const int64_t sequence = int64_t(connection.channel) * options.messages + connection.sent;
        const int64_t now = m_shared.now();
        if (connection.sent == 0)
            atomicMin(m_shared.firstPublishNs, now);
        atomicMax(m_shared.lastPublishNs, now);
        m_shared.sendTime[size_t(sequence)].store(now, std::memory_order_release);
        char text[1024];
        const int length = options.protocol == Protocol::SocketIo
            ? std::snprintf(text,
                            sizeof text,
                            "42%lld[\"publish\",\"bench.c%u\",{\"t\":%lld,\"seq\":%lld%s}]",
                            static_cast<long long>(sequence + 1),
                            connection.channel,
                            static_cast<long long>(now),
                            static_cast<long long>(sequence),
                            m_shared.padding.c_str())
            : std::snprintf(
                text,
                sizeof text,
                "{\"id\":\"p%lld\",\"type\":\"publish\",\"channel\":\"bench.c%u\",\"payload\":{"
                "\"kind\":\"Json\",\"data\":{\"t\":%lld,\"seq\":%lld%s}},\"timestamp\":"
                "1700000000000}",
                static_cast<long long>(sequence),
                connection.channel,
                static_cast<long long>(now),
                static_cast<long long>(sequence),
                m_shared.padding.c_str());
        appendFrame(connection.out, OpText, text, size_t(length), nextMask());
        ++connection.sent;
        sentAny = true;
    }
    if (sentAny)
        flush(connection);
}

void Worker::pumpEcho(Connection &connection)
{
    if (connection.state != State::Open || !connection.acked || !m_running)
        return;
    const Options &options = m_shared.options;
    bool sentAny = false;
    while (connection.sent < options.messages
           && connection.sent - connection.done < options.window) {
        char text[1024];
        const int length = std::snprintf(
            text,
            sizeof text,
            "{\"id\":\"r%lld\",\"type\":\"request\",\"payload\":{\"kind\":\"Json\",\"data\":{"
            "\"t\":%lld,\"seq\":%lld%s}},\"timestamp\":1700000000000}",
            static_cast<long long>(connection.sent),
            static_cast<long long>(m_shared.now()),
            static_cast<long long>(connection.sent),
            m_shared.padding.c_str());
        appendFrame(connection.out, OpText, text, size_t(length), nextMask());
        ++connection.sent;
        sentAny = true;
    }
    if (sentAny)
        flush(connection);
}

void Worker::sendText(Connection &connection, const char *data, size_t size)
{
    appendFrame(connection.out, OpText, data, size, nextMask());
    flush(connection);
}

void Worker::flush(Connection &connection)
{
    if (connection.state == State::Dead)
        return;
    while (connection.outOffset < connection.out.size()) {
        const ssize_t written = send(connection.fd,
                                     connection.out.data() + connection.outOffset,
                                     connection.out.size() - connection.outOffset,
                                     MSG_NOSIGNAL);
        if (written > 0) {
            connection.outOffset += size_t(written);
        } else if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else if (written < 0 && errno == EINTR) {
            continue;
        } else {
            fail(connection, std::string("write: ") + std::strerror(errno));
            return;
        }
    }
    const bool pending = connection.outOffset < connection.out.size();
    if (!pending) {
        connection.out.clear();
        connection.outOffset = 0;
    }
    setWantWrite(connection, pending);
}

// The event-stream request of an SSE subscriber, for its one channel.
std::string Worker::sseRequest(const Connection &connection) const
{
    const Options &options = m_shared.options;
    return "GET " + options.ssePath + "?channel=bench.c" + std::to_string(connection.channel)
        + " HTTP/1.1\r\nHost: " + options.host + ":"
        + std::to_string(options.ports[connection.server])
        + "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
}

void Worker::setWantWrite(Connection &connection, bool want)
{
    if (connection.wantWrite == want)
        return;
    connection.wantWrite = want;
    epoll_event event{};
    event.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    event.data.ptr = &connection;
    epoll_ctl(m_epoll, EPOLL_CTL_MOD, connection.fd, &event);
}

void Worker::fail(Connection &connection, const std::string &why)
{
    if (connection.state == State::Dead)
        return;
    if (connection.fd >= 0) {
        epoll_ctl(m_epoll, EPOLL_CTL_DEL, connection.fd, nullptr);
        close(connection.fd);
        connection.fd = -1;
    }
    if (!connection.acked)
        --m_inProgress;
    connection.state = State::Dead;
    std::string().swap(connection.out);
    connection.outOffset = 0;
    m_shared.failed.fetch_add(1, std::memory_order_relaxed);
    std::string detail = std::to_string(connection.index);
    detail.append(": ");
    detail.append(why);
    m_shared.problem("connection failed", detail);
}

// --- the scenario driver ----------------------------------------------------------------------

class Json
{
public:
    Json &field(const char *key, double value)
    {
        char text[64];
        std::snprintf(text, sizeof text, "%.6g", value);
        return raw(key, text);
    }
    Json &field(const char *key, int64_t value) { return raw(key, std::to_string(value)); }
    Json &field(const char *key, const std::string &value)
    {
        std::string quoted = "\"";
        quoted.append(value);
        quoted.push_back('"');
        return raw(key, quoted);
    }
    Json &flag(const char *key, bool value) { return raw(key, value ? "true" : "false"); }
    Json &latency(const char *key, const Histogram &histogram)
    {
        // Microseconds, with ns precision kept as fractions.
        Json inner;
        inner.field("count", int64_t(histogram.count()))
            .field("p50", double(histogram.percentile(0.50)) / 1e3)
            .field("p99", double(histogram.percentile(0.99)) / 1e3)
            .field("p999", double(histogram.percentile(0.999)) / 1e3)
            .field("max", double(histogram.max()) / 1e3)
            .field("mean", histogram.mean() / 1e3);
        return raw(key, inner.text());
    }
    Json &raw(const char *key, const std::string &value)
    {
        if (!m_body.empty())
            m_body.push_back(',');
        m_body.push_back('"');
        m_body.append(key);
        m_body.append("\":");
        m_body.append(value);
        return *this;
    }
    std::string text() const
    {
        std::string result = "{";
        result.append(m_body);
        result.push_back('}');
        return result;
    }

private:
    std::string m_body;
};

const char *scenarioName(Scenario scenario)
{
    switch (scenario) {
    case Scenario::Fanout:
        return "fanout";
    case Scenario::Echo:
        return "echo";
    case Scenario::Storm:
        return "storm";
    case Scenario::Idle:
        return "idle";
    }
    return "?";
}

void runHook(const std::string &command)
{
    if (!command.empty() && std::system(command.c_str()) != 0)
        std::fprintf(stderr, "mtw-loadgen: hook failed: %s\n", command.c_str());
}

} // namespace

int runBenchmark(const Options &options)
{
    raiseFileLimit();
    Shared shared(options);
    shared.epoch = monotonicNs();
    for (const int port : options.ports) {
        shared.upgrades.push_back(upgradeRequest(options.host, port, options.path));
        sockaddr_in target{};
        target.sin_family = AF_INET;
        target.sin_port = htons(uint16_t(port));
        inet_pton(AF_INET, options.host.c_str(), &target.sin_addr);
        shared.targets.push_back(target);
    }
    if (options.payloadBytes > 0)
        shared.padding = ",\"pad\":\"" + std::string(size_t(options.payloadBytes), 'x') + '"';

    const bool fanout = options.scenario == Scenario::Fanout;
    const bool echo = options.scenario == Scenario::Echo;
    const int64_t subscriberCount = fanout ? int64_t(options.channels) * options.subscribers : 0;
    const int64_t connectionCount =
        fanout ? subscriberCount + options.channels : int64_t(options.connections);
    shared.totalMessages = fanout ? int64_t(options.channels) * options.messages : 0;
    shared.expectedPerMessage = uint32_t(options.subscribers) + 1;
    shared.counts = std::vector<std::atomic<uint32_t>>(size_t(shared.totalMessages));
    shared.sendTime = std::vector<std::atomic<int64_t>>(size_t(shared.totalMessages));
    for (int i = 0; fanout && i < options.channels; ++i)
        shared.channels.emplace_back();

    const int threads = std::max(1, options.threads);
    for (int i = 0; i < threads; ++i)
        shared.workers.push_back(std::make_unique<Worker>(shared, i));
    for (int64_t i = 0; i < connectionCount; ++i) {
        Worker &worker = *shared.workers[size_t(i % threads)];
        if (fanout && i < subscriberCount) {
            const auto server = uint8_t(i % int64_t(shared.targets.size()));
            Connection &subscriber = worker.add(Role::Subscriber,
                                                uint32_t(i),
                                                uint32_t(i / options.subscribers),
                                                server);
            subscriber.sse = options.transport == Transport::Sse;
        } else if (fanout) {
            const auto channel = uint32_t(i - subscriberCount);
            worker.add(Role::Publisher, uint32_t(i), channel, 0);
            shared.channels[channel].owner = int(i % threads);
        } else {
            worker.add(echo ? Role::Echo : Role::Plain, uint32_t(i), 0, 0);
        }
    }
    // A storm opens everything at once; the other scenarios pace their setup so that it does not
    // overflow listen backlogs (setup is not what they measure).
    int connectLimit = options.connectConcurrency;
    if (connectLimit == 0)
        connectLimit = options.scenario == Scenario::Storm ? -1 : 512;
    for (auto &worker : shared.workers)
        worker->setConnectLimit(connectLimit > 0 ? std::max(1, connectLimit / threads) : 0);

    const long rssBefore = options.pid > 0 ? readRssKb(options.pid) : -1;
    const int64_t deadline = shared.now() + int64_t(options.timeoutSeconds * 1e9);
    auto waitFor = [&](auto done) {
        while (!done() && shared.now() < deadline
               && (options.scenario == Scenario::Storm || shared.failed.load() == 0))
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        return done();
    };

    const int64_t start = shared.now();
    for (auto &worker : shared.workers)
        worker->start();
    bool ok = waitFor([&] { return shared.acked.load() + shared.failed.load() >= connectionCount; })
        && shared.failed.load() == 0;
    const int64_t connectedNs = shared.lastAckNs.load() - start;
    if (options.scenario == Scenario::Storm)
        runHook(options.afterRun); // the storm is all connects: measured until the last ack
    if (ok && fanout)
        ok = waitFor([&] { return shared.subscribed.load() >= subscriberCount; });
    long rssAfter = -1;
    if (ok && options.scenario == Scenario::Idle) {
        std::this_thread::sleep_for(std::chrono::duration<double>(options.settleSeconds));
        rssAfter = options.pid > 0 ? readRssKb(options.pid) : -1;
    }

    int64_t runNs = 0;
    const int64_t expectedEchoes = echo ? connectionCount * options.messages : 0;
    if (ok && (fanout || echo)) {
        runHook(options.beforeRun);
        const int64_t runStart = shared.now();
        shared.runStartNs = runStart;
        shared.phase.store(PhaseRun, std::memory_order_release);
        for (auto &worker : shared.workers)
            worker->wake();
        ok = waitFor([&] {
            return fanout ? shared.completedTotal.load() >= shared.totalMessages
                          : shared.echoDone.load() >= expectedEchoes;
        });
        runNs = std::max<int64_t>(1, shared.lastCompleteNs.load() - runStart);
        runHook(options.afterRun);
    }
    shared.stop.store(true);
    for (auto &worker : shared.workers)
        worker->join();

    // storm: all drop at once; done when the server has closed every one (its FIN, or a reset).
    int64_t disconnectNs = 0;
    int64_t disconnected = 0;
    int64_t toDisconnect = 0;
    if (ok && options.scenario == Scenario::Storm && !options.afterDisconnect.empty()) {
        std::vector<int> fds;
        for (auto &worker : shared.workers) {
            std::vector<int> own = worker->takeDescriptors();
            fds.insert(fds.end(), own.begin(), own.end());
        }
        toDisconnect = int64_t(fds.size());
        const int poller = epoll_create1(EPOLL_CLOEXEC);
        const int64_t disconnectStart = shared.now();
        for (const int fd : fds) {
            epoll_event event{};
            event.events = EPOLLIN | EPOLLRDHUP;
            event.data.fd = fd;
            epoll_ctl(poller, EPOLL_CTL_ADD, fd, &event);
            shutdown(fd, SHUT_WR);
        }
        std::vector<epoll_event> ready(1024);
        char sink[4096];
        while (disconnected < toDisconnect && shared.now() < deadline) {
            const int n = epoll_wait(poller, ready.data(), int(ready.size()), 100);
            for (int i = 0; i < n; ++i) {
                const int fd = ready[size_t(i)].data.fd;
                ssize_t got = 0;
                while ((got = read(fd, sink, sizeof sink)) > 0) {
                }
                if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(poller, EPOLL_CTL_DEL, fd, nullptr);
                    close(fd);
                    ++disconnected;
                }
            }
        }
        disconnectNs = shared.now() - disconnectStart;
        runHook(options.afterDisconnect);
        close(poller);
        ok = disconnected == toDisconnect;
    }

    Histogram delivery, completion, roundTrip, connect;
    uint64_t deliveries = 0;
    uint64_t responses = 0;
    for (auto &worker : shared.workers) {
        delivery.merge(worker->delivery);
        completion.merge(worker->completion);
        roundTrip.merge(worker->roundTrip);
        connect.merge(worker->connect);
        deliveries += worker->deliveries;
        responses += worker->responses;
    }
    const int64_t expectedDeliveries = shared.totalMessages * options.subscribers;
    bool complete = ok && shared.failed.load() == 0 && shared.errors.load() == 0
        && shared.acked.load() == connectionCount && shared.unexpected.load() == 0;
    if (fanout) {
        complete = complete && int64_t(deliveries) == expectedDeliveries
            && int64_t(responses) == shared.totalMessages && shared.badRecipients.load() == 0
            && shared.overDelivered.load() == 0 && shared.misordered.load() == 0;
    }
    if (echo)
        complete = complete && int64_t(responses) == expectedEchoes;
    if (options.scenario == Scenario::Idle)
        complete = complete && (options.pid <= 0 || (rssBefore > 0 && rssAfter > 0));

    Json json;
    json.field("scenario", std::string(scenarioName(options.scenario)))
        .flag("complete", complete)
        .field("connections", connectionCount)
        .field("acked", shared.acked.load())
        .field("failed", shared.failed.load())
        .field("errors", shared.errors.load())
        .field("closed_by_server", shared.closedByServer.load())
        .field("unexpected", shared.unexpected.load())
        .field("threads", int64_t(threads))
        .field("connect_s", double(connectedNs) / 1e9)
        .latency("connect_us", connect);
    if (toDisconnect > 0) {
        json.field("to_disconnect", toDisconnect)
            .field("disconnected", disconnected)
            .field("disconnect_s", double(disconnectNs) / 1e9);
    }
    const double runSeconds = double(runNs) / 1e9;
    if (fanout) {
        json.field("transport", std::string(options.transport == Transport::Sse ? "sse" : "ws"))
            .field("channels", int64_t(options.channels))
            .field("subscribers_per_channel", int64_t(options.subscribers))
            .field("window", int64_t(options.window))
            .field("messages", shared.totalMessages)
            .field("completed", shared.completedTotal.load())
            .field("expected_deliveries", expectedDeliveries)
            .field("deliveries", int64_t(deliveries))
            .field("over_delivered", shared.overDelivered.load())
            .field("bad_recipients", shared.badRecipients.load())
            .field("misordered", shared.misordered.load())
            .field("servers", int64_t(options.ports.size()))
            .field("rate", options.rate)
            .field("publish_s",
                   shared.lastPublishNs.load() > 0
                       ? double(shared.lastPublishNs.load() - shared.firstPublishNs.load()) / 1e9
                       : 0.0)
            .field("elapsed_s", runSeconds)
            .field("deliveries_per_s", double(deliveries) / runSeconds)
            .field("messages_per_s", double(shared.completedTotal.load()) / runSeconds)
            .latency("latency_us", delivery)
            .latency("completion_us", completion);
    }
    if (echo) {
        json.field("window", int64_t(options.window))
            .field("requests", expectedEchoes)
            .field("responses", int64_t(responses))
            .field("elapsed_s", runSeconds)
            .field("round_trips_per_s", double(responses) / runSeconds)
            .latency("rtt_us", roundTrip);
    }
    if (options.scenario == Scenario::Idle) {
        json.field("rss_before_kb", int64_t(rssBefore))
            .field("rss_after_kb", int64_t(rssAfter))
            .field("rss_per_connection_kb",
                   connectionCount > 0 ? double(rssAfter - rssBefore) / double(connectionCount)
                                       : 0.0);
    }
    std::printf("%s\n", json.text().c_str());
    std::fflush(stdout);
    return complete ? 0 : 1;
}

} // namespace MtwBench
