// SPDX-License-Identifier: MIT
#include "proxysettings.h"

#include <QFile>
#include <QRegularExpression>

#include <optional>

namespace Mtw::ProxyHttp {

using namespace Qt::StringLiterals;

namespace {

const QStringList &knownKeys()
{
    static const QStringList keys{u"connect_url"_s,
                                  u"subscribe_url"_s,
                                  u"publish_url"_s,
                                  u"rpc_url"_s,
                                  u"rpc_actions"_s,
                                  u"timeout_ms"_s,
                                  u"max_concurrent"_s,
                                  u"max_queue"_s,
                                  u"headers"_s,
                                  u"backend_headers"_s,
                                  u"ca_file"_s};
    return keys;
}

const char *const UrlKeys[ProxyKindCount] = {"connect_url",
                                             "subscribe_url",
                                             "publish_url",
                                             "rpc_url"};

// An HTTP header name (RFC 9110 token).
bool isHeaderName(const QString &name)
{
    static const QRegularExpression token(u"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"_s);
    return token.match(name).hasMatch();
}

// Reads the config table key by key; the first bad key is the error fromConfig() returns.
class Reader
{
public:
    explicit Reader(const QVariantMap &config)
        : m_config(config)
    { }

    std::optional<Error> error;

    bool has(const QString &key) const { return m_config.contains(key); }

    int integer(const QString &key, int fallback, int minimum, int maximum)
    {
        const auto it = m_config.constFind(key);
        if (it == m_config.cend())
            return fallback;
        const int type = it->typeId();
        const bool integral = type == QMetaType::LongLong || type == QMetaType::Int
            || type == QMetaType::ULongLong || type == QMetaType::UInt;
        const qint64 value = it->toLongLong();
        if (!integral || value < minimum || value > maximum) {
            refuse(u"%1 must be an integer from %2 to %3, got \"%4\""_s.arg(key)
                       .arg(minimum)
                       .arg(maximum)
                       .arg(it->toString()));
            return fallback;
        }
        return int(value);
    }

    QString text(const QString &key)
    {
        const auto it = m_config.constFind(key);
        if (it == m_config.cend())
            return {};
        if (it->typeId() != QMetaType::QString) {
            refuse(u"%1 must be a string, got \"%2\""_s.arg(key, it->toString()));
            return {};
        }
        return it->toString();
    }

    QStringList texts(const QString &key)
    {
        const auto it = m_config.constFind(key);
        if (it == m_config.cend())
            return {};
        if (it->typeId() != QMetaType::QVariantList) {
            refuse(u"%1 must be a list of strings, got \"%2\""_s.arg(key, it->toString()));
            return {};
        }
        QStringList out;
        for (const QVariant &item : it->toList()) {
            if (item.typeId() != QMetaType::QString || item.toString().isEmpty()) {
                refuse(
                    u"%1 must be a list of non-empty strings, got \"%2\""_s.arg(key,
                                                                                item.toString()));
                return {};
            }
            out.append(item.toString());
        }
        return out;
    }

    QVariantMap table(const QString &key)
    {
        const auto it = m_config.constFind(key);
        if (it == m_config.cend())
            return {};
        if (it->typeId() != QMetaType::QVariantMap) {
            refuse(u"%1 must be a table of header = \"value\""_s.arg(key));
            return {};
        }
        return it->toMap();
    }

    void refuse(const QString &message)
    {
        if (!error)
            error = Error{400, u"mtw-proxy-http: "_s + message};
    }

private:
    const QVariantMap &m_config;
};

QUrl backendUrl(Reader &reader, const QString &key)
{
    const QString text = reader.text(key);
    if (text.isEmpty())
        return {};
    const QUrl url(text, QUrl::StrictMode);
    if (!url.isValid() || (url.scheme() != u"http" && url.scheme() != u"https")
        || url.host().isEmpty() || url.hasFragment()) {
        // The URL may carry a secret (user info, a query): name the key, show the safe part.
        reader.refuse(u"%1 must be an http:// or https:// URL with a host, got \"%2\""_s.arg(
            key,
            displayUrl(url)));
        return {};
    }
    return url;
}

} // namespace

QString kindName(ProxyKind kind)
{
    switch (kind) {
    case ProxyKind::Connect:
        return u"connect"_s;
    case ProxyKind::Subscribe:
        return u"subscribe"_s;
    case ProxyKind::Publish:
        return u"publish"_s;
    case ProxyKind::Rpc:
        return u"rpc"_s;
    }
    return {};
}

QString displayUrl(const QUrl &url)
{
    return url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment);
}

Result<ProxySettings> ProxySettings::fromConfig(const QVariantMap &config, int decisionTimeoutMs)
{
    for (auto it = config.cbegin(); it != config.cend(); ++it) {
        if (!knownKeys().contains(it.key())) {
            return fail(400,
                        u"mtw-proxy-http: unknown config key '%1' (known: %2)"_s.arg(
                            it.key(),
                            knownKeys().join(u", "_s)));
        }
    }
    Reader reader(config);
    ProxySettings settings;
    bool any = false;
    for (int kind = 0; kind < ProxyKindCount; ++kind) {
        settings.urls[size_t(kind)] = backendUrl(reader, QLatin1String(UrlKeys[kind]));
        any = any || !settings.urls[size_t(kind)].isEmpty();
    }
    settings.rpcActions = reader.texts(u"rpc_actions"_s);
    const int ceiling = std::max(1, decisionTimeoutMs - 1);
    settings.timeoutMs =
        reader.integer(u"timeout_ms"_s, std::max(1, decisionTimeoutMs * 3 / 4), 1, ceiling);
    settings.maxConcurrent = reader.integer(u"max_concurrent"_s, 32, 1, 1024);
    settings.maxQueue = reader.integer(u"max_queue"_s, 256, 0, 100000);
    for (const QString &name : reader.texts(u"headers"_s)) {
        if (!isHeaderName(name)) {
            reader.refuse(u"headers: \"%1\" is not an HTTP header name"_s.arg(name));
            break;
        }
        static const QStringList framing{u"host"_s,
                                         u"content-length"_s,
                                         u"content-type"_s,
                                         u"transfer-encoding"_s,
                                         u"connection"_s,
                                         u"upgrade"_s,
                                         u"te"_s,
                                         u"keep-alive"_s,
                                         u"expect"_s};
        if (framing.contains(name.toLower())) {
            reader.refuse(u"headers: \"%1\" belongs to the HTTP request itself and cannot be "
                          u"forwarded"_s.arg(name));
            break;
        }
        settings.forwardHeaders.append(name.toLower().toLatin1());
    }
    const QVariantMap extra = reader.table(u"backend_headers"_s);
    for (auto it = extra.cbegin(); it != extra.cend(); ++it) {
        const QString value = it.value().toString();
        if (!isHeaderName(it.key())) {
            reader.refuse(u"backend_headers: \"%1\" is not an HTTP header name"_s.arg(it.key()));
            break;
        }
        // The value is a secret as often as not: say what is wrong with it, never show it.
        if (it.value().typeId() != QMetaType::QString || value.isEmpty() || value.contains(u'\r')
            || value.contains(u'\n')) {
            reader.refuse(u"backend_headers.%1 must be a non-empty one-line string (its value "
                          u"is not shown: it may be a secret)"_s.arg(it.key()));
            break;
        }
        settings.extraHeaders.append({it.key().toLatin1(), value.toUtf8()});
    }
    settings.caFile = reader.text(u"ca_file"_s);
    if (reader.error)
        return tl::unexpected(*reader.error);

    if (!any) {
        return fail(400,
                    u"mtw-proxy-http: no proxy configured: set at least one of connect_url, "
                    u"subscribe_url, publish_url, rpc_url"_s);
    }
    if (settings.enabled(ProxyKind::Rpc) && settings.rpcActions.isEmpty()) {
        return fail(400,
                    u"mtw-proxy-http: rpc_url is set but rpc_actions is empty: list the request "
                    u"actions to send to the backend, e.g. rpc_actions = [\"app.echo\"]"_s);
    }
    if (!settings.enabled(ProxyKind::Rpc) && !settings.rpcActions.isEmpty()) {
        return fail(400,
                    u"mtw-proxy-http: rpc_actions = [%1] needs rpc_url"_s.arg(
                        settings.rpcActions.join(u", "_s)));
    }
    if (!settings.enabled(ProxyKind::Connect) && !settings.forwardHeaders.isEmpty()) {
        return fail(400,
                    u"mtw-proxy-http: headers are forwarded with connect only, and connect_url is "
                    u"not set"_s);
    }
    if (!settings.caFile.isEmpty()) {
        const bool https = std::any_of(settings.urls.cbegin(), settings.urls.cend(), [](auto &u) {
            return u.scheme() == u"https";
        });
        if (!https) {
            return fail(400,
                        u"mtw-proxy-http: ca_file \"%1\" is set but no *_url is https://"_s.arg(
                            settings.caFile));
        }
        QFile file(settings.caFile);
        if (!file.open(QIODevice::ReadOnly)) {
            return fail(
                400,
                u"mtw-proxy-http: ca_file \"%1\" cannot be read: %2"_s.arg(settings.caFile,
                                                                           file.errorString()));
        }
        settings.caCertificates = QSslCertificate::fromData(file.readAll(), QSsl::Pem);
        if (settings.caCertificates.isEmpty()) {
            return fail(
                400,
                u"mtw-proxy-http: ca_file \"%1\" holds no PEM certificate"_s.arg(settings.caFile));
        }
    }
    return settings;
}

} // namespace Mtw::ProxyHttp
