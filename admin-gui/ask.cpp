// SPDX-License-Identifier: MIT
#include "ask.h"

#include <QPushButton>

namespace Mtw {

namespace {

QuestionHandler &handler()
{
    static QuestionHandler instance;
    return instance;
}

} // namespace

void setQuestionHandler(QuestionHandler newHandler)
{
    handler() = std::move(newHandler);
}

int ask(QWidget *parent, const Question &question)
{
    const int count = int(question.choices.size());
    const int cancel = question.cancelChoice < 0 ? count - 1 : question.cancelChoice;
    if (handler())
        return handler()(parent, question);
    QMessageBox box(question.icon, question.title, question.text, QMessageBox::NoButton, parent);
    QList<QPushButton *> buttons;
    for (int i = 0; i < count; ++i) {
        buttons.append(
            box.addButton(question.choices.at(i),
                          i == cancel ? QMessageBox::RejectRole : QMessageBox::AcceptRole));
    }
    if (question.defaultChoice >= 0 && question.defaultChoice < count)
        box.setDefaultButton(buttons.at(question.defaultChoice));
    if (cancel >= 0 && cancel < count)
        box.setEscapeButton(buttons.at(cancel));
    box.exec();
    const int chosen = int(buttons.indexOf(qobject_cast<QPushButton *>(box.clickedButton())));
    return chosen < 0 ? cancel : chosen;
}

} // namespace Mtw
