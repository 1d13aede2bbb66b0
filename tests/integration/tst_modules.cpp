// SPDX-License-Identifier: MIT
// The module host through a real Mtw::Server and the fixture plugins of tests/plugins: lifecycle
// order, every failure mode with the error a user sees, required modules, version constraints,
// the stop deadline, built-in modules, and clients served whatever the modules did.
#include "testclient.h"

#include <mtw/server.h>

#include <QPluginLoader>
#include <QtTest>

using namespace Qt::StringLiterals;

Q_DECLARE_METATYPE(Mtw::ModuleConfig)
Q_DECLARE_METATYPE(Mtw::ModuleState)

namespace {

const QString FixtureDir = QStringLiteral(MTW_FIXTURE_PLUGIN_DIR);

Mtw::ModuleConfig entry(const QString &name, const QVariantMap &config = {})
{
    Mtw::ModuleConfig module;
    module.name = name;
    module.config = config;
    return module;
}

Mtw::ModuleConfig versioned(const QString &name, const QString &version)
{
    Mtw::ModuleConfig module = entry(name);
    module.version = version;
    return module;
}

Mtw::ModuleConfig required(const QString &name, const QVariantMap &config = {})
{
    Mtw::ModuleConfig module = entry(name, config);
    module.required = true;
    return module;
}

Mtw::ModuleConfig disabled(const QString &name)
{
    Mtw::ModuleConfig module = entry(name);
    module.enabled = false;
    return module;
}

Mtw::Config testConfig(const QList<Mtw::ModuleConfig> &modules)
{
    Mtw::Config config;
    config.server.host = u"127.0.0.1"_s;
    config.server.port = 0;
    config.server.workers = 1;
    config.server.shutdownTimeout = 5;
    config.server.pluginsDir = FixtureDir;
    config.modules = modules;
    return config;
}

// The first status of module `id`; a default one with an empty id when there is none.
Mtw::ModuleStatus statusOf(const Mtw::Server &server, const QString &id)
{
    for (const Mtw::ModuleStatus &status : server.modules()) {
        if (status.metadata().id() == id)
            return status;
    }
    return {};
}

QString stateOf(const Mtw::Server &server, const QString &id)
{
    const Mtw::ModuleStatus status = statusOf(server, id);
    return status.metadata().id().isEmpty() ? u"(absent)"_s : Mtw::moduleStateName(status.state());
}

QStringList moduleIds(const Mtw::Server &server)
{
    QStringList ids;
    for (const Mtw::ModuleStatus &status : server.modules())
        ids.append(status.metadata().id());
    return ids;
}

QStringList calls(const Mtw::Server &server)
{
    return server.shared().value(u"fixture.calls"_s).toStringList();
}

// Whether the dynamic linker ever ran the plugin's code (its static initializer).
bool codeRan(const QString &id)
{
    return QString::fromLocal8Bit(qgetenv("MTW_FIXTURE_LIBS")).split(u',').contains(id);
}

// A module compiled into the program, as ServerBuilder::module() takes it.
class BuiltinModule : public Mtw::IModule
{
public:
    Mtw::Result<void> load(Mtw::ModuleContext &context) override
    {
        m_context = &context;
        record(u"load"_s);
        return {};
    }
    Mtw::Result<void> start() override
    {
        record(u"start"_s);
        return {};
    }
    bool stop() override
    {
        record(u"stop"_s);
        return true;
    }

private:
    void record(const QString &call)
    {
        QStringList list = m_context->shared().value(u"fixture.calls"_s).toStringList();
        list.append(call + u':' + m_context->moduleId());
        m_context->shared().insert(u"fixture.calls"_s, list);
    }

    Mtw::ModuleContext *m_context = nullptr;
};

Mtw::ModuleMetadata builtinMetadata()
{
    Mtw::ModuleMetadata metadata;
    metadata.setId(u"builtin-test"_s);
    metadata.setName(u"Built-in test module"_s);
    metadata.setVersion(u"2.0.0"_s);
    return metadata;
}

} // namespace

class tst_Modules : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void stateNames_data()
    {
        QTest::addColumn<Mtw::ModuleState>("state");
        QTest::addColumn<QString>("name");
        QTest::newRow("discovered") << Mtw::ModuleState::Discovered << u"discovered"_s;
        QTest::newRow("resolved") << Mtw::ModuleState::Resolved << u"resolved"_s;
        QTest::newRow("loaded") << Mtw::ModuleState::Loaded << u"loaded"_s;
        QTest::newRow("started") << Mtw::ModuleState::Started << u"started"_s;
        QTest::newRow("stopping") << Mtw::ModuleState::Stopping << u"stopping"_s;
        QTest::newRow("stopped") << Mtw::ModuleState::Stopped << u"stopped"_s;
        QTest::newRow("failed") << Mtw::ModuleState::Failed << u"failed"_s;
    }

    void stateNames()
    {
        QFETCH(Mtw::ModuleState, state);
        QFETCH(QString, name);
        QCOMPARE(Mtw::moduleStateName(state), name);
    }

    // A reload that changes the table of a module without Mtw::IReconfigurable: reported as
    // needing a restart, the module keeps running with the table it started with.
    void tableOfAModuleWithoutReconfigureNeedsARestart()
    {
        Mtw::Server server(testConfig({entry(u"fixture-good"_s, {{u"level"_s, 1}})}));
        Mtw::Config next = server.config();
        next.modules[0].config = {{u"level"_s, 2}};
        server.setConfigLoader([next]() -> Mtw::Result<Mtw::ConfigLoadResult> {
            Mtw::ConfigLoadResult result;
            result.config = next;
            return result;
        });
        QVERIFY(server.start());
        const auto reloaded = server.reloadConfig();
        QVERIFY2(reloaded, qPrintable(reloaded ? QString() : reloaded.error().message));
        QCOMPARE(Mtw::restartRequiredKeys(*reloaded), QStringList{u"modules[0].config.level"_s});
        QCOMPARE(server.config().modules.at(0).config.value(u"level"_s), QVariant(1));
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"started"_s);
    }

    // Dependencies first, then configuration order; stop in exactly the reverse order.
    void lifecycleOrder()
    {
        Mtw::Server server(testConfig({entry(u"fixture-recorder"_s),
                                       entry(u"fixture-dependent"_s),
                                       entry(u"fixture-good"_s)}));
        QVERIFY(server.start());
        QCOMPARE(calls(server),
                 QStringList({u"load:fixture-recorder"_s,
                              u"load:fixture-good"_s,
                              u"load:fixture-dependent"_s,
                              u"start:fixture-recorder"_s,
                              u"start:fixture-good"_s,
                              u"start:fixture-dependent"_s}));
        QCOMPARE(moduleIds(server),
                 QStringList({u"fixture-recorder"_s, u"fixture-good"_s, u"fixture-dependent"_s}));
        for (const Mtw::ModuleStatus &status : server.modules()) {
            QCOMPARE(Mtw::moduleStateName(status.state()), u"started"_s);
            QVERIFY2(status.error().isEmpty(), qPrintable(status.error()));
            QVERIFY(!status.isRequired());
            QCOMPARE(status.health().status(), Mtw::HealthStatus::Healthy);
        }

        // The metadata came from the JSON compiled into the plugin.
        const Mtw::ModuleStatus good = statusOf(server, u"fixture-good"_s);
        QCOMPARE(good.path(), FixtureDir + u"/fixture-good.so"_s);
        QCOMPARE(good.metadata().name(), u"Fixture Good"_s);
        QCOMPARE(good.metadata().version(), u"1.2.0"_s);
        QCOMPARE(good.metadata().apiVersion(), 2);
        QCOMPARE(good.metadata().kind(), u"service"_s);
        QCOMPARE(good.metadata().description(), u"Records its lifecycle calls"_s);
        QCOMPARE(good.metadata().license(), u"MIT"_s);
        QCOMPARE(statusOf(server, u"fixture-dependent"_s).metadata().dependencies(),
                 QList<Mtw::ModuleDependency>({{u"fixture-good"_s, u"^1.0"_s}}));

        QSignalSpy finished(&server, &Mtw::Server::finished);
        server.shutdown();
        QTRY_COMPARE(finished.size(), 1);
        QCOMPARE(
            calls(server).mid(6),
            QStringList(
                {u"stop:fixture-dependent"_s, u"stop:fixture-good"_s, u"stop:fixture-recorder"_s}));
        for (const Mtw::ModuleStatus &status : server.modules())
            QCOMPARE(Mtw::moduleStateName(status.state()), u"stopped"_s);
    }

    // Each broken plugin is marked failed with an error naming what to fix; the others start
    // and the server serves.
    void brokenModule_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("error");
        QTest::addColumn<bool>("codeRuns");

        QTest::newRow("wrong IID")
            << u"fixture-wrong-iid"_s
            << u"fixture-wrong-iid.so is not an mtwserver module of this API: its interface id is "
               "\"org.example.Other/1\", this server loads \"org.mtwserver.IModule/2\""_s
            << false;
        QTest::newRow("bad metadata")
            << u"fixture-bad-metadata"_s
            << u"fixture-bad-metadata.so has invalid metadata: \"version\" must be a non-empty "
               "string"_s
            << false;
        // A plugin built against the API 1 headers: refused from its interface id, before its code
        // runs, with both versions named.
        QTest::newRow("API 1")
            << u"fixture-api1"_s
            << u"fixture-api1.so was built for module API 1 (interface id "
               "\"org.mtwserver.IModule/1\"), this server provides API 2 "
               "(\"org.mtwserver.IModule/2\"): rebuild it against this server's headers"_s
            << false;
        QTest::newRow("missing dependency")
            << u"fixture-missing-dep"_s << u"needs module 'nope', which is not configured"_s
            << false;
        QTest::newRow("start fails")
            << u"fixture-start-fails"_s << u"cannot reach its backend at 127.0.0.1:9"_s << true;
        QTest::newRow("load throws")
            << u"fixture-throws"_s << u"load() threw an exception: config key 'x' is missing"_s
            << true;
        // QPluginLoader::instance() runs the constructor: guarded like every module call.
        QTest::newRow("constructor throws")
            << u"fixture-ctor-throws"_s
            << u"the plugin's constructor (%dir/fixture-ctor-throws.so) threw an exception: "
               "licence file /etc/fixture.lic is missing"_s
            << true;
        QTest::newRow("not found")
            << u"fixture-nowhere"_s << u"module 'fixture-nowhere' not found in %paths"_s << false;
    }

    void brokenModule()
    {
        QFETCH(QString, name);
        QFETCH(QString, error);
        QFETCH(bool, codeRuns);

        Mtw::Server server(testConfig({entry(name), entry(u"fixture-good"_s)}));
        QVERIFY(server.start());
        QVERIFY(server.isRunning());
        error.replace(u"%paths"_s, server.pluginSearchPaths().join(u", "_s));
        error.replace(u"%dir"_s, FixtureDir);
        QVERIFY(server.pluginSearchPaths().startsWith(FixtureDir));

        const Mtw::ModuleStatus broken = statusOf(server, name);
        QCOMPARE(broken.metadata().id(), name);
        QCOMPARE(Mtw::moduleStateName(broken.state()), u"failed"_s);
        QCOMPARE(broken.error(), error);
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"started"_s);
        QVERIFY(calls(server).contains(u"start:fixture-good"_s));
        QVERIFY(!calls(server).contains(u"start:"_s + name) || name == u"fixture-start-fails"_s);
        // Metadata is read without running plugin code: refused plugins were never loaded.
        QCOMPARE(codeRan(name), codeRuns);
        QVERIFY(codeRan(u"fixture-good"_s));

        QSignalSpy finished(&server, &Mtw::Server::finished);
        server.shutdown();
        QTRY_COMPARE(finished.size(), 1);
        QCOMPARE(stateOf(server, name), u"failed"_s);
        QCOMPARE(statusOf(server, name).error(), error);
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"stopped"_s);
    }

    void dependencyCycle()
    {
        Mtw::Server server(testConfig(
            {entry(u"fixture-cycle-a"_s), entry(u"fixture-good"_s), entry(u"fixture-cycle-b"_s)}));
        QVERIFY(server.start());
        const QString error = u"dependency cycle between fixture-cycle-a, fixture-cycle-b"_s;
        QCOMPARE(stateOf(server, u"fixture-cycle-a"_s), u"failed"_s);
        QCOMPARE(statusOf(server, u"fixture-cycle-a"_s).error(), error);
        QCOMPARE(stateOf(server, u"fixture-cycle-b"_s), u"failed"_s);
        QCOMPARE(statusOf(server, u"fixture-cycle-b"_s).error(), error);
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"started"_s);
        QVERIFY(!codeRan(u"fixture-cycle-a"_s));
        QVERIFY(!codeRan(u"fixture-cycle-b"_s));
    }

    // A module whose dependency failed (whatever the reason) fails too, saying which one.
    void dependantsFail_data()
    {
        QTest::addColumn<QList<Mtw::ModuleConfig>>("modules");
        QTest::addColumn<QString>("dependant");
        QTest::addColumn<QString>("dependency");
        QTest::addColumn<QString>("dependencyError");
        QTest::addColumn<QString>("error");

        const QString goodFailed = u"dependency 'fixture-good' failed"_s;
        QTest::newRow("load fails")
            << QList{entry(u"fixture-dependent"_s),
                     entry(u"fixture-good"_s, {{u"fail_load"_s, u"database unreachable"_s}})}
            << u"fixture-dependent"_s << u"fixture-good"_s << u"database unreachable"_s
            << goodFailed;
        QTest::newRow("start fails")
            << QList{entry(u"fixture-good"_s, {{u"fail_start"_s, u"port in use"_s}}),
                     entry(u"fixture-dependent"_s)}
            << u"fixture-dependent"_s << u"fixture-good"_s << u"port in use"_s << goodFailed;
        QTest::newRow("version refused")
            << QList{versioned(u"fixture-good"_s, u">=2"_s), entry(u"fixture-dependent"_s)}
            << u"fixture-dependent"_s << u"fixture-good"_s
            << u"module 'fixture-good' is version 1.2.0, but the configuration asks for >=2"_s
            << goodFailed;
        QTest::newRow("plugin refused")
            << QList{entry(u"fixture-needs-broken"_s), entry(u"fixture-bad-metadata"_s)}
            << u"fixture-needs-broken"_s << u"fixture-bad-metadata"_s
            << u"fixture-bad-metadata.so has invalid metadata: \"version\" must be a non-empty "
               "string"_s
            << u"dependency 'fixture-bad-metadata' failed"_s;
        QTest::newRow("dependency in a cycle")
            << QList{entry(u"fixture-needs-cycle"_s),
                     entry(u"fixture-cycle-a"_s),
                     entry(u"fixture-cycle-b"_s)}
            << u"fixture-needs-cycle"_s << u"fixture-cycle-a"_s
            << u"dependency cycle between fixture-cycle-a, fixture-cycle-b"_s
            << u"dependency 'fixture-cycle-a' failed"_s;
        QTest::newRow("dependency not configured")
            << QList{entry(u"fixture-dependent"_s)} << u"fixture-dependent"_s << QString()
            << QString() << u"needs module 'fixture-good', which is not configured"_s;
        QTest::newRow("dependency disabled")
            << QList{disabled(u"fixture-good"_s), entry(u"fixture-dependent"_s)}
            << u"fixture-dependent"_s << QString() << QString()
            << u"needs module 'fixture-good', which is not configured"_s;
    }

    void dependantsFail()
    {
        QFETCH(QList<Mtw::ModuleConfig>, modules);
        QFETCH(QString, dependant);
        QFETCH(QString, dependency);
        QFETCH(QString, dependencyError);
        QFETCH(QString, error);

        modules.append(entry(u"fixture-recorder"_s)); // an unrelated module is not affected
        Mtw::Server server(testConfig(modules));
        QVERIFY(server.start());
        if (!dependency.isEmpty()) {
            QCOMPARE(stateOf(server, dependency), u"failed"_s);
            QCOMPARE(statusOf(server, dependency).error(), dependencyError);
        }
        QCOMPARE(stateOf(server, dependant), u"failed"_s);
        QCOMPARE(statusOf(server, dependant).error(), error);
        QVERIFY(!calls(server).contains(u"start:"_s + dependant));
        QCOMPARE(stateOf(server, u"fixture-recorder"_s), u"started"_s);
    }

    // required = true: a failure makes start() fail with 500 naming the module, and what had
    // started is stopped again.
    void requiredModuleFails_data()
    {
        QTest::addColumn<QList<Mtw::ModuleConfig>>("modules");
        QTest::addColumn<QString>("message");

        QTest::newRow("start fails")
            << QList{required(u"fixture-start-fails"_s)}
            << u"required module 'fixture-start-fails' failed: cannot reach its backend at "
               "127.0.0.1:9"_s;
        QTest::newRow("wrong IID")
            << QList{required(u"fixture-wrong-iid"_s)}
            << u"required module 'fixture-wrong-iid' failed: fixture-wrong-iid.so is not an "
               "mtwserver module of this API: its interface id is \"org.example.Other/1\", this "
               "server loads \"org.mtwserver.IModule/2\""_s;
        QTest::newRow("load throws")
            << QList{required(u"fixture-throws"_s)}
            << u"required module 'fixture-throws' failed: load() threw an exception: config key "
               "'x' is missing"_s;
        QTest::newRow("constructor throws")
            << QList{required(u"fixture-ctor-throws"_s)}
            << u"required module 'fixture-ctor-throws' failed: the plugin's constructor "
               "(%dir/fixture-ctor-throws.so) threw an exception: licence file "
               "/etc/fixture.lic is missing"_s;
        QTest::newRow("its dependency fails")
            << QList{entry(u"fixture-good"_s, {{u"fail_start"_s, u"no disk"_s}}),
                     required(u"fixture-dependent"_s)}
            << u"required module 'fixture-dependent' failed: dependency 'fixture-good' failed"_s;
    }

    void requiredModuleFails()
    {
        QFETCH(QList<Mtw::ModuleConfig>, modules);
        QFETCH(QString, message);
        message.replace(u"%dir"_s, FixtureDir);

        modules.prepend(entry(u"fixture-recorder"_s));
        Mtw::Server server(testConfig(modules));
        const auto started = server.start();
        QVERIFY(!started);
        QCOMPARE(started.error().code, 500);
        QCOMPARE(started.error().message, message);
        QVERIFY(!server.isRunning());
        QCOMPARE(server.port(), quint16(0));
        const Mtw::ModuleStatus status = statusOf(server, modules.last().name);
        QCOMPARE(Mtw::moduleStateName(status.state()), u"failed"_s);
        QVERIFY(status.isRequired());
        // The module that had started is stopped again.
        QVERIFY(calls(server).contains(u"stop:fixture-recorder"_s));
        QCOMPARE(stateOf(server, u"fixture-recorder"_s), u"stopped"_s);
    }

    void requiredModuleStarts()
    {
        Mtw::Server server(testConfig({required(u"fixture-good"_s)}));
        QVERIFY(server.start());
        QVERIFY(statusOf(server, u"fixture-good"_s).isRequired());
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"started"_s);
    }

    void disabledModuleIsSkipped()
    {
        Mtw::Server server(testConfig({disabled(u"fixture-good"_s), entry(u"fixture-recorder"_s)}));
        QVERIFY(server.start());
        QCOMPARE(moduleIds(server), QStringList{u"fixture-recorder"_s});
        QCOMPARE(calls(server),
                 QStringList({u"load:fixture-recorder"_s, u"start:fixture-recorder"_s}));
    }

    void versionConstraint_data()
    {
        QTest::addColumn<QString>("constraint");
        QTest::addColumn<QString>("error"); // empty: accepted

        for (const QString &accepted :
             {u"^1.0"_s, u">=1.2 <2"_s, u"1.2"_s, u"~1.2.0"_s, u"=1.2.0"_s, u"*"_s}) {
            QTest::addRow("accepts %s", qPrintable(accepted)) << accepted << QString();
        }
        for (const QString &refused : {u">=2"_s, u"<1.2"_s, u"~1.3"_s, u"1.2.1"_s, u"^0.9"_s}) {
            QTest::addRow("refuses %s", qPrintable(refused))
                << refused
                << u"module 'fixture-good' is version 1.2.0, but the configuration asks for %1"_s
                       .arg(refused);
        }
        QTest::newRow("invalid constraint")
            << u"latest"_s
            << u"[[modules]] fixture-good: invalid version range \"latest\": invalid version "
               "\"latest\": expected MAJOR[.MINOR[.PATCH]]"_s;
    }

    void versionConstraint()
    {
        QFETCH(QString, constraint);
        QFETCH(QString, error);

        Mtw::Server server(testConfig({versioned(u"fixture-good"_s, constraint)}));
        QVERIFY(server.start());
        const Mtw::ModuleStatus status = statusOf(server, u"fixture-good"_s);
        QCOMPARE(status.error(), error);
        QCOMPARE(Mtw::moduleStateName(status.state()),
                 error.isEmpty() ? u"started"_s : u"failed"_s);
        QCOMPARE(calls(server).contains(u"load:fixture-good"_s), error.isEmpty());
        // A failed module is unhealthy, for the same reason.
        QCOMPARE(status.health().status(),
                 error.isEmpty() ? Mtw::HealthStatus::Healthy : Mtw::HealthStatus::Unhealthy);
        QCOMPARE(status.health().reason(), error.isEmpty() ? QString() : error);
    }

    void duplicateEntryRefused()
    {
        Mtw::Server server(testConfig({entry(u"fixture-good"_s, {{u"first"_s, true}}),
                                       entry(u"fixture-recorder"_s),
                                       entry(u"fixture-good"_s, {{u"second"_s, true}})}));
        QVERIFY(server.start());
        const QList<Mtw::ModuleStatus> modules = server.modules();
        QCOMPARE(modules.size(), 3);
        int failed = 0;
        for (const Mtw::ModuleStatus &status : modules) {
            if (status.metadata().id() != u"fixture-good"_s)
                continue;
            if (status.state() == Mtw::ModuleState::Failed) {
                ++failed;
                QCOMPARE(status.error(),
                         u"module 'fixture-good' is listed twice; only the first entry is used"_s);
            } else {
                QCOMPARE(Mtw::moduleStateName(status.state()), u"started"_s);
            }
        }
        QCOMPARE(failed, 1);
        QCOMPARE(calls(server).count(u"load:fixture-good"_s), 1);
        // The first entry's config is the one the module got.
        QCOMPARE(server.shared().value(u"fixture.config.fixture-good"_s).toMap(),
                 QVariantMap({{u"first"_s, true}}));
    }

    // The [[modules]] config table of mtw.toml reaches load() as a QVariantMap, ${ENV} expanded.
    void configTableReachesModule()
    {
        QProcessEnvironment env;
        env.insert(u"FIXTURE_SECRET"_s, u"s3cr3t"_s);
        const auto parsed = Mtw::parseConfig(uR"([server]
host = "127.0.0.1"
port = 0
workers = 1

[[modules]]
name = "fixture-good"
version = "^1"

[modules.config]
token = "${FIXTURE_SECRET}"
fallback = "${FIXTURE_UNSET:-plain}"
retries = 3
ratio = 0.5
verbose = true
tags = ["a", "b"]

[modules.config.nested]
url = "http://${FIXTURE_SECRET}@example.org"
)"_s,
                                             u"mtw.toml"_s,
                                             env);
        QVERIFY(!parsed.hasErrors());
        Mtw::Config config = parsed.config;
        config.server.pluginsDir = FixtureDir;
        Mtw::Server server(config);
        QVERIFY(server.start());
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"started"_s);
        const QVariantMap seen = server.shared().value(u"fixture.config.fixture-good"_s).toMap();
        QCOMPARE(seen.keys(),
                 QStringList({u"fallback"_s,
                              u"nested"_s,
                              u"ratio"_s,
                              u"retries"_s,
                              u"tags"_s,
                              u"token"_s,
                              u"verbose"_s}));
        QCOMPARE(seen.value(u"token"_s).toString(), u"s3cr3t"_s);
        QCOMPARE(seen.value(u"fallback"_s).toString(), u"plain"_s);
        QCOMPARE(seen.value(u"retries"_s).toInt(), 3);
        QCOMPARE(seen.value(u"ratio"_s).toDouble(), 0.5);
        QCOMPARE(seen.value(u"verbose"_s).toBool(), true);
        QCOMPARE(seen.value(u"tags"_s).toStringList(), QStringList({u"a"_s, u"b"_s}));
        QCOMPARE(seen.value(u"nested"_s).toMap().value(u"url"_s).toString(),
                 u"http://s3cr3t@example.org"_s);
    }

    // An asynchronous stop that never finishes: the host waits for it and gives up at the 5 s
    // deadline. The module is failed with a message naming the deadline, the modules before it
    // still stop, and the shutdown completes. The fixture's probe, a timer it starts in stop()
    // for half the deadline, shows the waiting: the host moved on only after it.
    void slowStopHitsDeadline()
    {
        Mtw::Server server(testConfig(
            {entry(u"fixture-good"_s), entry(u"fixture-slow-stop"_s, {{u"probe_ms"_s, 2500}})}));
        QVERIFY(server.start());
        QSignalSpy finished(&server, &Mtw::Server::finished);
        server.shutdown();
        QTRY_COMPARE(stateOf(server, u"fixture-slow-stop"_s), u"stopping"_s);
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"started"_s);
        QVERIFY(finished.isEmpty());

        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 60000);
        QCOMPARE(stateOf(server, u"fixture-slow-stop"_s), u"failed"_s);
        QCOMPARE(statusOf(server, u"fixture-slow-stop"_s).error(),
                 u"did not finish stopping within 5000 ms"_s);
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"stopped"_s);
        QVERIFY(!server.isRunning());
        // The stop that hung, the probe half-way to the deadline (fixture-good not stopped
        // yet: the host was still waiting), then the rest of the shutdown. Waited for, so that
        // a host that gave up early fails here rather than leaving the timer behind.
        QTRY_VERIFY_WITH_TIMEOUT(calls(server).contains(u"probe:fixture-slow-stop"_s), 60000);
        QCOMPARE(calls(server).mid(4),
                 QStringList({u"stop:fixture-slow-stop"_s,
                              u"probe:fixture-slow-stop"_s,
                              u"stop:fixture-good"_s}));
    }

    // An asynchronous stop that calls stopFinished() is waited for, and no longer: the next
    // module stops because of that call (after it, not before), and not at the deadline, which
    // would have failed the module.
    void asyncStopFinishes()
    {
        Mtw::Server server(testConfig(
            {entry(u"fixture-recorder"_s), entry(u"fixture-good"_s, {{u"async_stop_ms"_s, 50}})}));
        QVERIFY(server.start());
        QSignalSpy finished(&server, &Mtw::Server::finished);
        server.shutdown();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 60000);
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"stopped"_s);
        QVERIFY(statusOf(server, u"fixture-good"_s).error().isEmpty());
        QCOMPARE(stateOf(server, u"fixture-recorder"_s), u"stopped"_s);
        QCOMPARE(calls(server).mid(4),
                 QStringList({u"stop:fixture-good"_s,
                              u"stopFinished:fixture-good"_s,
                              u"stop:fixture-recorder"_s}));
    }

    // After every kind of broken module, real clients still connect, subscribe and publish.
    void clientsServedDespiteBrokenModules()
    {
        Mtw::Server server(testConfig({entry(u"fixture-wrong-iid"_s),
                                       entry(u"fixture-bad-metadata"_s),
                                       entry(u"fixture-api1"_s),
                                       entry(u"fixture-missing-dep"_s),
                                       entry(u"fixture-cycle-a"_s),
                                       entry(u"fixture-cycle-b"_s),
                                       entry(u"fixture-needs-cycle"_s),
                                       entry(u"fixture-start-fails"_s),
                                       entry(u"fixture-throws"_s),
                                       entry(u"fixture-ctor-throws"_s),
                                       entry(u"fixture-nowhere"_s),
                                       entry(u"fixture-good"_s),
                                       entry(u"fixture-good"_s)}));
        QVERIFY(server.start());
        int failed = 0;
        for (const Mtw::ModuleStatus &status : server.modules()) {
            if (status.state() == Mtw::ModuleState::Failed)
                ++failed;
        }
        QCOMPARE(failed, 12);
        QCOMPARE(stateOf(server, u"fixture-good"_s), u"started"_s);

        const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(server.port()));
        TestClient reader;
        TestClient writer;
        QVERIFY(reader.open(url));
        QVERIFY(writer.open(url));
        QCOMPARE(reader.received.constFirst().value(u"type"_s).toString(), u"ack"_s);
        reader.sendEnvelope(u"subscribe"_s, u"s1"_s, {{u"channel"_s, u"room.a"_s}});
        QCOMPARE(reader.reply(u"s1"_s).value(u"type"_s).toString(), u"response"_s);
        writer.sendEnvelope(
            u"publish"_s,
            u"p1"_s,
            {{u"channel"_s, u"room.a"_s},
             {u"payload"_s, QJsonObject{{u"kind"_s, u"Text"_s}, {u"data"_s, u"hello"_s}}}});
        const QJsonObject published = writer.reply(u"p1"_s);
        QCOMPARE(published.value(u"type"_s).toString(), u"response"_s);
        QJsonObject data = published.value(u"payload"_s).toObject().value(u"data"_s).toObject();
        QCOMPARE(data.take(u"offset"_s).toInteger(), 1);
        QVERIFY(!data.take(u"epoch"_s).toString().isEmpty());
        QCOMPARE(data, QJsonObject({{u"published"_s, u"room.a"_s}, {u"recipients"_s, 1}}));
        QTRY_COMPARE(reader.ofType(u"publish"_s, u"room.a"_s).size(), 1);
        QCOMPARE(reader.ofType(u"publish"_s, u"room.a"_s)
                     .constFirst()
                     .value(u"payload"_s)
                     .toObject()
                     .value(u"data"_s)
                     .toString(),
                 u"hello"_s);
        QVERIFY(server.isRunning());
    }

    // A plugin library stays loaded after its server is gone.
    void librariesAreNeverUnloaded()
    {
        {
            Mtw::Server server(testConfig({entry(u"fixture-good"_s)}));
            QVERIFY(server.start());
            QSignalSpy finished(&server, &Mtw::Server::finished);
            server.shutdown();
            QTRY_COMPARE(finished.size(), 1);
        }
        QVERIFY(QPluginLoader(FixtureDir + u"/fixture-good.so"_s).isLoaded());
        // And a second server loads the module again.
        Mtw::Server again(testConfig({entry(u"fixture-good"_s)}));
        QVERIFY(again.start());
        QCOMPARE(calls(again), QStringList({u"load:fixture-good"_s, u"start:fixture-good"_s}));
    }

    // ServerBuilder::module(): compiled-in modules load and start before configured ones and
    // stop after them.
    void builtinModuleFirst()
    {
        auto built = Mtw::ServerBuilder()
                         .config(testConfig({entry(u"fixture-dependent"_s),
                                             entry(u"fixture-good"_s),
                                             entry(u"builtin-test"_s)}))
                         .host(u"127.0.0.1"_s)
                         .port(0)
                         .module(std::make_shared<BuiltinModule>(), builtinMetadata())
                         .build();
        QVERIFY(built);
        Mtw::Server &server = **built;
        QVERIFY(server.start());
        QCOMPARE(calls(server),
                 QStringList({u"load:builtin-test"_s,
                              u"load:fixture-good"_s,
                              u"load:fixture-dependent"_s,
                              u"start:builtin-test"_s,
                              u"start:fixture-good"_s,
                              u"start:fixture-dependent"_s}));
        const QList<Mtw::ModuleStatus> modules = server.modules();
        QCOMPARE(modules.size(), 4);
        QCOMPARE(modules.constFirst().metadata(), builtinMetadata());
        QCOMPARE(Mtw::moduleStateName(modules.constFirst().state()), u"started"_s);
        QVERIFY(modules.constFirst().path().isEmpty());
        // A configured entry cannot take the built-in module's name.
        QCOMPARE(modules.constLast().metadata().id(), u"builtin-test"_s);
        QCOMPARE(Mtw::moduleStateName(modules.constLast().state()), u"failed"_s);
        QCOMPARE(modules.constLast().error(),
                 u"module 'builtin-test' is listed twice; only the first entry is used"_s);

        QSignalSpy finished(&server, &Mtw::Server::finished);
        server.shutdown();
        QTRY_COMPARE(finished.size(), 1);
        QCOMPARE(
            calls(server).mid(6),
            QStringList(
                {u"stop:fixture-dependent"_s, u"stop:fixture-good"_s, u"stop:builtin-test"_s}));
        QCOMPARE(stateOf(server, u"builtin-test"_s), u"stopped"_s);
    }

    void builderRefusesDuplicateBuiltin()
    {
        const auto built = Mtw::ServerBuilder()
                               .module(std::make_shared<BuiltinModule>(), builtinMetadata())
                               .module(std::make_shared<BuiltinModule>(), builtinMetadata())
                               .build();
        QVERIFY(!built);
        QCOMPARE(built.error().code, 409);
        QCOMPARE(built.error().message, u"module 'builtin-test' is registered twice"_s);
    }
};

QTEST_MAIN(tst_Modules)
#include "tst_modules.moc"
