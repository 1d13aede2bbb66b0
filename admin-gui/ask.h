// SPDX-License-Identifier: MIT
#pragma once

#include <QMessageBox>
#include <QStringList>

#include <functional>

namespace Mtw {

// A question to the operator with named answers ("Save", "Discard", "Cancel"), asked in a
// modal QMessageBox. Tests answer through setQuestionHandler() instead, or find the box with
// QApplication::activeModalWidget(). GUI thread only.
struct Question
{
    QString title;
    QString text;
    QStringList choices;   // the buttons, in order
    int defaultChoice = 0; // Enter
    int cancelChoice = -1; // Esc and closing the box; -1 = the last choice
    QMessageBox::Icon icon = QMessageBox::Question;
};

// Returns the index of the chosen answer (the cancel choice when the box is closed).
using QuestionHandler = std::function<int(QWidget *parent, const Question &question)>;

int ask(QWidget *parent, const Question &question);
// Replaces the QMessageBox for every later ask(); an empty handler restores it.
void setQuestionHandler(QuestionHandler handler);

} // namespace Mtw
