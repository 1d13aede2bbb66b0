// SPDX-License-Identifier: MIT
#include <mtw/server.h>

namespace Mtw {

struct ServerBuilder::Data
{
    Config config;
    std::optional<Error> error; // the first problem; build() reports it
    std::optional<QString> host;
    std::optional<int> port;
    QList<std::pair<std::shared_ptr<IModule>, ModuleMetadata>> modules;
};

ServerBuilder::ServerBuilder()
    : d(std::make_unique<Data>())
{ }

ServerBuilder::~ServerBuilder() = default;
ServerBuilder::ServerBuilder(ServerBuilder &&) noexcept = default;
ServerBuilder &ServerBuilder::operator=(ServerBuilder &&) noexcept = default;

ServerBuilder &ServerBuilder::configFile(const QString &path)
{
    const auto loaded = loadConfigFile(path);
    if (!loaded) {
        d->error = d->error.value_or(loaded.error());
    } else if (loaded->hasErrors()) {
        QStringList lines;
        for (const ConfigDiagnostic &diagnostic : loaded->errors())
            lines.append(diagnostic.toString());
        d->error = d->error.value_or(Error{400, lines.join(u'\n')});
    } else {
        d->config = loaded->config;
    }
    return *this;
}

ServerBuilder &ServerBuilder::config(const Config &config)
{
    d->config = config;
    return *this;
}

ServerBuilder &ServerBuilder::host(const QString &host)
{
    d->host = host;
    return *this;
}

ServerBuilder &ServerBuilder::port(int port)
{
    d->port = port;
    return *this;
}

ServerBuilder &ServerBuilder::module(std::shared_ptr<IModule> module,
                                     const ModuleMetadata &metadata)
{
    d->modules.append({std::move(module), metadata});
    return *this;
}

Result<std::unique_ptr<Server>> ServerBuilder::build()
{
    if (d->error)
        return tl::unexpected(*d->error);
    Config config = d->config;
    if (d->host)
        config.server.host = *d->host;
    if (d->port) {
        if (*d->port < 0 || *d->port > 65535)
            return fail(400,
                        QStringLiteral("port: expected an integer 0-65535, got %1").arg(*d->port));
        config.server.port = *d->port;
    }
    QStringList ids;
    for (const auto &[module, metadata] : std::as_const(d->modules)) {
        if (!module)
            return fail(400, QStringLiteral("module '%1' is null").arg(metadata.id()));
        if (metadata.id().isEmpty())
            return fail(400, QStringLiteral("a module registered with the builder has no id"));
        if (ids.contains(metadata.id()))
            return fail(409, QStringLiteral("module '%1' is registered twice").arg(metadata.id()));
        ids.append(metadata.id());
    }
    auto server = std::make_unique<Server>(config);
    for (const auto &[module, metadata] : std::as_const(d->modules))
        server->addModule(module, metadata);
    return server;
}

} // namespace Mtw
