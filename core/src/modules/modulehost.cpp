// SPDX-License-Identifier: MIT
#include "modules/modulehost.h"

#include "modules/version.h"

#include <QDir>
#include <QJsonArray>
#include <QLibrary>
#include <QLoggingCategory>
#include <QPluginLoader>
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

} // namespace

void Services::removeOwner(const QString &owner)
{
    authenticators.removeIf([&](const auto &r) { return r.owner == owner; });
    filters.removeIf([&](const auto &r) { return r.owner == owner; });
    rawFrameHandlers.removeIf([&](const auto &r) { return r.owner == owner; });
    requestHandlers.removeIf([&](const auto &it) { return it.value().owner == owner; });
}

void Services::sort()
{
    const auto byPriority = [](const auto &a, const auto &b) { return a.priority > b.priority; };
    std::stable_sort(authenticators.begin(), authenticators.end(), byPriority);
    std::stable_sort(filters.begin(), filters.end(), byPriority);
    std::stable_sort(rawFrameHandlers.begin(), rawFrameHandlers.end(), byPriority);
}

ModuleHost::ModuleHost(const Config &config,
                       ServerEvents *events,
                       SharedState *shared,
                       ServerHandle *handle,
                       QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_events(events)
    , m_shared(shared)
    , m_handle(handle)
{ }

ModuleHost::~ModuleHost() = default;

void ModuleHost::addBuiltin(std::shared_ptr<IModule> module, const ModuleMetadata &metadata)
{
    auto entry = std::make_unique<Entry>();
    entry->status.metadata = metadata;
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
            const QString iid = raw.value("IID"_L1).toString();
            QString id = raw.value("MetaData"_L1).toObject().value("id"_L1).toString();
            if (id.isEmpty())
                id = file.completeBaseName();
            if (metadata)
                candidate.metadata = *metadata;
            candidate.metadata.id = id;
            if (iid != QLatin1String(MTW_MODULE_IID)) {
                candidate.error =
                    u"%1 is not an mtwserver module of this API: its interface id is "
                    "\"%2\", this server loads \"%3\""_s.arg(file.fileName(),
                                                             iid,
                                                             QLatin1String(MTW_MODULE_IID));
            } else if (!metadata) {
                candidate.error =
                    u"%1 has invalid metadata: %2"_s.arg(file.fileName(), metadata.error().message);
            } else if (metadata->apiVersion != ModuleApiVersion) {
                candidate.error = u"%1 was built for module API %2, this server provides API %3"_s
                                      .arg(file.fileName())
                                      .arg(metadata->apiVersion)
                                      .arg(ModuleApiVersion);
            }
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
        if (entry.status.state == ModuleState::Resolved && dependenciesReady(entry))
            loadEntry(entry, i);
    }
    for (const auto &entry : m_entries) {
        if (entry->status.state == ModuleState::Loaded && dependenciesReady(*entry))
            startEntry(*entry);
    }
    {
        QMutexLocker locker(&m_servicesMutex);
        publishServices();
    }
    for (const auto &entry : m_entries) {
        if (entry->status.required && entry->status.state == ModuleState::Failed) {
            return fail(500,
                        u"required module '%1' failed: %2"_s.arg(entry->status.metadata.id,
                                                                 entry->status.error));
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
        entry->status =
            ModuleStatus{entry->status.metadata, {}, ModuleState::Resolved, {}, {}, false};
        entry->dependencies.clear();
        entry->context.reset();
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
    entry->status.metadata.id = configured.name;
    entry->status.required = configured.required;
    entry->config = configured.config;
    const bool duplicate = std::any_of(m_entries.begin(), m_entries.end(), [&](const auto &e) {
        return e->status.metadata.id == configured.name;
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
        entry->status.path = candidate->path;
        entry->status.metadata = candidate->metadata;
        if (!candidate->error.isEmpty()) {
            markFailed(*entry, candidate->error);
        } else if (!configured.version.isEmpty()) {
            const auto range = VersionRange::parse(configured.version);
            const auto version = Version::parse(candidate->metadata.version);
            if (!range)
                markFailed(*entry,
                           u"[[modules]] %1: %2"_s.arg(configured.name, range.error().message));
            else if (!version || !range->contains(*version))
                markFailed(*entry,
                           u"module '%1' is version %2, but the configuration asks for %3"_s.arg(
                               configured.name,
                               candidate->metadata.version,
                               configured.version));
        }
    }
    if (entry->status.state != ModuleState::Failed)
        entry->status.state = ModuleState::Resolved;
    m_entries.push_back(std::move(entry));
}

void ModuleHost::linkDependencies()
{
    QHash<QString, int> byId;
    for (int i = 0; i < int(m_entries.size()); ++i) {
        if (!byId.contains(m_entries[size_t(i)]->status.metadata.id))
            byId.insert(m_entries[size_t(i)]->status.metadata.id, i);
    }
    for (const auto &entry : m_entries) {
        if (entry->status.state == ModuleState::Failed)
            continue;
        for (const ModuleDependency &dependency : entry->status.metadata.dependencies) {
            const int target = byId.value(dependency.id, -1);
            if (target < 0) {
                markFailed(*entry,
                           u"needs module '%1', which is not configured"_s.arg(dependency.id));
                break;
            }
            // A failed dependency (its plugin refused, say) may have no usable version: linked
            // as is, it makes this module fail with "dependency '...' failed".
            if (m_entries[size_t(target)]->status.state == ModuleState::Failed) {
                entry->dependencies.append(target);
                continue;
            }
            const QString &version = m_entries[size_t(target)]->status.metadata.version;
            const auto range = VersionRange::parse(dependency.versionRange);
            const auto parsed = Version::parse(version);
            if (!range
                || (!dependency.versionRange.isEmpty() && (!parsed || !range->contains(*parsed)))) {
                markFailed(*entry,
                           u"needs module '%1' %2, but version %3 is configured"_s
                               .arg(dependency.id, dependency.versionRange, version));
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
            cycle.append(m_entries[size_t(i)]->status.metadata.id);
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
        if (target.status.state == ModuleState::Failed) {
            const bool wasLoaded = entry.status.state == ModuleState::Loaded;
            markFailed(entry, u"dependency '%1' failed"_s.arg(target.status.metadata.id));
            if (wasLoaded)
                releaseLoaded(entry);
            return false;
        }
    }
    return true;
}

void ModuleHost::loadEntry(Entry &entry, int index)
{
    const QString &id = entry.status.metadata.id;
    if (!entry.module) {
        entry.loader = new QPluginLoader(entry.path, this);
        QObject *instance = entry.loader->instance();
        if (!instance) {
            markFailed(entry, u"cannot load %1: %2"_s.arg(entry.path, entry.loader->errorString()));
            return;
        }
        entry.module = qobject_cast<IModule *>(instance);
        if (!entry.module) {
            markFailed(entry, u"%1 does not implement Mtw::IModule"_s.arg(entry.path));
            return;
        }
    }
    auto d = std::make_unique<ModuleContextPrivate>();
    d->host = this;
    d->entry = index;
    d->id = id;
    d->config = entry.config;
    entry.context = std::make_unique<ModuleContext>(std::move(d));
    const auto loaded = guarded(u"load()"_s, [&] { return entry.module->load(*entry.context); });
    if (!loaded) {
        markFailed(entry, loaded.error().message);
        return;
    }
    entry.status.state = ModuleState::Loaded;
}

void ModuleHost::startEntry(Entry &entry)
{
    const auto started = guarded(u"start()"_s, [&] { return entry.module->start(); });
    if (!started) {
        markFailed(entry, started.error().message);
        releaseLoaded(entry);
        return;
    }
    entry.status.state = ModuleState::Started;
    qCInfo(lcModules).noquote() << "module" << entry.status.metadata.id
                                << entry.status.metadata.version << "started";
}

void ModuleHost::markFailed(Entry &entry, const QString &error)
{
    entry.status.state = ModuleState::Failed;
    entry.status.error = error;
    {
        QMutexLocker locker(&m_servicesMutex);
        m_services.removeOwner(entry.status.metadata.id);
        publishServices();
    }
    if (entry.status.required)
        qCCritical(lcModules).noquote()
            << "required module" << entry.status.metadata.id << "failed:" << error;
    else
        qCWarning(lcModules).noquote()
            << "module" << entry.status.metadata.id << "failed:" << error;
}

void ModuleHost::releaseLoaded(Entry &entry)
{
    // It loaded (and may hold what it acquired there) but will never run: let it clean up.
    const auto called = guarded(u"stop()"_s, [&]() -> Result<void> {
        entry.module->stop();
        return {};
    });
    if (!called)
        qCWarning(lcModules).noquote()
            << "module" << entry.status.metadata.id << called.error().message;
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
        if (entry.status.state != ModuleState::Started && entry.status.state != ModuleState::Loaded)
            continue;
        entry.status.state = ModuleState::Stopping;
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
    entry.status.state = state;
    if (state == ModuleState::Failed) {
        entry.status.error = error;
        qCWarning(lcModules).noquote()
            << "module" << entry.status.metadata.id << "stop failed:" << error;
    } else {
        qCInfo(lcModules).noquote() << "module" << entry.status.metadata.id << "stopped";
    }
}

QList<ModuleStatus> ModuleHost::statuses() const
{
    QList<ModuleStatus> list;
    for (const auto &entry : m_entries) {
        ModuleStatus status = entry->status;
        if (status.state == ModuleState::Failed) {
            status.health = {HealthStatus::Unhealthy, status.error};
        } else if (status.state == ModuleState::Started && entry->module) {
            try {
                status.health = entry->module->health();
            } catch (...) {
                status.health = {HealthStatus::Unhealthy, u"health() threw an exception"_s};
            }
        }
        list.append(status);
    }
    return list;
}

// Registrations may come from any thread, also after start: each one publishes a new snapshot.
void ModuleHost::registerAuthenticator(int entry, IAuthenticator *service, int priority)
{
    const QString owner = m_entries[size_t(entry)]->status.metadata.id;
    QMutexLocker locker(&m_servicesMutex);
    m_services.authenticators.append({priority, service, owner});
    publishServices();
}

void ModuleHost::registerMessageFilter(int entry, IMessageFilter *service, int priority)
{
    const QString owner = m_entries[size_t(entry)]->status.metadata.id;
    QMutexLocker locker(&m_servicesMutex);
    m_services.filters.append({priority, service, owner});
    publishServices();
}

void ModuleHost::registerRequestHandler(int entry, const QString &action, IRequestHandler *service)
{
    const QString owner = m_entries[size_t(entry)]->status.metadata.id;
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
    const QString owner = m_entries[size_t(entry)]->status.metadata.id;
    QMutexLocker locker(&m_servicesMutex);
    m_services.rawFrameHandlers.append({priority, service, owner});
    publishServices();
}

} // namespace Mtw::Internal
