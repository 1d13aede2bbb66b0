// SPDX-License-Identifier: MIT
#include "modules/modulehost.h"

#include "modules/moduleevents.h"
#include "modules/serversettings_p.h"
#include "modules/version.h"

#include <QDir>
#include <QJsonArray>
#include <QLibrary>
#include <QLoggingCategory>
#include <QPluginLoader>
#include <QThread>
#include <QTimer>

#include <exception>

namespace Mtw::Internal {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcModules, "mtw.modules", QtInfoMsg)

namespace {

// Runs a call into module code; an exception becomes an Error instead of crossing the boundary.
template<typename Call>
Result<void> guarded(const QString &what, Call &&call)
{
    try {
        return call();
    } catch (const std::exception &e) {
        return fail(500,
                    u"%1 threw an exception: %2"_s.arg(what, QString::fromLocal8Bit(e.what())));
    } catch (...) {
        return fail(500, u"%1 threw an exception"_s.arg(what));
    }
}

// Why a plugin with interface id `iid` and this metadata cannot be loaded; empty when it can.
// Decided from the metadata alone, before any code of the plugin runs.
QString refusal(const QString &file, const QString &iid, const Result<ModuleMetadata> &metadata)
{
    const QString ours = QLatin1String(MTW_MODULE_IID);
    const QString family = ours.left(ours.lastIndexOf(u'/') + 1); // "org.mtwserver.IModule/"
    if (iid.startsWith(family) && iid != ours) {
        return u"%1 was built for module API %2 (interface id \"%3\"), this server provides API %4 "
               "(\"%5\"): rebuild it against this server's headers"_s
                   .arg(file, iid.mid(family.size()), iid)
                   .arg(ModuleApiVersion)
                   .arg(ours);
    }
    if (iid != ours) {
        return u"%1 is not an mtwserver module of this API: its interface id is \"%2\", this "
               "server loads \"%3\""_s.arg(file, iid, ours);
    }
    if (!metadata)
        return u"%1 has invalid metadata: %2"_s.arg(file, metadata.error().message);
    if (metadata->apiVersion() != ModuleApiVersion) {
        return u"%1 was built for module API %2, this server provides API %3"_s.arg(file)
            .arg(metadata->apiVersion())
            .arg(ModuleApiVersion);
    }
    return {};
}

} // namespace

void Services::removeOwner(const QString &owner)
{
    authenticators.removeIf([&](const auto &r) { return r.owner == owner; });
    filters.removeIf([&](const auto &r) { return r.owner == owner; });
    rawFrameHandlers.removeIf([&](const auto &r) { return r.owner == owner; });
    stores.removeIf([&](const auto &r) { return r.owner == owner; });
    brokers.removeIf([&](const auto &r) { return r.owner == owner; });
    requestHandlers.removeIf([&](const auto &it) { return it.value().owner == owner; });
    agentProviders.removeIf([&](const auto &it) { return it.value().owner == owner; });
    agentTools.removeIf([&](const auto &it) { return it.value().owner == owner; });
}

void Services::sort()
{
    const auto byPriority = [](const auto &a, const auto &b) { return a.priority > b.priority; };
    std::stable_sort(authenticators.begin(), authenticators.end(), byPriority);
    std::stable_sort(filters.begin(), filters.end(), byPriority);
    std::stable_sort(rawFrameHandlers.begin(), rawFrameHandlers.end(), byPriority);
    std::stable_sort(stores.begin(), stores.end(), byPriority);
    std::stable_sort(brokers.begin(), brokers.end(), byPriority);
}

ModuleHost::ModuleHost(const Config &config,
                       ServerEvents *events,
                       SharedState *shared,
                       ServerHandle *handle,
                       QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_settings(ServerSettingsPrivate::fromConfig(config))
    , m_events(events)
    , m_shared(shared)
    , m_handle(handle)
{ }

ModuleHost::~ModuleHost() = default;

void ModuleHost::addBuiltin(std::shared_ptr<IModule> module, const ModuleMetadata &metadata)
{
    auto entry = std::make_unique<Entry>();
    entry->metadata = metadata;
    entry->builtin = std::move(module);
    entry->module = entry->builtin.get();
    m_entries.push_back(std::move(entry));
}

void ModuleHost::setSearchPaths(const QStringList &directories)
{
    m_searchPaths.clear();
    for (const QString &directory : directories) {
        const QString clean = QDir::cleanPath(QDir(directory).absolutePath());
        if (!directory.isEmpty() && !m_searchPaths.contains(clean))
            m_searchPaths.append(clean);
    }
}

QHash<QString, ModuleHost::Candidate> ModuleHost::discover() const
{
    QHash<QString, Candidate> candidates;
    for (const QString &directory : m_searchPaths) {
        const QFileInfoList files = QDir(directory).entryInfoList(QDir::Files, QDir::Name);
        for (const QFileInfo &file : files) {
            if (!QLibrary::isLibrary(file.fileName()))
                continue;
            // Reads the metadata section only: no code of the plugin runs here.
            const QJsonObject raw = QPluginLoader(file.absoluteFilePath()).metaData();
            if (raw.isEmpty())
                continue; // not a Qt plugin (a helper library, say)
            Candidate candidate;
            candidate.path = file.absoluteFilePath();
            const auto metadata = ModuleMetadata::fromJson(raw.value("MetaData"_L1).toObject());
            QString id = raw.value("MetaData"_L1).toObject().value("id"_L1).toString();
            if (id.isEmpty())
                id = file.completeBaseName();
            if (metadata)
                candidate.metadata = *metadata;
            candidate.metadata.setId(id);
            candidate.error = refusal(file.fileName(), raw.value("IID"_L1).toString(), metadata);
            if (candidates.contains(id)) {
                qCWarning(lcModules).noquote()
                    << "module" << id << "in" << candidate.path << "ignored: already found in"
                    << candidates.value(id).path;
                continue;
            }
            candidates.insert(id, candidate);
        }
    }
    return candidates;
}

ServiceDirectory::ServiceDirectory()
    : m_snapshot(std::make_shared<const Services>())
{ }

void ServiceDirectory::publish(const Services &services)
{
    auto snapshot = std::make_shared<const Services>(services);
    QMutexLocker locker(&m_mutex);
    m_snapshot = std::move(snapshot);
    m_generation.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Services> ServiceDirectory::snapshot() const
{
    QMutexLocker locker(&m_mutex);
    return m_snapshot;
}

void ModuleHost::publishServices()
{
    m_services.sort();
    m_directory.publish(m_services);
}

Result<void> ModuleHost::start()
{
    const QHash<QString, Candidate> candidates = discover();
    resolve(candidates);
    for (int i = 0; i < int(m_entries.size()); ++i) {
        Entry &entry = *m_entries[size_t(i)];
        if (entry.state == ModuleState::Resolved && dependenciesReady(entry))
            loadEntry(entry, i);
    }
    for (const auto &entry : m_entries) {
        if (entry->state == ModuleState::Loaded && dependenciesReady(*entry))
            startEntry(*entry);
    }
    {
        QMutexLocker locker(&m_servicesMutex);
        publishServices();
    }
    for (const auto &entry : m_entries) {
        if (entry->required && entry->state == ModuleState::Failed) {
            return fail(
                500,
                u"required module '%1' failed: %2"_s.arg(entry->metadata.id(), entry->error));
        }
    }
    return {};
}

void ModuleHost::resolve(const QHash<QString, Candidate> &candidates)
{
    // A server may start again after a shutdown: configured entries are resolved afresh, only
    // the built-in modules carry over.
    std::erase_if(m_entries, [](const auto &entry) { return !entry->builtin; });
    for (const auto &entry : m_entries) {
        entry->state = ModuleState::Resolved;
        entry->error.clear();
        entry->required = false;
        entry->dependencies.clear();
        entry->context.reset();
        entry->events.reset();
    }
    {
        QMutexLocker locker(&m_servicesMutex);
        m_services = Services();
        publishServices();
    }
    for (const ModuleConfig &configured : m_config.modules) {
        if (configured.enabled)
            addConfigured(configured, candidates);
        else
            qCInfo(lcModules).noquote() << "module" << configured.name << "is disabled";
    }
    linkDependencies();
    orderTopologically();
}

void ModuleHost::addConfigured(const ModuleConfig &configured,
                               const QHash<QString, Candidate> &candidates)
{
    auto entry = std::make_unique<Entry>();
    entry->metadata.setId(configured.name);
    entry->required = configured.required;
    entry->config = configured.config;
    const bool duplicate = std::any_of(m_entries.begin(), m_entries.end(), [&](const auto &e) {
        return e->metadata.id() == configured.name;
    });
    const auto candidate = candidates.constFind(configured.name);
    if (duplicate) {
        markFailed(
            *entry,
            u"module '%1' is listed twice; only the first entry is used"_s.arg(configured.name));
    } else if (candidate == candidates.cend()) {
        markFailed(*entry,
                   u"module '%1' not found in %2"_s.arg(configured.name,
                                                        m_searchPaths.isEmpty()
                                                            ? u"(no plugin directories)"_s
                                                            : m_searchPaths.join(u", "_s)));
    } else {
        entry->path = candidate->path;
        entry->metadata = candidate->metadata;
        if (!candidate->error.isEmpty()) {
            markFailed(*entry, candidate->error);
        } else if (!configured.version.isEmpty()) {
            const auto range = VersionRange::parse(configured.version);
            const auto version = Version::parse(candidate->metadata.version());
            if (!range)
                markFailed(*entry,
                           u"[[modules]] %1: %2"_s.arg(configured.name, range.error().message));
            else if (!version || !range->contains(*version))
                markFailed(*entry,
                           u"module '%1' is version %2, but the configuration asks for %3"_s.arg(
                               configured.name,
                               candidate->metadata.version(),
                               configured.version));
        }
    }
    if (entry->state != ModuleState::Failed)
        entry->state = ModuleState::Resolved;
    m_entries.push_back(std::move(entry));
}

void ModuleHost::linkDependencies()
{
    QHash<QString, int> byId;
    for (int i = 0; i < int(m_entries.size()); ++i) {
        if (!byId.contains(m_entries[size_t(i)]->metadata.id()))
            byId.insert(m_entries[size_t(i)]->metadata.id(), i);
    }
    for (const auto &entry : m_entries) {
        if (entry->state == ModuleState::Failed)
            continue;
        for (const ModuleDependency &dependency : entry->metadata.dependencies()) {
            const int target = byId.value(dependency.id(), -1);
            if (target < 0) {
                markFailed(*entry,
                           u"needs module '%1', which is not configured"_s.arg(dependency.id()));
                break;
            }
            // A failed dependency (its plugin refused, say) may have no usable version: linked
            // as is, it makes this module fail with "dependency '...' failed".
            if (m_entries[size_t(target)]->state == ModuleState::Failed) {
                entry->dependencies.append(target);
                continue;
            }
            const QString version = m_entries[size_t(target)]->metadata.version();
            const auto range = VersionRange::parse(dependency.versionRange());
            const auto parsed = Version::parse(version);
            if (!range
                || (!dependency.versionRange().isEmpty()
                    && (!parsed || !range->contains(*parsed)))) {
                markFailed(*entry,
                           u"needs module '%1' %2, but version %3 is configured"_s
                               .arg(dependency.id(), dependency.versionRange(), version));
                break;
            }
            entry->dependencies.append(target);
        }
    }
}

void ModuleHost::orderTopologically()
{
    // Kahn's algorithm; among ready modules the configuration order decides.
    const int count = int(m_entries.size());
    std::vector<int> indegree(size_t(count), 0);
    std::vector<QList<int>> dependants(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        for (int dependency : std::as_const(m_entries[size_t(i)]->dependencies)) {
            ++indegree[size_t(i)];
            dependants[size_t(dependency)].append(i);
        }
    }
    QList<int> order;
    std::vector<char> done(size_t(count), 0);
    const auto place = [&](int index) {
        done[size_t(index)] = 1;
        order.append(index);
        for (int dependant : std::as_const(dependants[size_t(index)]))
            --indegree[size_t(dependant)];
    };
    const auto placeReady = [&] {
        for (int next = 0; next < count;) {
            if (!done[size_t(next)] && indegree[size_t(next)] == 0) {
                place(next);
                next = 0; // the lowest configured index among the ready ones goes first
            } else {
                ++next;
            }
        }
    };
    placeReady();
    if (int(order.size()) == count) {
        reorder(order);
        return;
    }
    // The rest are in a cycle or depend on one. Only the members of a cycle fail for it; the
    // modules that merely depend on one keep their dependencies and fail as dependants.
    const auto inCycle = [&](int start) {
        QList<int> stack = m_entries[size_t(start)]->dependencies;
        std::vector<char> seen(size_t(count), 0);
        while (!stack.isEmpty()) {
            const int index = stack.takeLast();
            if (index == start)
                return true;
            if (seen[size_t(index)] || done[size_t(index)])
                continue;
            seen[size_t(index)] = 1;
            stack.append(m_entries[size_t(index)]->dependencies);
        }
        return false;
    };
    QList<int> members;
    QStringList cycle;
    for (int i = 0; i < count; ++i) {
        if (!done[size_t(i)] && inCycle(i)) {
            members.append(i);
            cycle.append(m_entries[size_t(i)]->metadata.id());
        }
    }
    for (int member : std::as_const(members)) {
        markFailed(*m_entries[size_t(member)],
                   u"dependency cycle between %1"_s.arg(cycle.join(u", "_s)));
        m_entries[size_t(member)]->dependencies.clear();
        place(member);
    }
    placeReady();
    Q_ASSERT(int(order.size()) == count); // without the cycles' members the rest is acyclic
    reorder(order);
}

void ModuleHost::reorder(const QList<int> &order)
{
    const int count = int(m_entries.size());
    // Re-number dependencies for the new order.
    std::vector<int> position(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i)
        position[size_t(order[i])] = i;
    std::vector<std::unique_ptr<Entry>> sorted;
    for (int index : std::as_const(order)) {
        for (int &dependency : m_entries[size_t(index)]->dependencies)
            dependency = position[size_t(dependency)];
        sorted.push_back(std::move(m_entries[size_t(index)]));
    }
    m_entries = std::move(sorted);
}

bool ModuleHost::dependenciesReady(Entry &entry)
{
    for (int dependency : std::as_const(entry.dependencies)) {
        const Entry &target = *m_entries[size_t(dependency)];
        if (target.state == ModuleState::Failed) {
            const bool wasLoaded = entry.state == ModuleState::Loaded;
            markFailed(entry, u"dependency '%1' failed"_s.arg(target.metadata.id()));
            if (wasLoaded)
                releaseLoaded(entry);
            return false;
        }
    }
    return true;
}

// QPluginLoader::instance() runs the plugin's constructor: module code, guarded like the rest,
// so that a constructor that throws fails its module and nothing else.
Result<IModule *> ModuleHost::instantiate(Entry &entry)
{
    entry.loader = new QPluginLoader(entry.path, this);
    QObject *instance = nullptr;
    const auto created =
        guarded(u"the plugin's constructor (%1)"_s.arg(entry.path), [&]() -> Result<void> {
            instance = entry.loader->instance();
            return {};
        });
    if (!created)
        return tl::unexpected(created.error());
    if (!instance)
        return fail(500, u"cannot load %1: %2"_s.arg(entry.path, entry.loader->errorString()));
    auto *module = qobject_cast<IModule *>(instance);
    if (!module)
        return fail(500, u"%1 does not implement Mtw::IModule"_s.arg(entry.path));
    return module;
}

void ModuleHost::loadEntry(Entry &entry, int index)
{
    if (!entry.module) {
        const auto module = instantiate(entry);
        if (!module) {
            markFailed(entry, module.error().message);
            return;
        }
        entry.module = *module;
    }
    entry.events = std::make_unique<ModuleEvents>(m_events, entry.metadata.id());
    auto d = std::make_unique<ModuleContextPrivate>();
    d->host = this;
    d->events = entry.events.get();
    d->entry = index;
    d->id = entry.metadata.id();
    d->config = entry.config;
    entry.context = std::make_unique<ModuleContext>(std::move(d));
    const auto loaded = guarded(u"load()"_s, [&] { return entry.module->load(*entry.context); });
    entry.events->syncForwards();
    if (!loaded) {
        markFailed(entry, loaded.error().message, loaded.error().detail);
        return;
    }
    entry.state = ModuleState::Loaded;
}

void ModuleHost::startEntry(Entry &entry)
{
    const auto started = guarded(u"start()"_s, [&] { return entry.module->start(); });
    entry.events->syncForwards();
    if (!started) {
        markFailed(entry, started.error().message, started.error().detail);
        releaseLoaded(entry);
        return;
    }
    entry.state = ModuleState::Started;
    qCInfo(lcModules).noquote() << "module" << entry.metadata.id() << entry.metadata.version()
                                << "started";
}

void ModuleHost::markFailed(Entry &entry, const QString &error, const QString &detail)
{
    entry.state = ModuleState::Failed;
    entry.error = error;
    {
        QMutexLocker locker(&m_servicesMutex);
        m_services.removeOwner(entry.metadata.id());
        publishServices();
    }
    const QString line =
        u"module %1 failed: %2%3"_s.arg(entry.metadata.id(),
                                        error,
                                        detail.isEmpty() ? QString() : u" ("_s + detail + u')');
    if (entry.required)
        qCCritical(lcModules).noquote() << "required" << line;
    else
        qCWarning(lcModules).noquote() << line;
}

void ModuleHost::releaseLoaded(Entry &entry)
{
    // It loaded (and may hold what it acquired there) but will never run: let it clean up.
    const auto called = guarded(u"stop()"_s, [&]() -> Result<void> {
        entry.module->stop();
        return {};
    });
    if (!called)
        qCWarning(lcModules).noquote() << "module" << entry.metadata.id() << called.error().message;
}

void ModuleHost::stop()
{
    if (m_stopInProgress)
        return;
    m_stopInProgress = true;
    m_stopping = int(m_entries.size());
    stopNext();
}

void ModuleHost::stopNext()
{
    while (--m_stopping >= 0) {
        Entry &entry = *m_entries[size_t(m_stopping)];
        if (entry.state != ModuleState::Started && entry.state != ModuleState::Loaded)
            continue;
        entry.state = ModuleState::Stopping;
        bool synchronous = true;
        const auto called = guarded(u"stop()"_s, [&]() -> Result<void> {
            synchronous = entry.module->stop();
            return {};
        });
        if (!called) {
            finishStopping(entry, ModuleState::Failed, called.error().message);
            continue;
        }
        if (synchronous) {
            finishStopping(entry, ModuleState::Stopped);
            continue;
        }
        // Asynchronous: wait for stopFinished() or the deadline.
        if (!m_stopTimer) {
            m_stopTimer = new QTimer(this);
            m_stopTimer->setSingleShot(true);
            connect(m_stopTimer, &QTimer::timeout, this, [this] {
                Entry &late = *m_entries[size_t(m_stopping)];
                finishStopping(late,
                               ModuleState::Failed,
                               u"did not finish stopping within %1 ms"_s.arg(m_stopDeadlineMs));
                stopNext();
            });
        }
        m_stopTimer->start(m_stopDeadlineMs);
        return;
    }
    m_stopInProgress = false;
    Q_EMIT stopped();
}

void ModuleHost::stopFinished(int entry)
{
    if (!m_stopInProgress || entry != m_stopping || !m_stopTimer || !m_stopTimer->isActive())
        return;
    m_stopTimer->stop();
    finishStopping(*m_entries[size_t(entry)], ModuleState::Stopped);
    stopNext();
}

void ModuleHost::finishStopping(Entry &entry, ModuleState state, const QString &error)
{
    entry.state = state;
    if (state == ModuleState::Failed) {
        entry.error = error;
        qCWarning(lcModules).noquote()
            << "module" << entry.metadata.id() << "stop failed:" << error;
    } else {
        qCInfo(lcModules).noquote() << "module" << entry.metadata.id() << "stopped";
    }
}

std::pair<IReconfigurable *, QObject *> ModuleHost::reconfigurable(const QString &id, Entry **found)
{
    for (const auto &entry : m_entries) {
        if (entry->metadata.id() != id || entry->state != ModuleState::Started || !entry->module)
            continue;
        *found = entry.get();
        QObject *object =
            entry->loader ? entry->loader->instance() : dynamic_cast<QObject *>(entry->module);
        if (object)
            return {qobject_cast<IReconfigurable *>(object), object};
        return {dynamic_cast<IReconfigurable *>(entry->module), this};
    }
    return {nullptr, nullptr};
}

namespace {

// Runs `call` in `object`'s thread, waiting for it: a module's root object may live elsewhere.
Result<void> inThreadOf(QObject *object, const std::function<Result<void>()> &call)
{
    if (object->thread() == QThread::currentThread())
        return call();
    Result<void> result = fail(500, u"the module's thread did not run the call"_s);
    QMetaObject::invokeMethod(
        object,
        [&] { result = call(); },
        Qt::BlockingQueuedConnection);
    return result;
}

} // namespace

QStringList ModuleHost::validateConfigs(const QHash<QString, QVariantMap> &changed)
{
    QStringList errors;
    for (auto it = changed.cbegin(); it != changed.cend(); ++it) {
        Entry *entry = nullptr;
        const auto [module, object] = reconfigurable(it.key(), &entry);
        if (!module)
            continue; // reported as needing a restart
        const QVariantMap &config = it.value();
        const auto valid = inThreadOf(object, [&] {
            return guarded(u"validateConfig()"_s, [&] { return module->validateConfig(config); });
        });
        if (!valid)
            errors.append(u"modules.%1: %2"_s.arg(it.key(), valid.error().message));
    }
    return errors;
}

QStringList ModuleHost::reconfigure(const QHash<QString, QVariantMap> &changed)
{
    QStringList applied;
    for (auto it = changed.cbegin(); it != changed.cend(); ++it) {
        Entry *entry = nullptr;
        const auto [module, object] = reconfigurable(it.key(), &entry);
        if (!module)
            continue;
        const QVariantMap &config = it.value();
        // Validated again: Server::applyConfig may be called without reloadConfig's check.
        const auto done = inThreadOf(object, [&]() -> Result<void> {
            if (auto valid =
                    guarded(u"validateConfig()"_s, [&] { return module->validateConfig(config); });
                !valid)
                return valid;
            return guarded(u"reconfigure()"_s, [&] { return module->reconfigure(config); });
        });
        if (!done) {
            qCWarning(lcModules).noquote()
                << "module" << it.key()
                << "refused its new configuration, it keeps the old one:" << done.error().message;
            continue;
        }
        entry->config = config;
        entry->context->d->config = config;
        applied.append(it.key());
        qCInfo(lcModules).noquote() << "module" << it.key() << "reconfigured";
    }
    return applied;
}

QList<ModuleStatus> ModuleHost::statuses() const
{
    QList<ModuleStatus> list;
    for (const auto &entry : m_entries) {
        ModuleStatus status;
        status.setMetadata(entry->metadata);
        status.setPath(entry->path);
        status.setState(entry->state);
        status.setError(entry->error);
        status.setRequired(entry->required);
        if (entry->state == ModuleState::Failed) {
            status.setHealth({HealthStatus::Unhealthy, entry->error});
        } else if (entry->state == ModuleState::Started && entry->module) {
            ModuleHealth health;
            const auto called = guarded(u"health()"_s, [&]() -> Result<void> {
                health = entry->module->health();
                return {};
            });
            status.setHealth(
                called ? health : ModuleHealth(HealthStatus::Unhealthy, called.error().message));
        }
        list.append(status);
    }
    return list;
}

// Registrations may come from any thread, also after start: each one publishes a new snapshot.
void ModuleHost::registerAuthenticator(int entry, IAuthenticator *service, int priority)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    QMutexLocker locker(&m_servicesMutex);
    m_services.authenticators.append({priority, service, owner});
    publishServices();
}

void ModuleHost::registerMessageFilter(int entry, IMessageFilter *service, int priority)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    QMutexLocker locker(&m_servicesMutex);
    m_services.filters.append({priority, service, owner});
    publishServices();
}

void ModuleHost::registerRequestHandler(int entry, const QString &action, IRequestHandler *service)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    QMutexLocker locker(&m_servicesMutex);
    if (m_services.requestHandlers.contains(action)) {
        qCWarning(lcModules).noquote()
            << "module" << owner << "cannot register request action" << action
            << "- already served by" << m_services.requestHandlers.value(action).owner;
        return;
    }
    m_services.requestHandlers.insert(action, {0, service, owner});
    publishServices();
}

void ModuleHost::registerRawFrameHandler(int entry, IRawFrameHandler *service, int priority)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    QMutexLocker locker(&m_servicesMutex);
    m_services.rawFrameHandlers.append({priority, service, owner});
    publishServices();
}

void ModuleHost::registerStore(int entry, IStore *service, int priority)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    QMutexLocker locker(&m_servicesMutex);
    m_services.stores.append({priority, service, owner});
    publishServices();
}

void ModuleHost::registerBroker(int entry, IBroker *service, int priority)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    QMutexLocker locker(&m_servicesMutex);
    m_services.brokers.append({priority, service, owner});
    publishServices();
}

// Providers and tools are found by name: a second registration of a name is refused, as for
// request actions.
void ModuleHost::registerAgentProvider(int entry, const QString &name, IAgentProvider *service)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    QMutexLocker locker(&m_servicesMutex);
    if (m_services.agentProviders.contains(name)) {
        qCWarning(lcModules).noquote()
            << "module" << owner << "cannot register agent provider" << name
            << "- already registered by" << m_services.agentProviders.value(name).owner;
        return;
    }
    m_services.agentProviders.insert(name, {0, service, owner});
    publishServices();
}

void ModuleHost::registerAgentTool(int entry, IAgentTool *service)
{
    const QString owner = m_entries[size_t(entry)]->metadata.id();
    const QString name = service->name();
    QMutexLocker locker(&m_servicesMutex);
    if (name.isEmpty() || m_services.agentTools.contains(name)) {
        qCWarning(lcModules).noquote()
            << "module" << owner << "cannot register agent tool" << name
            << (name.isEmpty() ? "- it has no name" : "- the name is taken");
        return;
    }
    m_services.agentTools.insert(name, {0, service, owner});
    publishServices();
}

} // namespace Mtw::Internal
