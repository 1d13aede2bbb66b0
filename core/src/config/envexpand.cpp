// SPDX-License-Identifier: MIT
#include "config_p.h"

using namespace Qt::Literals::StringLiterals;

namespace Mtw {

namespace {

bool isNameChar(QChar c, bool first)
{
    const char16_t u = c.unicode();
    const bool letter = (u >= u'A' && u <= u'Z') || (u >= u'a' && u <= u'z') || u == u'_';
    return letter || (!first && u >= u'0' && u <= u'9');
}

// A recursive-descent reader of one string: text, `$${`, `${NAME}`, `${NAME:-default}` where the
// default is itself expanded up to its closing brace.
class Expander
{
public:
    Expander(const QString &text, const QProcessEnvironment &env)
        : m_text(text)
        , m_env(env)
    { }

    Result<QString> run() { return expandUntil(false); }

private:
    bool at(QStringView token) const { return QStringView(m_text).mid(m_pos).startsWith(token); }

    tl::unexpected<Error> unterminated() const
    {
        return fail(400, u"unterminated ${ in %1"_s.arg(Internal::quoted(m_text)));
    }

    // Up to the end of the text, or (nested) up to the `}` that closes a default, which the caller
    // consumes.
    Result<QString> expandUntil(bool nested)
    {
        QString out;
        while (m_pos < m_text.size()) {
            if (at(u"$${")) {
                out += u"${"_s;
                m_pos += 3;
            } else if (at(u"${")) {
                m_pos += 2;
                const auto value = expandVariable();
                if (!value)
                    return value;
                out += *value;
            } else if (nested && m_text[m_pos] == QLatin1Char('}')) {
                return out;
            } else {
                out += m_text[m_pos++];
            }
        }
        if (nested)
            return unterminated();
        return out;
    }

    // After `${`: NAME}, or NAME:-default}.
    Result<QString> expandVariable()
    {
        const qsizetype start = m_pos;
        while (m_pos < m_text.size() && isNameChar(m_text[m_pos], m_pos == start))
            ++m_pos;
        const QString name = m_text.mid(start, m_pos - start);
        if (m_pos >= m_text.size())
            return unterminated();
        if (!name.isEmpty() && m_text[m_pos] == QLatin1Char('}')) {
            ++m_pos;
            return m_env.value(name);
        }
        if (!name.isEmpty() && at(u":-")) {
            m_pos += 2;
            const auto fallback = expandUntil(true);
            if (!fallback)
                return fallback;
            ++m_pos; // the closing brace
            // As in the shell: an empty variable takes the default too.
            const QString value = m_env.value(name);
            return value.isEmpty() ? *fallback : value;
        }
        const qsizetype close = m_text.indexOf(QLatin1Char('}'), start);
        if (close < 0)
            return unterminated();
        return fail(400,
                    u"invalid variable name %1 in %2"_s.arg(
                        Internal::quoted(m_text.mid(start, close - start)),
                        Internal::quoted(m_text)));
    }

    const QString &m_text;
    const QProcessEnvironment &m_env;
    qsizetype m_pos = 0;
};

} // namespace

Result<QString> expandEnvironment(const QString &text, const QProcessEnvironment &env)
{
    if (!text.contains(QLatin1Char('$')))
        return text;
    return Expander(text, env).run();
}

} // namespace Mtw
