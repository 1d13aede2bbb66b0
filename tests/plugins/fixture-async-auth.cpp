// SPDX-License-Identifier: MIT
// An asynchronous authenticator: authenticate() returns at once and the answer comes from a
// thread of its own, `delay_ms` later. For the tests of the server's decision deadline.
// Config table:
//   delay_ms         how long after the call the answer comes (default 0)
//   wait_for_answer  true: the call itself waits until that thread has answered, so the answer
//                    comes from another thread but during the call (default false)
// Tokens "user:<id>" are accepted with that user id; anything else is refused with 401
// "invalid token" (and a detail for the log). Every answer is recorded in SharedState
// "async-auth.answers" as "<conn id>:<accept|reject>:<counted|ignored>", where ignored means the
// reply was no longer pending when the answer came (the server's deadline had passed).
#include "fixture.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <list>
#include <mutex>
#include <stop_token>
#include <thread>

namespace {
[[maybe_unused]] const bool s_loaded = MtwFixture::markLibraryLoaded("fixture-async-auth");
}

// authenticate() runs on the I/O workers; the answers on threads of their own, all joined in
// stop() (early: a waiting thread is woken and does not answer).
class FixtureAsyncAuth : public MtwFixture::RecordingModule, public Mtw::IAuthenticator
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MTW_MODULE_IID FILE "fixture-async-auth.json")
    Q_INTERFACES(Mtw::IModule)

public:
    ~FixtureAsyncAuth() override { joinAll(); }

    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        if (auto loaded = RecordingModule::load(context); !loaded)
            return loaded;
        bool ok = true;
        const int delay = setting("delay_ms").isValid() ? setting("delay_ms").toInt(&ok) : 0;
        if (!ok || delay < 0)
            return Mtw::fail(400, QStringLiteral("fixture-async-auth: delay_ms must be >= 0"));
        m_delayMs = delay;
        m_waitForAnswer = setting("wait_for_answer").toBool();
        m_shared = &context.shared();
        context.registerAuthenticator(this);
        return {};
    }

    bool stop() override
    {
        joinAll();
        return RecordingModule::stop();
    }

    void authenticate(const Mtw::AuthRequest &request, Mtw::AuthReply reply) override
    {
        auto answered = std::make_shared<std::promise<void>>();
        std::future<void> done = answered->get_future();
        {
            std::lock_guard lock(m_threadsMutex);
            m_threads.emplace_back([this, request, reply, answered](std::stop_token stop) {
                std::mutex mutex;
                std::unique_lock sleeping(mutex);
                std::condition_variable_any wake;
                // Waits the delay, or less when stop() asks.
                wake.wait_for(sleeping, stop, std::chrono::milliseconds(m_delayMs.load()), [] {
                    return false;
                });
                if (!stop.stop_requested())
                    answer(request, reply);
                answered->set_value();
            });
        }
        if (m_waitForAnswer)
            done.wait();
    }

private:
    void answer(const Mtw::AuthRequest &request, const Mtw::AuthReply &reply)
    {
        const bool counted = reply.isPending();
        const QString token = request.token();
        const bool accepted = token.startsWith(QStringLiteral("user:"));
        if (accepted) {
            Mtw::Identity identity;
            identity.setUserId(token.mid(5));
            reply.accept(identity);
        } else {
            reply.reject({401,
                          QStringLiteral("invalid token"),
                          QStringLiteral("fixture-async-auth: a token starts with user:")});
        }
        MtwFixture::append(
            *m_shared,
            QStringLiteral("async-auth.answers"),
            request.connId() + (accepted ? QStringLiteral(":accept:") : QStringLiteral(":reject:"))
                + (counted ? QStringLiteral("counted") : QStringLiteral("ignored")));
    }

    void joinAll()
    {
        std::list<std::jthread> threads;
        {
            std::lock_guard lock(m_threadsMutex);
            threads.swap(m_threads);
        }
        threads.clear(); // requests stop and joins each
    }

    std::atomic<int> m_delayMs{0};
    std::atomic<bool> m_waitForAnswer{false};
    Mtw::SharedState *m_shared = nullptr;
    std::mutex m_threadsMutex;
    std::list<std::jthread> m_threads; // one per call until stop(): a fixture serves few calls
};

#include "fixture-async-auth.moc"
