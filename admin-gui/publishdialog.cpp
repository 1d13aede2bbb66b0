// SPDX-License-Identifier: MIT
#include "publishdialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>

namespace Mtw {

using namespace Qt::StringLiterals;

PublishDialog::PublishDialog(const QStringList &channels, QWidget *parent)
    : QDialog(parent)
    , m_channel(new QComboBox(this))
    , m_edit(new QPlainTextEdit(this))
    , m_error(new QLabel(this))
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
{
    setWindowTitle(tr("Publish Test Message"));
    m_channel->setEditable(true);
    m_channel->addItems(channels);
    m_channel->setInsertPolicy(QComboBox::NoInsert);
    m_channel->lineEdit()->setPlaceholderText(tr("e.g. chat.general"));
    m_edit->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_edit->setTabChangesFocus(true);
    m_edit->setPlainText(u"{\n  \"text\": \"hello from mtwadmin\"\n}"_s);
    m_edit->setMinimumSize(420, 160);
    m_error->setWordWrap(true);
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("&Publish"));

    auto *form = new QFormLayout(this);
    form->addRow(tr("&Channel:"), m_channel);
    form->addRow(tr("Pay&load (JSON):"), m_edit);
    form->addRow(QString(), m_error);
    form->addRow(m_buttons);

    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_edit, &QPlainTextEdit::textChanged, this, &PublishDialog::validate);
    connect(m_channel, &QComboBox::editTextChanged, this, &PublishDialog::validate);
    validate();
}

QString PublishDialog::channel() const
{
    return m_channel->currentText().trimmed();
}

void PublishDialog::setChannel(const QString &channel)
{
    m_channel->setEditText(channel);
}

void PublishDialog::setPayloadText(const QString &text)
{
    m_edit->setPlainText(text);
}

bool PublishDialog::parsePayload(const QString &text, QJsonValue *value, QString *error)
{
    // QJsonDocument holds only objects and arrays: wrap the text in an array so any JSON value
    // parses, and shift reported offsets back by the one added character.
    const QByteArray wrapped = "[" + text.toUtf8() + "\n]";
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(wrapped, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        const int offset = std::clamp(parseError.offset - 1, 0, int(text.toUtf8().size()));
        const QString before = QString::fromUtf8(text.toUtf8().left(offset));
        const int line = int(before.count(u'\n')) + 1;
        const int column = int(before.size() - before.lastIndexOf(u'\n'));
        *error = tr("Line %1, column %2: %3").arg(line).arg(column).arg(parseError.errorString());
        return false;
    }
    const QJsonArray array = document.array();
    if (array.isEmpty()) {
        *error = tr("Enter a JSON value, e.g. {\"text\": \"hi\"}.");
        return false;
    }
    if (array.size() > 1) {
        *error = tr("Enter one JSON value, not a list: wrap several in [ ].");
        return false;
    }
    *value = array.at(0);
    error->clear();
    return true;
}

void PublishDialog::validate()
{
    QString error;
    m_valid = parsePayload(m_edit->toPlainText(), &m_payload, &error);
    if (m_valid && channel().isEmpty())
        error = tr("Enter the channel to publish to.");
    m_error->setText(error.isEmpty() ? tr("Valid JSON.") : error);
    m_error->setStyleSheet(error.isEmpty() ? u"color: #2e7d32;"_s : u"color: #b01e1e;"_s);
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(m_valid && !channel().isEmpty());
}

} // namespace Mtw
