// SPDX-License-Identifier: MIT
#pragma once

#include <QSyntaxHighlighter>
#include <QTextCharFormat>

#include <array>

namespace Mtw {

// Syntax colouring for mtw.toml: comments, [tables], [[arrays of tables]], keys, strings
// (including multi-line """ and ''' strings), ${VAR} references inside strings, numbers and
// dates, booleans, and strings that read as a size ("10MB"). Lives in the GUI thread.
//
// A hand-written scanner rather than regular expressions per rule, because TOML's meaning depends
// on position: `#` inside a string is not a comment, `=` inside a string does not end a key, and a
// multi-line string carries over to following blocks (tracked in the block state).
class TomlHighlighter : public QSyntaxHighlighter
{
    Q_OBJECT
public:
    enum class Kind {
        Comment,
        Table,      // [server]
        ArrayTable, // [[channels]]
        Key,
        String,
        EnvVar, // ${VAR} or ${VAR:-default} inside a string
        Number, // integers, floats, inf/nan and dates
        Boolean,
        Size, // a string that reads as a size, e.g. "10MB"
    };

    explicit TomlHighlighter(QTextDocument *document);

    // The format used for a kind; tests compare block formats against these.
    QTextCharFormat format(Kind kind) const;

protected:
    void highlightBlock(const QString &text) override;

private:
    // Each scanner takes the position to start at and returns the position after what it coloured.
    qsizetype scanString(const QString &text,
                         qsizetype start,
                         qsizetype quoteLength,
                         QChar quote,
                         bool continuing);
    qsizetype scanValue(const QString &text, qsizetype pos);
    qsizetype scanTableHeader(const QString &text, qsizetype pos);
    qsizetype scanKey(const QString &text, qsizetype pos);
    void colourString(const QString &text, qsizetype from, qsizetype to, bool wholeString);
    void colourEnvVars(const QString &text, qsizetype from, qsizetype to);

    std::array<QTextCharFormat, 9> m_formats;
};

} // namespace Mtw
