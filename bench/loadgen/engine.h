// SPDX-License-Identifier: MIT
// The load generator's engine: worker threads, each with an epoll loop over its share of the
// connections, driving one scenario against a mtw-protocol server on loopback.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace MtwBench {

enum class Scenario {
    Fanout, // channels x subscribers, one publisher per channel, windowed publishes
    Echo,   // request (no action) round trips, closed loop per connection
    Storm,  // open every connection at once; time until the last opening ack
    Idle,   // open connections, let them sit, read the server's RSS before and after
};

// What the server speaks. SocketIo: Engine.IO 4 / Socket.IO 5 packets over the WebSocket
// transport, fanout only, against bench/peer/sio-server.js (events subscribe and publish, with
// acks; deliveries are "message" events).
enum class Protocol { Mtw, SocketIo };

// How fan-out subscribers receive (mtw only). Sse: each subscriber is an HTTP/1.1
// `GET <ssePath>?channel=...` whose `data:` lines are the envelopes (docs/http-api.md); the
// publishers still publish over WebSocket.
enum class Transport { WebSocket, Sse };

struct Options
{
    Protocol protocol = Protocol::Mtw;
    Scenario scenario = Scenario::Fanout;
    std::string host = "127.0.0.1";
    int port = 0;
    // More servers (a cluster): subscribers are spread round-robin over `ports`, publishers and
    // the other scenarios use the first. Empty: `port` alone.
    std::vector<int> ports;
    std::string path = "/ws";
    Transport transport = Transport::WebSocket; // of fan-out subscribers
    std::string ssePath = "/api/events";
    int threads = 2;
    int sourceAddrs = 64;       // bind to 127.0.0.2 .. 127.0.0.(1+N); 0 = let the kernel pick
    int channels = 1;           // fanout
    int subscribers = 100;      // fanout: per channel
    int connections = 100;      // echo, storm, idle
    int64_t messages = 100;     // per publisher (fanout) or per connection (echo)
    int window = 1;             // messages in flight per publisher / echo connection
    double rate = 0;            // fanout: publishes per second per publisher; 0 = window-bound
    int connectConcurrency = 0; // handshakes in progress at once; 0 = default for the scenario
    double timeoutSeconds = 60;
    double settleSeconds = 2; // idle: wait before reading RSS
    int pid = 0;              // server pid for RSS (idle)
    int payloadBytes = 0;     // extra padding in each payload
    std::string beforeRun;    // shell command after setup, before the measured phase
    std::string afterRun;     // shell command after the measured phase
    // storm: then every connection is dropped at once (a FIN, no close frame: a network blip
    // or a client fleet going away) and the server's FIN awaited on each; this runs after.
    std::string afterDisconnect;
    // Re-arm TCP_QUICKACK after every read: ACK at once instead of delaying. Shows the latency
    // without a server's Nagle algorithm waiting for delayed ACKs (a server without TCP_NODELAY).
    bool quickAck = false;
    bool verbose = false;
};

// Runs the scenario, prints one JSON object to stdout; returns 0 when everything expected was
// delivered, 1 otherwise.
int runBenchmark(const Options &options);

} // namespace MtwBench
