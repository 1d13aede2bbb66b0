// SPDX-License-Identifier: MIT
// mtw-floor: the floor for bench/run (issue 19). The subset of the mtw protocol that mtw-loadgen
// speaks (opening ack, subscribe, unsubscribe, publish with fan-out and a response carrying the
// recipients, request echo, ping/close frames) with no protocol work at all: no JSON parser (the
// fields are found with memmem), no ids, no history, the publish forwarded as it came, framed once
// and the same bytes written to every subscriber. One thread, one level-triggered epoll loop,
// non-blocking sockets. What mtwserver costs beyond this is the room left.
//
//   mtw-floor [--host 127.0.0.1] [--port 8090] [--batched] [--backlog 4096]
//
// Default: one write() per delivery, as soon as it is made (EPOLLOUT armed only for what the
// kernel did not take). --batched: frames are appended to each connection's buffer while the
// events of one epoll_wait are handled, then every connection written to gets one write().
#include "../loadgen/wsframe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

struct Connection
{
    int fd = -1;
    bool upgraded = false;
    bool dirty = false;      // --batched: in the list of connections to write
    bool wantsWrite = false; // EPOLLOUT armed
    bool closed = false;
    std::string in;
    std::string out; // what the kernel has not taken yet
    std::vector<std::string> channels;
};

struct Options
{
    std::string host = "127.0.0.1";
    int port = 8090;
    int backlog = 4096;
    bool batched = false;
};

class Floor
{
public:
    explicit Floor(const Options &options)
        : m_options(options)
    { }

    int run();

private:
    void acceptAll();
    void onReadable(Connection &connection);
    void onWritable(Connection &connection);
    bool handleHead(Connection &connection);
    void handleFrames(Connection &connection);
    void handleMessage(Connection &connection, std::string_view message);
    void send(Connection &connection, std::string_view bytes);
    void flush(Connection &connection);
    void setWriteInterest(Connection &connection, bool on);
    void close(Connection &connection);

    Options m_options;
    int m_epoll = -1;
    int m_listener = -1;
    std::vector<std::unique_ptr<Connection>> m_byFd;
    std::unordered_map<std::string, std::vector<Connection *>> m_channels;
    std::vector<Connection *> m_dirty;
    std::vector<std::unique_ptr<Connection>> m_closed; // freed after the current batch
};

std::string_view textAfter(std::string_view data, std::string_view key)
{
    const size_t at = data.find(key);
    if (at == std::string_view::npos)
        return {};
    const size_t start = at + key.size();
    const size_t end = data.find('"', start);
    return end == std::string_view::npos ? std::string_view{} : data.substr(start, end - start);
}

std::string wsFrame(unsigned char opcode, std::string_view payload)
{
    std::string out;
    out.reserve(payload.size() + 10);
    out.push_back(char(0x80 | opcode));
    const uint64_t size = payload.size();
    if (size < 126) {
        out.push_back(char(size));
    } else if (size <= 0xffff) {
        out.push_back(char(126));
        out.push_back(char(size >> 8));
        out.push_back(char(size & 0xff));
    } else {
        out.push_back(char(127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(char((size >> shift) & 0xff));
    }
    out.append(payload);
    return out;
}

std::string acceptKey(std::string_view key)
{
    const std::string text = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
    unsigned char encoded[64];
    const int size = EVP_EncodeBlock(encoded, digest, int(length));
    return std::string(reinterpret_cast<char *>(encoded), size_t(size));
}

std::string response(std::string_view refId, std::string_view channel, const std::string &data)
{
    std::string text = R"({"id":"f","type":"response","ref_id":")";
    text.append(refId);
    text.append(R"(","channel":")");
    text.append(channel);
    text.append(R"(","payload":{"kind":"Json","data":)");
    text.append(data);
    text.append(R"(},"timestamp":0})");
    return wsFrame(0x1, text);
}

int Floor::run()
{
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(m_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(uint16_t(m_options.port));
    if (::inet_pton(AF_INET, m_options.host.c_str(), &address.sin_addr) != 1) {
        std::fprintf(stderr,
                     "mtw-floor: --host %s is not an IPv4 address\n",
                     m_options.host.c_str());
        return 64;
    }
    if (::bind(m_listener, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0
        || ::listen(m_listener, m_options.backlog) != 0) {
        std::fprintf(stderr,
                     "mtw-floor: cannot listen on %s:%d: %s\n",
                     m_options.host.c_str(),
                     m_options.port,
                     std::strerror(errno));
        return 1;
    }
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = m_listener;
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_listener, &event);
    std::printf("mtw-floor listening on ws://%s:%d (%s)\n",
                m_options.host.c_str(),
                m_options.port,
                m_options.batched ? "batched" : "one write per delivery");
    std::fflush(stdout);

    std::vector<epoll_event> events(512);
    for (;;) {
        const int count = ::epoll_wait(m_epoll, events.data(), int(events.size()), -1);
        if (count < 0 && errno != EINTR) {
            std::perror("mtw-floor: epoll_wait");
            return 1;
        }
        for (int i = 0; i < count; ++i) {
            const int fd = events[i].data.fd;
            if (fd == m_listener) {
                acceptAll();
                continue;
            }
            Connection *connection =
                size_t(fd) < m_byFd.size() ? m_byFd[size_t(fd)].get() : nullptr;
            if (!connection)
                continue;
            if (events[i].events & EPOLLOUT)
                onWritable(*connection);
            if (!connection->closed && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                onReadable(*connection);
        }
        for (Connection *connection : m_dirty) {
            connection->dirty = false;
            if (!connection->closed)
                flush(*connection);
        }
        m_dirty.clear();
        m_closed.clear();
    }
}

void Floor::acceptAll()
{
    for (;;) {
        const int fd = ::accept4(m_listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; // EAGAIN, or out of descriptors: the next wake-up tries again
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (m_byFd.size() <= size_t(fd))
            m_byFd.resize(size_t(fd) + 1024);
        m_byFd[size_t(fd)] = std::make_unique<Connection>();
        m_byFd[size_t(fd)]->fd = fd;
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = fd;
        ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &event);
    }
}

void Floor::onReadable(Connection &connection)
{
    char buffer[65536];
    for (;;) {
        const ssize_t got = ::read(connection.fd, buffer, sizeof buffer);
        if (got > 0) {
            connection.in.append(buffer, size_t(got));
            if (size_t(got) < sizeof buffer)
                break;
            continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(connection);
            return;
        }
        break;
    }
    if (!connection.upgraded && !handleHead(connection))
        return;
    if (connection.upgraded)
        handleFrames(connection);
}

// The request head: GET /status answers "ok", anything with a Sec-WebSocket-Key is upgraded.
bool Floor::handleHead(Connection &connection)
{
    const size_t end = connection.in.find("\r\n\r\n");
    if (end == std::string::npos)
        return false;
    const std::string_view head(connection.in.data(), end);
    if (head.starts_with("GET /status ")) {
        connection.out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        close(connection);
        return false;
    }
    size_t at = std::string_view::npos;
    for (const std::string_view name : {"Sec-WebSocket-Key:", "sec-websocket-key:"}) {
        if ((at = head.find(name)) != std::string_view::npos) {
            at += name.size();
            break;
        }
    }
    if (at == std::string_view::npos) {
        connection.out =
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        close(connection);
        return false;
    }
    while (at < head.size() && head[at] == ' ')
        ++at;
    const size_t lineEnd = head.find("\r\n", at);
    const std::string_view key =
        head.substr(at, lineEnd == std::string_view::npos ? head.size() - at : lineEnd - at);
    std::string reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
    reply += acceptKey(key);
    reply += "\r\n\r\n";
    const std::string connId = "c" + std::to_string(connection.fd);
    reply +=
        wsFrame(0x1,
                R"({"id":"f","type":"ack","payload":{"kind":"Json","data":{"conn_id":")" + connId
                    + R"("}},"metadata":{"conn_id":")" + connId + R"("},"timestamp":0})");
    send(connection, reply);
    connection.upgraded = true;
    connection.in.erase(0, end + 4);
    return true;
}

void Floor::handleFrames(Connection &connection)
{
    size_t offset = 0;
    std::string &in = connection.in;
    MtwBench::FrameView frame;
    while (!connection.closed) {
        const auto parsed = MtwBench::parseFrame(in.data() + offset, in.size() - offset, frame);
        if (parsed == MtwBench::ParseResult::NeedMore)
            break;
        if (parsed == MtwBench::ParseResult::Invalid || !frame.fin
            || frame.opcode == MtwBench::OpContinuation || frame.opcode == MtwBench::OpBinary) {
            send(connection, wsFrame(0x8, "\x03\xf3")); // 1011: only whole text frames here
            close(connection);
            return;
        }
        offset += frame.frameBytes;
        const std::string_view payload(frame.payload, frame.size);
        switch (frame.opcode) {
        case MtwBench::OpText:
            handleMessage(connection, payload);
            break;
        case MtwBench::OpClose:
            send(connection, wsFrame(0x8, payload.substr(0, 2)));
            close(connection);
            return;
        case MtwBench::OpPing:
            send(connection, wsFrame(0xA, payload));
            break;
        default:
            break;
        }
    }
    in.erase(0, offset);
}

void Floor::handleMessage(Connection &connection, std::string_view message)
{
    const std::string_view type = textAfter(message, R"("type":")");
    const std::string_view id = textAfter(message, R"("id":")");
    const std::string channel(textAfter(message, R"("channel":")"));
    if (type == "publish") {
        const std::string delivery = wsFrame(0x1, message); // once, the same bytes to everyone
        int recipients = 0;
        const auto members = m_channels.find(channel);
        if (members != m_channels.end()) {
            for (Connection *member : members->second) {
                if (member != &connection && !member->closed) {
                    send(*member, delivery);
                    ++recipients;
                }
            }
        }
        send(connection,
             response(id,
                      channel,
                      R"({"published":")" + channel + R"(","recipients":)"
                          + std::to_string(recipients) + "}"));
    } else if (type == "subscribe") {
        std::vector<Connection *> &members = m_channels[channel];
        members.push_back(&connection);
        connection.channels.push_back(channel);
        send(connection,
             response(id,
                      channel,
                      R"({"subscribed":")" + channel + R"(","members":)"
                          + std::to_string(members.size()) + "}"));
    } else if (type == "unsubscribe") {
        std::vector<Connection *> &members = m_channels[channel];
        std::erase(members, &connection);
        std::erase(connection.channels, channel);
        send(connection, response(id, channel, R"({"unsubscribed":")" + channel + R"("})"));
    } else if (type == "request") {
        // The request itself comes back inside the response: its payload (the send time) too.
        std::string text = R"({"id":"f","type":"response","ref_id":")";
        text.append(id);
        text.append(R"(","request":)");
        text.append(message);
        text.append("}");
        send(connection, wsFrame(0x1, text));
    }
}

void Floor::send(Connection &connection, std::string_view bytes)
{
    if (connection.closed)
        return;
    if (m_options.batched || !connection.out.empty()) {
        connection.out.append(bytes);
        if (m_options.batched && !connection.dirty) {
            connection.dirty = true;
            m_dirty.push_back(&connection);
        }
        return;
    }
    const ssize_t written = ::send(connection.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (written < 0 && errno != EAGAIN && errno != EINTR) {
        close(connection);
        return;
    }
    const size_t taken = written < 0 ? 0 : size_t(written);
    if (taken < bytes.size()) {
        connection.out.append(bytes.substr(taken));
        setWriteInterest(connection, true);
    }
}

void Floor::flush(Connection &connection)
{
    while (!connection.out.empty()) {
        const ssize_t written =
            ::send(connection.fd, connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                close(connection);
            break;
        }
        connection.out.erase(0, size_t(written));
    }
    if (!connection.closed)
        setWriteInterest(connection, !connection.out.empty());
}

void Floor::onWritable(Connection &connection)
{
    flush(connection);
}

void Floor::setWriteInterest(Connection &connection, bool on)
{
    if (connection.wantsWrite == on)
        return;
    connection.wantsWrite = on;
    epoll_event event{};
    event.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    event.data.fd = connection.fd;
    ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, connection.fd, &event);
}

void Floor::close(Connection &connection)
{
    if (connection.closed)
        return;
    // What is still queued (a close frame, an HTTP answer) gets one try.
    if (!connection.out.empty())
        (void)::send(connection.fd, connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
    connection.closed = true;
    for (const std::string &channel : connection.channels) {
        const auto members = m_channels.find(channel);
        if (members != m_channels.end())
            std::erase(members->second, &connection);
    }
    ::close(connection.fd); // also leaves the epoll set
    // Freed after the batch: later events and the dirty list may still point at it.
    m_closed.push_back(std::move(m_byFd[size_t(connection.fd)]));
}

} // namespace

int main(int argc, char **argv)
{
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool hasValue = i + 1 < argc;
        if (arg == "--batched") {
            options.batched = true;
        } else if (arg == "--host" && hasValue) {
            options.host = argv[++i];
        } else if (arg == "--port" && hasValue) {
            options.port = std::atoi(argv[++i]);
        } else if (arg == "--backlog" && hasValue) {
            options.backlog = std::atoi(argv[++i]);
        } else if (arg == "--help" || arg == "-h") {
            std::printf(
                "usage: mtw-floor [--host 127.0.0.1] [--port 8090] [--batched] [--backlog 4096]\n");
            return 0;
        } else {
            std::fprintf(stderr, "mtw-floor: unknown option or missing value: %s\n", argv[i]);
            return 64;
        }
    }
    if (options.port <= 0 || options.port > 65535 || options.backlog <= 0) {
        std::fprintf(stderr, "mtw-floor: --port must be 1..65535 and --backlog positive\n");
        return 64;
    }
    return Floor(options).run();
}
