// SPDX-License-Identifier: MIT
// The HTTP side of mtw-proxy-http: JSON POSTs to the backend from a thread of the module's own.
#pragma once

#include "proxysettings.h"

#include <QDeadlineTimer>
#include <QJsonObject>
#include <QMutex>
#include <QObject>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

class QNetworkAccessManager;
class QNetworkReply;
class QThread;

namespace Mtw::ProxyHttp {

// One QThread ("mtw-proxy-http") with the QNetworkAccessManagers; post() may be called from any
// thread (the I/O workers) and returns at once. At most `max_concurrent` calls are in flight;
// up to `max_queue` more wait for a free slot; beyond that a call fails at once with 503. Each
// call ends within `timeout_ms` of post() (504 "backend timed out"), queueing included.
//
// Qt 6.4 opens at most 6 HTTP/1.1 connections per host and manager, so the client keeps one
// manager per 6 slots and spreads the calls over them: max_concurrent really is the bound.
class BackendClient : public QObject
{
    Q_OBJECT

public:
    // The backend's answer: the JSON object it sent with HTTP 200, or what went wrong
    // (503 unreachable or busy, 504 timed out, 502 an HTTP error or not a JSON object).
    using Done = std::function<void(const Result<QJsonObject> &)>;
    using Headers = QList<QPair<QByteArray, QByteArray>>;

    explicit BackendClient(const ProxySettings &settings);
    ~BackendClient() override; // fails what is queued or in flight (503) and stops the thread

    // `wanted` is asked before the call goes out (a decision whose deadline passed is not sent);
    // `done` is called exactly once, from the client's thread, or from the caller's own at once
    // when the queue is full.
    void post(ProxyKind kind,
              const QByteArray &body,
              const Headers &headers,
              std::function<bool()> wanted,
              Done done);

    // Any thread. Empty while every backend answered its last call; else what failed.
    QString problem() const;
    int inFlight() const { return m_active.load(std::memory_order_relaxed); }

private:
    struct Call;
    void admit(const std::shared_ptr<Call> &call);
    void sendWaiting();
    void send(const std::shared_ptr<Call> &call);
    void finished(const std::shared_ptr<Call> &call);
    void expired(const std::shared_ptr<Call> &call);
    void end(const std::shared_ptr<Call> &call, const Result<QJsonObject> &answer);
    void setReachable(ProxyKind kind, const QString &problem);

    const ProxySettings m_settings;
    QThread *m_thread = nullptr;
    // Made in the client's thread, on first use.
    std::vector<QNetworkAccessManager *> m_managers;
    size_t m_nextManager = 0;
    std::deque<std::shared_ptr<Call>> m_waiting;
    std::vector<std::shared_ptr<Call>> m_running;
    std::atomic<int> m_admitted{0}; // queued or in flight: what post() checks the bound against
    std::atomic<int> m_active{0};   // in flight
    mutable QMutex m_mutex;
    std::array<QString, ProxyKindCount> m_problems; // under m_mutex; empty = reachable
};

} // namespace Mtw::ProxyHttp
