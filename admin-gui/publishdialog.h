// SPDX-License-Identifier: MIT
#pragma once

#include <QDialog>
#include <QJsonValue>

class QComboBox;
class QDialogButtonBox;
class QLabel;
class QPlainTextEdit;

namespace Mtw {

// Asks for a channel and a JSON payload to publish as the admin. The payload is parsed as you
// type; the parse error and its position are shown and OK stays disabled while it is invalid.
// Lives in the GUI thread.
class PublishDialog : public QDialog
{
    Q_OBJECT

public:
    explicit PublishDialog(const QStringList &channels, QWidget *parent = nullptr);

    QString channel() const;
    void setChannel(const QString &channel);
    QJsonValue payload() const { return m_payload; }
    void setPayloadText(const QString &text);
    bool isPayloadValid() const { return m_valid; }

    QPlainTextEdit *payloadEdit() const { return m_edit; }
    QLabel *errorLabel() const { return m_error; }
    QDialogButtonBox *buttons() const { return m_buttons; }

    // Parses any JSON value (object, array, string, number, true/false/null). On failure the
    // message names the line and column.
    static bool parsePayload(const QString &text, QJsonValue *value, QString *error);

private:
    void validate();

    QComboBox *m_channel;
    QPlainTextEdit *m_edit;
    QLabel *m_error;
    QDialogButtonBox *m_buttons;
    QJsonValue m_payload;
    bool m_valid = false;
};

} // namespace Mtw
