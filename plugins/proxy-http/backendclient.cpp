// SPDX-License-Identifier: MIT
#include "backendclient.h"

#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSslConfiguration>
#include <QThread>
#include <QTimer>

namespace Mtw::ProxyHttp {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcProxy, "mtw.proxy.http", QtInfoMsg)

namespace {
// A backend answer larger than this is refused (a decision is a few hundred bytes).
constexpr qint64 MaxAnswerBytes = 1024 * 1024;
// Qt 6.4's QNetworkAccessManager opens at most this many HTTP/1.1 connections per host.
constexpr int ConnectionsPerManager = 6;
} // namespace

struct BackendClient::Call
{
    ProxyKind kind = ProxyKind::Connect;
    QByteArray body;
    Headers headers;
    std::function<bool()> wanted;
    Done done;
    QDeadlineTimer deadline;
    QTimer *timer = nullptr;
    QNetworkReply *reply = nullptr;
    bool tooLarge = false;
    bool ended = false;
};

BackendClient::BackendClient(const ProxySettings &settings)
    : m_settings(settings)
{
    m_thread = new QThread;
    m_thread->setObjectName(u"mtw-proxy-http"_s);
    moveToThread(m_thread);
    m_thread->start();
}

BackendClient::~BackendClient()
{
    QMetaObject::invokeMethod(
        this,
        [this] {
            std::vector<std::shared_ptr<Call>> all(m_waiting.cbegin(), m_waiting.cend());
            all.insert(all.end(), m_running.cbegin(), m_running.cend());
            m_waiting.clear();
            for (const auto &call : all) {
                end(call, fail(503, u"backend unavailable: the proxy module stopped"_s));
                if (call->reply) {
                    disconnect(call->reply, nullptr, this, nullptr);
                    call->reply->abort();
                    call->reply->deleteLater();
                }
            }
            m_running.clear();
            for (QNetworkAccessManager *manager : m_managers)
                delete manager;
            m_managers.clear();
            moveToThread(nullptr);
        },
        Qt::BlockingQueuedConnection);
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
}

void BackendClient::post(ProxyKind kind,
                         const QByteArray &body,
                         const Headers &headers,
                         std::function<bool()> wanted,
                         Done done)
{
    const int bound = m_settings.maxConcurrent + m_settings.maxQueue;
    if (m_admitted.fetch_add(1, std::memory_order_acq_rel) >= bound) {
        m_admitted.fetch_sub(1, std::memory_order_acq_rel);
        done(fail(503,
                  u"backend busy: too many requests waiting, try again later"_s,
                  u"%1 backend: %2 calls in flight and %3 queued (max_concurrent, max_queue)"_s
                      .arg(kindName(kind))
                      .arg(m_settings.maxConcurrent)
                      .arg(m_settings.maxQueue)));
        return;
    }
    auto call = std::make_shared<Call>();
    call->kind = kind;
    call->body = body;
    call->headers = headers;
    call->wanted = std::move(wanted);
    call->done = std::move(done);
    call->deadline = QDeadlineTimer(m_settings.timeoutMs);
    QMetaObject::invokeMethod(
        this,
        [this, call] { admit(call); },
        Qt::QueuedConnection);
}

QString BackendClient::problem() const
{
    QStringList problems;
    QMutexLocker lock(&m_mutex);
    for (int kind = 0; kind < ProxyKindCount; ++kind) {
        if (!m_problems[size_t(kind)].isEmpty())
            problems.append(m_problems[size_t(kind)]);
    }
    return problems.join(u"; "_s);
}

void BackendClient::admit(const std::shared_ptr<Call> &call)
{
    call->timer = new QTimer(this);
    call->timer->setSingleShot(true);
    connect(call->timer, &QTimer::timeout, this, [this, call] { expired(call); });
    call->timer->start(int(std::max<qint64>(0, call->deadline.remainingTime())));
    m_waiting.push_back(call);
    sendWaiting();
}

void BackendClient::sendWaiting()
{
    while (m_active.load(std::memory_order_relaxed) < m_settings.maxConcurrent
           && !m_waiting.empty()) {
        const std::shared_ptr<Call> call = m_waiting.front();
        m_waiting.pop_front();
        if (call->wanted && !call->wanted()) {
            end(call, fail(504, u"backend timed out"_s, u"the decision was given up"_s));
            continue;
        }
        send(call);
    }
}

void BackendClient::send(const std::shared_ptr<Call> &call)
{
    if (m_managers.empty()) {
        const int count =
            (m_settings.maxConcurrent + ConnectionsPerManager - 1) / ConnectionsPerManager;
        for (int i = 0; i < count; ++i)
            m_managers.push_back(new QNetworkAccessManager);
    }
    QNetworkAccessManager *manager = m_managers[m_nextManager++ % m_managers.size()];
    QNetworkRequest request(m_settings.url(call->kind));
    request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json"_ba);
    request.setRawHeader("Accept", "application/json");
    // The backend decides; a redirect would send the client's token elsewhere.
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                         QNetworkRequest::ManualRedirectPolicy);
    for (const auto &[name, value] : call->headers)
        request.setRawHeader(name, value);
    for (const auto &[name, value] : m_settings.extraHeaders) // the operator's win
        request.setRawHeader(name, value);
    if (!m_settings.caCertificates.isEmpty()) {
        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        tls.addCaCertificates(m_settings.caCertificates);
        request.setSslConfiguration(tls);
    }
    m_active.fetch_add(1, std::memory_order_relaxed);
    QNetworkReply *reply = manager->post(request, call->body);
    call->reply = reply;
    m_running.push_back(call);
    connect(reply, &QNetworkReply::readyRead, this, [call, reply] {
        if (reply->bytesAvailable() > MaxAnswerBytes && !call->tooLarge) {
            call->tooLarge = true;
            reply->abort();
        }
    });
    connect(reply, &QNetworkReply::finished, this, [this, call] { finished(call); });
}

void BackendClient::finished(const std::shared_ptr<Call> &call)
{
    QNetworkReply *reply = call->reply;
    call->reply = nullptr;
    if (!reply)
        return;
    reply->deleteLater();
    m_active.fetch_sub(1, std::memory_order_relaxed);
    std::erase(m_running, call);
    const QString where = displayUrl(m_settings.url(call->kind));
    const QVariant status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (call->ended) {
        // Timed out and aborted: nothing to answer.
    } else if (call->tooLarge) {
        end(call,
            fail(502,
                 u"backend error: its answer is too large"_s,
                 u"%1 sent more than %2 bytes"_s.arg(where).arg(MaxAnswerBytes)));
    } else if (!status.isValid()) {
        // No HTTP answer at all: refused, unresolvable, reset, TLS failed.
        const QString problem = u"%1 backend %2 unreachable: %3"_s.arg(kindName(call->kind),
                                                                       where,
                                                                       reply->errorString());
        setReachable(call->kind, problem);
        end(call, fail(503, u"backend unavailable"_s, problem));
    } else {
        setReachable(call->kind, {});
        const QByteArray bytes = reply->readAll();
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
        if (status.toInt() != 200) {
            end(call,
                fail(502,
                     u"backend error (HTTP %1)"_s.arg(status.toInt()),
                     u"%1 answered HTTP %2: %3"_s.arg(where)
                         .arg(status.toInt())
                         .arg(QString::fromUtf8(bytes.left(200)).simplified())));
        } else if (!document.isObject()) {
            end(call,
                fail(502,
                     u"backend error: its answer is not a JSON object"_s,
                     u"%1: %2"_s.arg(where,
                                     parseError.error == QJsonParseError::NoError
                                         ? u"not an object"_s
                                         : parseError.errorString())));
        } else {
            end(call, document.object());
        }
    }
    sendWaiting();
}

void BackendClient::expired(const std::shared_ptr<Call> &call)
{
    if (call->ended)
        return;
    const auto waiting = std::find(m_waiting.cbegin(), m_waiting.cend(), call);
    const QString where = displayUrl(m_settings.url(call->kind));
    if (waiting != m_waiting.cend()) {
        m_waiting.erase(waiting);
        end(call,
            fail(504,
                 u"backend timed out"_s,
                 u"%1: no free connection within %2 ms (max_concurrent = %3)"_s.arg(where)
                     .arg(m_settings.timeoutMs)
                     .arg(m_settings.maxConcurrent)));
        return;
    }
    end(call,
        fail(504,
             u"backend timed out"_s,
             u"%1: no answer within timeout_ms = %2"_s.arg(where).arg(m_settings.timeoutMs)));
    if (call->reply)
        call->reply->abort(); // finished() frees the slot
}

void BackendClient::end(const std::shared_ptr<Call> &call, const Result<QJsonObject> &answer)
{
    if (call->ended)
        return;
    call->ended = true;
    if (call->timer) {
        call->timer->stop();
        call->timer->deleteLater();
        call->timer = nullptr;
    }
    m_admitted.fetch_sub(1, std::memory_order_acq_rel);
    const Done done = std::move(call->done);
    call->done = nullptr;
    call->wanted = nullptr;
    if (done)
        done(answer);
}

void BackendClient::setReachable(ProxyKind kind, const QString &problem)
{
    QString before;
    {
        QMutexLocker lock(&m_mutex);
        before = m_problems[size_t(kind)];
        m_problems[size_t(kind)] = problem;
    }
    // Logged once per change of state, not per call.
    if (before.isEmpty() && !problem.isEmpty()) {
        qCWarning(lcProxy).noquote()
            << "mtw-proxy-http:" << problem << "- clients get 503 until it answers";
    } else if (!before.isEmpty() && problem.isEmpty()) {
        qCInfo(lcProxy).noquote() << "mtw-proxy-http:" << kindName(kind) << "backend"
                                  << displayUrl(m_settings.url(kind)) << "answers again";
    }
}

} // namespace Mtw::ProxyHttp
