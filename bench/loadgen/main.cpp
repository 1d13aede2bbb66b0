// SPDX-License-Identifier: MIT
// mtw-loadgen: drives one benchmark scenario against a mtw-protocol WebSocket server on loopback
// and prints its measurements as one JSON object. bench/run runs it; see docs/performance.md.
#include "engine.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

void usage(FILE *out)
{
    std::fprintf(
        out,
        "usage: mtw-loadgen --port P [options]\n"
        "  --scenario fanout|echo|storm|idle   (fanout)\n"
        "  --host 127.0.0.x          server address, loopback only (127.0.0.1)\n"
        "  --ports P1,P2,...         several servers (a cluster): subscribers round-robin over\n"
        "                            them, publishers and the other scenarios on P1\n"
        "  --protocol mtw|socketio   what the server speaks (mtw); socketio: Socket.IO 4 over\n"
        "                            WebSocket, fanout only (bench/peer/sio-server.js)\n"
        "  --path /ws                upgrade path (socketio: "
        "/socket.io/?EIO=4&transport=websocket)\n"
        "  --transport ws|sse        fanout, mtw: how subscribers receive (ws); sse: Server-Sent\n"
        "                            Events, GET <sse-path>?channel=...; publishers use WebSocket\n"
        "  --sse-path /api/events    the event-stream path (transport.http.prefix + /events)\n"
        "  --threads N               epoll threads (number of cores)\n"
        "  --source-addrs N          bind to 127.0.0.2..127.0.0.(N+1); 0 = no bind (64)\n"
        "  --channels N              fanout: channels, one publisher each (1)\n"
        "  --subscribers N           fanout: subscribers per channel (100)\n"
        "  --connections N           echo/storm/idle: connections (100)\n"
        "  --messages N              per publisher (fanout) or per connection (echo) (100)\n"
        "  --window N                messages in flight per publisher/connection (1)\n"
        "  --rate N                  fanout: publishes per second per publisher, paced by a\n"
        "                            timer (still bounded by --window); 0 = as the window allows\n"
        "  --connect-concurrency N   handshakes in progress at once (storm: all, else 512)\n"
        "  --timeout S               give up after S seconds (60)\n"
        "  --settle S                idle: wait before reading RSS (2)\n"
        "  --pid PID                 idle: server process whose VmRSS is read\n"
        "  --payload-bytes N         padding added to each payload (0)\n"
        "  --before-run CMD          shell command run after setup, before the measured phase\n"
        "  --after-run CMD           shell command run after the measured phase (storm: at\n"
        "                            the last ack)\n"
        "  --after-disconnect CMD    storm: every connection then drops at once (FIN); run\n"
        "                            once the server has closed each of them\n"
        "  --quickack                ACK every read at once (TCP_QUICKACK), not delayed\n"
        "  --verbose\n");
}

bool parseInt(const char *text, long long low, long long high, long long &value)
{
    char *end = nullptr;
    errno = 0;
    value = std::strtoll(text, &end, 10);
    return errno == 0 && end != text && *end == '\0' && value >= low && value <= high;
}

} // namespace

int main(int argc, char **argv)
{
    MtwBench::Options options;
    options.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    bool pathGiven = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        }
        if (arg == "--verbose") {
            options.verbose = true;
            continue;
        }
        if (arg == "--quickack") {
            options.quickAck = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "mtw-loadgen: %s needs a value\n", arg.c_str());
            return 64;
        }
        const char *value = argv[++i];
        long long number = 0;
        auto integer = [&](long long low, long long high) {
            if (!parseInt(value, low, high, number)) {
                std::fprintf(stderr,
                             "mtw-loadgen: %s: expected an integer %lld-%lld, got \"%s\"\n",
                             arg.c_str(),
                             low,
                             high,
                             value);
                std::exit(64);
            }
            return number;
        };
        if (arg == "--scenario") {
            const std::string name = value;
            if (name == "fanout")
                options.scenario = MtwBench::Scenario::Fanout;
            else if (name == "echo")
                options.scenario = MtwBench::Scenario::Echo;
            else if (name == "storm")
                options.scenario = MtwBench::Scenario::Storm;
            else if (name == "idle")
                options.scenario = MtwBench::Scenario::Idle;
            else {
                std::fprintf(stderr, "mtw-loadgen: unknown scenario \"%s\"\n", value);
                return 64;
            }
        } else if (arg == "--host") {
            options.host = value;
        } else if (arg == "--port") {
            options.port = int(integer(1, 65535));
        } else if (arg == "--ports") {
            options.ports.clear();
            const std::string list = value;
            size_t begin = 0;
            while (begin <= list.size()) {
                const size_t end = std::min(list.find(',', begin), list.size());
                const std::string item = list.substr(begin, end - begin);
                long long port = 0;
                if (!parseInt(item.c_str(), 1, 65535, port)) {
                    std::fprintf(stderr, "mtw-loadgen: --ports: bad port \"%s\"\n", item.c_str());
                    return 64;
                }
                options.ports.push_back(int(port));
                begin = end + 1;
            }
            if (options.ports.size() > 64) {
                std::fprintf(stderr, "mtw-loadgen: --ports: at most 64 servers\n");
                return 64;
            }
            options.port = options.ports.front();
        } else if (arg == "--rate") {
            options.rate = double(integer(0, 1000000));
        } else if (arg == "--path") {
            options.path = value;
            pathGiven = true;
        } else if (arg == "--transport") {
            const std::string name = value;
            if (name == "ws")
                options.transport = MtwBench::Transport::WebSocket;
            else if (name == "sse")
                options.transport = MtwBench::Transport::Sse;
            else {
                std::fprintf(stderr,
                             "mtw-loadgen: --transport: expected ws or sse, got \"%s\"\n",
                             value);
                return 64;
            }
        } else if (arg == "--sse-path") {
            options.ssePath = value;
            if (options.ssePath.empty() || options.ssePath.front() != '/'
                || options.ssePath.find_first_of("?# \r\n") != std::string::npos) {
                std::fprintf(stderr,
                             "mtw-loadgen: --sse-path: expected a path such as /api/events, got "
                             "\"%s\"\n",
                             value);
                return 64;
            }
        } else if (arg == "--protocol") {
            const std::string name = value;
            if (name == "mtw")
                options.protocol = MtwBench::Protocol::Mtw;
            else if (name == "socketio")
                options.protocol = MtwBench::Protocol::SocketIo;
            else {
                std::fprintf(stderr, "mtw-loadgen: unknown protocol \"%s\"\n", value);
                return 64;
            }
        } else if (arg == "--threads") {
            options.threads = int(integer(1, 64));
        } else if (arg == "--source-addrs") {
            options.sourceAddrs = int(integer(0, 250));
        } else if (arg == "--channels") {
            options.channels = int(integer(1, 100000));
        } else if (arg == "--subscribers") {
            options.subscribers = int(integer(0, 1000000));
        } else if (arg == "--connections") {
            options.connections = int(integer(1, 1000000));
        } else if (arg == "--messages") {
            options.messages = integer(0, 100000000);
        } else if (arg == "--window") {
            options.window = int(integer(1, 1000000));
        } else if (arg == "--connect-concurrency") {
            options.connectConcurrency = int(integer(0, 1000000));
        } else if (arg == "--timeout") {
            options.timeoutSeconds = double(integer(1, 3600));
        } else if (arg == "--settle") {
            options.settleSeconds = double(integer(0, 600));
        } else if (arg == "--pid") {
            options.pid = int(integer(1, 1 << 30));
        } else if (arg == "--payload-bytes") {
            options.payloadBytes = int(integer(0, 400));
        } else if (arg == "--before-run") {
            options.beforeRun = value;
        } else if (arg == "--after-run") {
            options.afterRun = value;
        } else if (arg == "--after-disconnect") {
            options.afterDisconnect = value;
        } else {
            std::fprintf(stderr, "mtw-loadgen: unknown option %s\n", arg.c_str());
            usage(stderr);
            return 64;
        }
    }
    if (options.port == 0) {
        usage(stderr);
        return 64;
    }
    if (options.ports.empty())
        options.ports.push_back(options.port);
    if (options.protocol == MtwBench::Protocol::SocketIo) {
        if (options.scenario != MtwBench::Scenario::Fanout) {
            std::fprintf(stderr,
                         "mtw-loadgen: --protocol socketio runs the fanout scenario only\n");
            return 64;
        }
        if (!pathGiven)
            options.path = "/socket.io/?EIO=4&transport=websocket";
    }
    if (options.transport == MtwBench::Transport::Sse
        && (options.scenario != MtwBench::Scenario::Fanout
            || options.protocol != MtwBench::Protocol::Mtw)) {
        std::fprintf(stderr, "mtw-loadgen: --transport sse runs the mtw fanout scenario only\n");
        return 64;
    }
    // Benchmarks only ever target this machine.
    if (options.host.rfind("127.", 0) != 0) {
        std::fprintf(stderr, "mtw-loadgen: --host must be a 127.x.y.z loopback address\n");
        return 64;
    }
    if (int64_t(options.channels) * options.messages > 50'000'000) {
        std::fprintf(stderr, "mtw-loadgen: channels x messages is limited to 50,000,000\n");
        return 64;
    }
    return MtwBench::runBenchmark(options);
}
