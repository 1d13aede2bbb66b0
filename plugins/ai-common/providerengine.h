// SPDX-License-Identifier: MIT
#pragma once

#include "providersettings.h"
#include "streamdecoder.h"

#include <mtw/agent.h>

#include <QHash>
#include <QObject>

#include <memory>

class QNetworkAccessManager;
class QNetworkReply;
class QThread;
class QTimer;

namespace Mtw::Ai {

// The HTTP side of a provider module: a QNetworkAccessManager in a thread of the module's own
// ("mtw-ai-<name>"), one streaming POST per call, retries with back-off on 429, 5xx, 529 and
// refused connections (honouring retry-after), an idle timeout, and abort on cancel. start()
// and cancel() are thread-safe and return at once; everything else runs in the engine's thread.
class ProviderEngine : public QObject
{
    Q_OBJECT

public:
    ProviderEngine(const ProviderSettings &settings, std::shared_ptr<const ProviderFormat> format);
    ~ProviderEngine() override; // aborts what runs and stops the thread

    void start(const AgentRequest &request, const AgentStream &stream);
    void cancel(const QString &callId);
    int activeCalls() const; // any thread

    // The wait before attempt `attempt` (1 = the first retry): retry-after when the provider
    // sent one (seconds or an HTTP date), else the back-off doubled per attempt; -1 when the
    // provider asks for longer than max_retry_after.
    static int
    retryDelayMs(const ProviderSettings &settings, const QByteArray &retryAfter, int attempt);

private:
    struct Call;
    void send(const std::shared_ptr<Call> &call);
    void onReadyRead(const std::shared_ptr<Call> &call);
    void onFinished(const std::shared_ptr<Call> &call);
    void retryOrFail(const std::shared_ptr<Call> &call,
                     int status,
                     const Error &error,
                     const QByteArray &retryAfter);
    void end(const std::shared_ptr<Call> &call, const std::optional<Error> &error);

    const ProviderSettings m_settings;
    const std::shared_ptr<const ProviderFormat> m_format;
    QThread *m_thread = nullptr;
    QNetworkAccessManager *m_network = nullptr; // made in the engine's thread
    QHash<QString, std::shared_ptr<Call>> m_calls;
    std::atomic<int> m_active{0};
};

} // namespace Mtw::Ai
