// SPDX-License-Identifier: MIT
#include "providerengine.h"

#include "providerlog.h"

#include <mtw/tsan.h>

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QThread>
#include <QTimer>

#include <cmath>

namespace Mtw::Ai {

using namespace Qt::StringLiterals;

namespace {
constexpr qsizetype MaxErrorBody = 64 * 1024;
}

QString ProviderFormat::errorMessage(const QByteArray &body)
{
    const QJsonObject object = QJsonDocument::fromJson(body).object();
    const QJsonValue error = object.value(u"error"_s);
    if (error.isObject()) {
        const QJsonObject detail = error.toObject();
        const QString type = detail.value(u"type"_s).toString();
        const QString message = detail.value(u"message"_s).toString();
        return type.isEmpty() ? message : u"%1: %2"_s.arg(type, message);
    }
    if (error.isString())
        return error.toString();
    if (object.value(u"message"_s).isString())
        return object.value(u"message"_s).toString();
    return QString::fromUtf8(body.left(200)).simplified();
}

struct ProviderEngine::Call
{
    Call(const QString &callId, const QByteArray &requestBody, const AgentStream &agentStream)
        : id(callId)
        , body(requestBody)
        , stream(agentStream)
    { }
    QString id;
    QByteArray body;
    AgentStream stream;
    int attempt = 0; // retries made so far
    QNetworkReply *reply = nullptr;
    QTimer *idle = nullptr;
    std::unique_ptr<StreamDecoder> decoder;
    SseParser parser;
    QByteArray errorBody;
    bool timedOut = false;
    bool ended = false;
};

ProviderEngine::ProviderEngine(const ProviderSettings &settings,
                               std::shared_ptr<const ProviderFormat> format)
    : m_settings(settings)
    , m_format(std::move(format))
{
    m_thread = new QThread;
    m_thread->setObjectName(u"mtw-ai-"_s + settings.name);
    moveToThread(m_thread);
    m_thread->start();
}

ProviderEngine::~ProviderEngine()
{
    QMetaObject::invokeMethod(
        this,
        [this] {
            const auto calls = m_calls.values();
            for (const auto &call : calls)
                end(call, Error{503, u"the provider module stopped"_s});
            delete m_network;
            m_network = nullptr;
            moveToThread(nullptr);
            // What this thread did is ordered before the caller goes on by Qt's semaphore for a
            // blocking call, which TSan does not see.
            Mtw::Tsan::release(this);
        },
        Qt::BlockingQueuedConnection);
    Mtw::Tsan::acquire(this);
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
}

int ProviderEngine::activeCalls() const
{
    return m_active.load(std::memory_order_relaxed);
}

void ProviderEngine::start(const AgentRequest &request, const AgentStream &stream)
{
    auto call = std::make_shared<Call>(stream.callId(), m_format->body(request), stream);
    m_active.fetch_add(1, std::memory_order_relaxed);
    // The call was made in the caller's thread and is read from here on in the engine's.
    Mtw::Tsan::release(call.get());
    QMetaObject::invokeMethod(
        this,
        [this, call] {
            Mtw::Tsan::acquire(call.get());
            m_calls.insert(call->id, call);
            send(call);
        },
        Qt::QueuedConnection);
}

void ProviderEngine::cancel(const QString &callId)
{
    QMetaObject::invokeMethod(
        this,
        [this, callId] {
            if (const auto call = m_calls.value(callId)) {
                qCDebug(lcProvider).noquote() << m_settings.name << "call" << callId << "cancelled";
                end(call, std::nullopt);
            }
        },
        Qt::QueuedConnection);
}

void ProviderEngine::send(const std::shared_ptr<Call> &call)
{
    if (call->ended)
        return;
    if (!m_network)
        m_network = new QNetworkAccessManager;
    QNetworkRequest request(m_settings.url);
    for (const auto &[name, value] : m_format->headers())
        request.setRawHeader(name, value);
    call->decoder = m_format->decoder();
    call->parser = SseParser();
    call->errorBody.clear();
    call->timedOut = false;
    QNetworkReply *reply = m_network->post(request, call->body);
    call->reply = reply;
    if (!call->idle) {
        call->idle = new QTimer(this);
        call->idle->setSingleShot(true);
        connect(call->idle, &QTimer::timeout, this, [call] {
            call->timedOut = true;
            if (call->reply)
                call->reply->abort(); // finished() follows
        });
    }
    call->idle->start(m_settings.timeoutMs);
    connect(reply, &QNetworkReply::readyRead, this, [this, call, reply] {
        if (call->reply == reply)
            onReadyRead(call);
    });
    connect(reply, &QNetworkReply::finished, this, [this, call, reply] {
        reply->deleteLater();
        if (call->reply != reply)
            return;
        onFinished(call);
        call->reply = nullptr;
    });
}

void ProviderEngine::onReadyRead(const std::shared_ptr<Call> &call)
{
    if (call->ended)
        return;
    call->idle->start(m_settings.timeoutMs);
    QNetworkReply *reply = call->reply;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status != 200) {
        call->errorBody.append(reply->read(MaxErrorBody - call->errorBody.size()));
        reply->readAll(); // the rest is not kept
        return;
    }
    const auto events = call->parser.feed(reply->readAll());
    for (const SseEvent &event : events) {
        const auto done = call->decoder->onEvent(event, call->stream);
        if (!done) {
            end(call, done.error());
            return;
        }
        if (*done) {
            end(call, std::nullopt);
            return;
        }
    }
}

void ProviderEngine::onFinished(const std::shared_ptr<Call> &call)
{
    if (call->ended)
        return;
    QNetworkReply *reply = call->reply;
    if (call->timedOut) {
        end(call,
            Error{504,
                  u"the provider sent nothing for %1 s (timeout)"_s.arg(m_settings.timeoutMs
                                                                        / 1000)});
        return;
    }
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 0) {
        retryOrFail(
            call,
            0,
            Error{503,
                  u"cannot reach the provider at %1:%2 (%3)"_s.arg(m_settings.url.host())
                      .arg(m_settings.url.port(m_settings.url.scheme() == u"https" ? 443 : 80))
                      .arg(reply->errorString())},
            QByteArray());
        return;
    }
    if (status == 200) {
        onReadyRead(call); // anything still buffered
        if (call->ended)
            return;
        const auto done = call->decoder->onEnd(call->stream);
        if (!done)
            end(call, done.error());
        else if (*done)
            end(call, std::nullopt);
        else
            end(call, Error{502, u"the provider's stream ended before the answer was complete"_s});
        return;
    }
    call->errorBody.append(reply->readAll().left(MaxErrorBody));
    QString detail = ProviderFormat::errorMessage(call->errorBody);
    detail = detail.isEmpty() ? QString() : u": "_s + detail;
    const QByteArray retryAfter = reply->rawHeader("retry-after");
    if (status == 429) {
        retryOrFail(call,
                    status,
                    Error{429, u"the provider is rate limiting (HTTP 429%1)"_s.arg(detail)},
                    retryAfter);
    } else if (status >= 500) {
        retryOrFail(call,
                    status,
                    Error{503,
                          u"the provider is unavailable (HTTP %1%2%3)"_s.arg(status).arg(
                              status == 529 ? u" overloaded"_s : QString(),
                              detail)},
                    retryAfter);
    } else if (status == 401) {
        // The one refusal an operator fixes outside the request: say where.
        end(call,
            Error{502,
                  u"the provider did not accept the API key (HTTP 401%1); check the module's "
                  u"api_key"_s.arg(detail)});
    } else {
        end(call,
            Error{502, u"the provider refused the request (HTTP %1%2)"_s.arg(status).arg(detail)});
    }
}

void ProviderEngine::retryOrFail(const std::shared_ptr<Call> &call,
                                 int status,
                                 const Error &error,
                                 const QByteArray &retryAfter)
{
    if (call->attempt >= m_settings.retries) {
        end(call,
            m_settings.retries > 0
                ? Error{error.code, error.message + u" after %1 retries"_s.arg(m_settings.retries)}
                : error);
        return;
    }
    const int delay = retryDelayMs(m_settings, retryAfter, call->attempt + 1);
    if (delay < 0) {
        end(call,
            Error{error.code,
                  error.message
                      + u"; it asks to retry after %1 s, more than max_retry_after"_s.arg(
                          QString::fromLatin1(retryAfter))});
        return;
    }
    ++call->attempt;
    qCInfo(lcProvider).noquote() << m_settings.name << "call" << call->id << "got"
                                 << (status ? QString::number(status) : u"no connection"_s)
                                 << "- retry" << call->attempt << "of" << m_settings.retries << "in"
                                 << delay << "ms";
    call->idle->stop();
    QTimer::singleShot(delay, this, [this, call] { send(call); });
}

void ProviderEngine::end(const std::shared_ptr<Call> &call, const std::optional<Error> &error)
{
    if (call->ended)
        return;
    call->ended = true;
    if (error) {
        qCInfo(lcProvider).noquote()
            << m_settings.name << "call" << call->id << "failed:" << error->code << error->message;
        call->stream.fail(*error);
    }
    if (call->idle) {
        call->idle->stop();
        call->idle->deleteLater();
        call->idle = nullptr;
    }
    if (call->reply) {
        QNetworkReply *reply = call->reply;
        call->reply = nullptr;
        reply->abort();
    }
    call->decoder.reset();
    m_calls.remove(call->id);
    m_active.fetch_sub(1, std::memory_order_relaxed);
}

int ProviderEngine::retryDelayMs(const ProviderSettings &settings,
                                 const QByteArray &retryAfter,
                                 int attempt)
{
    const QByteArray value = retryAfter.trimmed();
    if (!value.isEmpty()) {
        bool ok = false;
        const double seconds = value.toDouble(&ok);
        qint64 ms = -1;
        if (ok && seconds >= 0) {
            ms = qint64(std::ceil(seconds * 1000));
        } else {
            // An HTTP date ends in "GMT", which Qt 6.4's RFC 2822 parser does not take.
            QString date = QString::fromLatin1(value);
            if (date.endsWith(u" GMT"_s))
                date = date.chopped(3) + u"+0000"_s;
            const QDateTime at = QDateTime::fromString(date, Qt::RFC2822Date);
            if (at.isValid())
                ms = std::max<qint64>(0, QDateTime::currentDateTimeUtc().msecsTo(at));
        }
        if (ms >= 0)
            return ms > settings.maxRetryAfterMs ? -1 : int(ms);
    }
    const qint64 backoff = qint64(settings.retryBackoffMs) << std::min(attempt - 1, 16);
    return int(std::min<qint64>(backoff, 60000));
}

} // namespace Mtw::Ai
