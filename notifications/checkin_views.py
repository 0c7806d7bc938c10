"""The relapse watch's questionnaire page (docs/relapse-watch.md), reached from the
signed short link of a text or an email: no login, mobile first, and nothing on it names
the treatment or the diagnosis. The patient answers the nine questions once; the answers
become a patient-reported assessment of the course (courses.relapse.watch_answer).

Nobody may be reading the answers as they arrive, so the page always says how to get
help now, and says it first when the answer to the last question is above 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from clinic.models import Clinic
from clinic.web import attempt
from courses import relapse
from courses.models import WatchPoint
from notifications import content, links

# The PHQ-9 (Kroenke, Spitzer & Williams 2001; free to use, no permission needed).
STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
QUESTIONS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure or have let yourself or your "
    "family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed, or the opposite: "
    "being so fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead, or of hurting yourself in some way",
)
CHOICES = (
    (0, "Not at all"),
    (1, "Several days"),
    (2, "More than half the days"),
    (3, "Nearly every day"),
)

DEAD_LINKS = {
    relapse.PointState.ANSWERED: (
        "You have answered these questions",
        "Thank you: your answers for this link have been received already. A link works once.",
    ),
    relapse.PointState.EXPIRED: (
        "This link has expired",
        "This link worked for two weeks. We will send you a new one next time.",
    ),
    relapse.PointState.NOT_YET: (
        "This link does not work yet",
        "Please use it on the day of the message that carries it.",
    ),
    relapse.PointState.STOPPED: (
        "These questions are no longer needed",
        "Thank you. There is nothing to answer here now.",
    ),
}


@dataclass(frozen=True)
class Question:
    number: int
    text: str
    answer: int | None
    error: bool


def _clinic_context(clinic: Clinic | None) -> dict[str, Any]:
    if clinic is None:
        return {"clinic": "", "phone": "", "tel": ""}
    return {
        "clinic": clinic.display_name,
        "phone": content.display_phone(clinic.phone),
        "tel": clinic.phone,
    }


def _only_clinic() -> Clinic | None:
    only = list(Clinic.objects.all()[:2])
    return only[0] if len(only) == 1 else None


def _dead(request: HttpRequest, clinic: Clinic | None, title: str, text: str, status: int) -> Any:
    context = {**_clinic_context(clinic), "title": title, "text": text}
    return render(request, "notifications/patient_questionnaire_dead.html", context, status=status)


def _answers(request: HttpRequest) -> tuple[list[int | None], bool]:
    answers: list[int | None] = []
    for number in range(1, len(QUESTIONS) + 1):
        raw = request.POST.get(f"q{number}", "")
        answers.append(int(raw) if raw in {"0", "1", "2", "3"} else None)
    return answers, any(answer is None for answer in answers)


@require_http_methods(["GET", "POST"])
def questionnaire(request: HttpRequest, token: str) -> HttpResponse:
    point = links.point_from_token(token)
    if point is None:
        return _dead(
            request,
            _only_clinic(),
            "This link is not valid",
            "Please check that the whole link was opened, or use the newest message.",
            404,
        )
    clinic = point.watch.course.patient.clinic
    state = relapse.point_state(point, clinic.today())
    if state != relapse.PointState.OPEN:
        title, text = DEAD_LINKS[state]
        return _dead(request, clinic, title, text, 410 if state != "not_yet" else 403)
    answers: list[int | None] = [None] * len(QUESTIONS)
    missing = False
    if request.method == "POST":
        answers, missing = _answers(request)
        if not missing:
            return _submit(request, point, clinic, [a for a in answers if a is not None])
    questions = [
        Question(number, text, answer, missing and answer is None)
        for number, (text, answer) in enumerate(zip(QUESTIONS, answers, strict=True), 1)
    ]
    context = {
        **_clinic_context(clinic),
        "first_name": point.watch.course.patient.first_name,
        "stem": STEM,
        "questions": questions,
        "choices": CHOICES,
        "missing": sum(q.error for q in questions),
    }
    return render(
        request, "notifications/patient_questionnaire.html", context, status=400 if missing else 200
    )


def _submit(request: HttpRequest, point: WatchPoint, clinic: Clinic, items: list[int]) -> Any:
    result, refusal = attempt(lambda: relapse.watch_answer(point, items))
    if result is None:
        # Another submit of the same link won the race, or the link expired meanwhile.
        point.refresh_from_db()
        title, text = DEAD_LINKS.get(
            relapse.point_state(point, clinic.today()),
            ("Your answers were not saved", refusal.message if refusal else ""),
        )
        return _dead(request, clinic, title, text, 409)
    context = {**_clinic_context(clinic), "help_now": result.safety_flag}
    return render(request, "notifications/patient_questionnaire_done.html", context)
