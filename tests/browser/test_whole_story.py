"""A clinic runs its whole week in the browser (issue 13, "Done when"): from an empty
database to a course paused and resumed, every step clicked through the pages as its
user would, with no API call and no Django admin. The test only reads the database to
check each step's outcome (and the mail outbox, for the one-time links).

A superuser creates the clinic and its admin -> the admin chooses a password from the
emailed link and sets the hours, chairs, a closure, staff and the reminder policy ->
front desk registers a patient -> the psychiatrist records a screening, clears it and
prescribes a course with an authorization -> front desk books it (preview, confirm) and
sees it on the board -> the technician checks session 1 in and completes it with its
treatment record (the motor threshold found at this mapping session recorded first) ->
the psychiatrist enters a PHQ-9, sees the progress, then pauses and resumes the course.

The clock is Monday 11 January 2027 in Chicago (time_machine moves the live server's
clock too: it runs in this process), so the course starts "today" and session 1 is
today's. A screenshot of each step goes to test-artifacts/story/NN-step.png.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from clinic import tasks
from clinic.models import Chair, Clinic, Closure, OpeningHours, Patient, StaffMembership
from courses.models import (
    Assessment,
    CourseStatus,
    MotorThreshold,
    ScreeningStatus,
    TreatmentCourse,
)
from courses.screening_forms import QUESTIONS
from notifications.models import ReminderPolicy
from scheduling.models import Session, SessionKind, SessionStatus, TreatmentRecord
from scheduling.services.course_status import PAUSE_REASON
from tests.browser.conftest import ARTIFACTS, screenshot
from tests.second_factor import code_of

CHICAGO = ZoneInfo("America/Chicago")
MONDAY = dt.date(2027, 1, 11)
EARLY_MONDAY = dt.datetime(2027, 1, 11, 7, 30, tzinfo=CHICAGO)
SESSION_ONE_UNDER_WAY = dt.datetime(2027, 1, 11, 9, 10, tzinfo=CHICAGO)
STANDARD_PROTOCOL = "10 Hz left DLPFC (standard) · 36 sessions · 40 min"
CLOSED = dt.date(2027, 1, 18)  # Martin Luther King Jr. Day, inside the course
PASSWORDS = {
    "erin": "elm street pass 42",
    "fran": "front desk pass 42",
    "tess": "technician pass 42",
    "paz": "psychiatrist pass 42",
}


class Story:
    """The page, and a numbered screenshot after each step."""

    def __init__(self, page: Page, superuser: Any) -> None:
        self.page = page
        self.step = 0
        self.recovery_codes: dict[str, list[str]] = {}
        shutil.rmtree(ARTIFACTS / "story", ignore_errors=True)  # one run's steps only
        self.passwords = {**PASSWORDS, superuser.username: "superuser pass 42"}
        superuser.set_password(self.passwords[superuser.username])
        superuser.save(update_fields=["password"])

    def shot(self, name: str) -> None:
        self.step += 1
        screenshot(self.page, f"story/{self.step:02d}-{name}")

    def log_out(self) -> None:
        self.page.get_by_role("button", name=re.compile("^Log out")).click()
        self.page.wait_for_url("**/accounts/login/**")

    def log_in(self, username: str) -> None:
        page = self.page
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(self.passwords[username])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        if "/accounts/mfa/setup/" in page.url:
            self.set_up_second_factor(username)
        elif "/accounts/mfa/verify/" in page.url:
            # A code from the app works once per 30 seconds; a kept recovery code any time.
            page.get_by_label("Code", exact=True).fill(self.recovery_codes[username].pop())
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url(lambda url: "/accounts/mfa/" not in url)
        expect(page.get_by_role("button", name=f"Log out {username}")).to_be_visible()

    def set_up_second_factor(self, username: str) -> None:
        """A first login of someone who needs a second factor (superuser, clinic admin,
        psychiatrist): their phone reads the secret, the page takes its code, and they
        keep the recovery codes shown once."""
        page = self.page
        device = TOTPDevice.objects.get(user__username=username, confirmed=False)
        page.get_by_label("Code", exact=True).fill(code_of(device))
        page.get_by_role("button", name="Confirm").click()
        codes = page.locator("ul.recovery-codes code").all_inner_texts()
        assert len(codes) == 10
        self.recovery_codes[username] = codes
        self.shot(f"second-factor-{username}")
        page.get_by_role("link", name="I have kept them: continue").click()
        page.wait_for_url(lambda url: "/accounts/mfa/" not in url)

    def accept_invitation(self, username: str, email: str) -> None:
        """Follow the one-time link emailed to ``email``, choose a password, log in."""
        (invitation,) = [message for message in mail.outbox if message.to == [email]]
        match = re.search(r"https?://\S+/accounts/reset/\S+/", invitation.body)
        assert match, invitation.body
        page = self.page
        page.goto(match.group(0))
        page.get_by_label("New password", exact=True).fill(self.passwords[username])
        page.get_by_label("New password confirmation").fill(self.passwords[username])
        page.get_by_role("button", name="Set my password").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("password", re.I))
        self.log_in(username)


def test_a_clinic_runs_its_whole_week_in_the_browser(
    page: Page, superuser: Any, monkeypatch: Any
) -> None:
    # The invitation email is sent by a Celery task: here it runs at once.
    monkeypatch.setattr(
        tasks.send_staff_invitation, "delay", lambda *args: tasks.send_staff_invitation(*args)
    )
    story = Story(page, superuser)
    with time_machine.travel(EARLY_MONDAY, tick=True) as clock:
        clinic = _superuser_creates_the_clinic(story, superuser.username)
        _admin_sets_up_the_clinic(story, clinic)
        patient = _front_desk_registers_a_patient(story, clinic)
        course = _psychiatrist_screens_clears_and_prescribes(story, patient)
        _front_desk_books_the_course(story, course)
        clock.move_to(SESSION_ONE_UNDER_WAY)
        _technician_completes_session_one(story, course)
        _psychiatrist_scores_pauses_and_resumes(story, course)


def _superuser_creates_the_clinic(story: Story, username: str) -> Clinic:
    page = story.page
    story.log_in(username)
    page.get_by_role("link", name="Create a clinic and its first clinic admin").click()
    page.get_by_label("Name", exact=True).fill("Elm Street Clinic")
    page.get_by_label("Slug").fill("elm")
    page.get_by_label("Name in patient messages").fill("Elm Care")
    page.get_by_label("Phone").fill("312 555 0123")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_label("Admin's username").fill("erin")
    page.get_by_label("Admin's first name").fill("Erin")
    page.get_by_label("Admin's last name").fill("Admin")
    page.get_by_label("Admin's email").fill("erin@elm.test")
    page.get_by_role("button", name="Create the clinic").click()
    expect(page.get_by_role("status")).to_contain_text("Elm Street Clinic is created")
    story.shot("superuser-creates-the-clinic")
    clinic = Clinic.objects.get(slug="elm")
    assert clinic.timezone == "America/Chicago"
    admin = StaffMembership.objects.get(clinic=clinic, user__username="erin")
    assert admin.role == "clinic_admin" and not admin.user.has_usable_password()
    story.log_out()
    return clinic


def _admin_sets_up_the_clinic(story: Story, clinic: Clinic) -> None:
    page = story.page
    story.accept_invitation("erin", "erin@elm.test")

    # Hours: Monday to Friday 8 to 18.
    page.get_by_role("link", name="Set-up").click()
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        page.get_by_label(f"{day}: open").check()
        page.get_by_label(f"{day} opens").fill("08:00")
        page.get_by_label(f"{day} closes").fill("18:00")
    page.get_by_role("button", name="Save settings and hours").click()
    expect(page.get_by_role("status")).to_contain_text("settings and hours are saved")
    story.shot("admin-sets-the-hours")
    hours = OpeningHours.objects.filter(clinic=clinic)
    assert sorted(hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]
    assert {(h.opens, h.closes) for h in hours} == {(dt.time(8), dt.time(18))}

    # Two figure-8 chairs.
    page.get_by_role("link", name="Chairs").click()
    for name in ("Chair A", "Chair B"):
        page.get_by_label("Name").fill(name)
        page.get_by_label("Device").fill("MagVenture")
        page.get_by_label("Figure-8").check()
        page.get_by_label("Active").check()
        page.get_by_role("button", name="Add chair").click()
        expect(page.get_by_role("status")).to_contain_text(f"{name} is saved")
    expect(page.locator("main")).to_contain_text("Chair B")
    story.shot("admin-adds-chairs")
    chairs = Chair.objects.filter(clinic=clinic, active=True)
    assert sorted(chairs.values_list("name", flat=True)) == ["Chair A", "Chair B"]

    # Closed on Martin Luther King Jr. Day.
    page.get_by_role("navigation", name="Set-up").get_by_role("link", name="Closures").click()
    page.get_by_label("Date").fill(CLOSED.isoformat())
    page.get_by_label("Reason").fill("Martin Luther King Jr. Day")
    page.get_by_role("button", name="Add closure").click()
    expect(page.get_by_role("status")).to_contain_text("The clinic is now closed")
    story.shot("admin-adds-a-closure")
    assert Closure.objects.get(clinic=clinic).date == CLOSED

    # Staff: a front desk member, a technician and a psychiatrist, each invited by email.
    page.get_by_role("navigation", name="Set-up").get_by_role("link", name="Staff").click()
    for username, first, last, role in (
        ("fran", "Fran", "Desk", "front_desk"),
        ("tess", "Tess", "Tech", "technician"),
        ("paz", "Paz", "Psych", "psychiatrist"),
    ):
        page.get_by_label("Username").fill(username)
        page.get_by_label("First name").fill(first)
        page.get_by_label("Last name").fill(last)
        page.get_by_label("Email").fill(f"{username}@elm.test")
        page.get_by_label("Role", exact=True).select_option(role)
        page.get_by_role("button", name="Add and send the invitation").click()
        expect(page.get_by_role("status")).to_contain_text(f"{first} {last} is added")
        assert mail.outbox[-1].to == [f"{username}@elm.test"]
    story.shot("admin-adds-staff")
    roles = dict(
        StaffMembership.objects.filter(clinic=clinic).values_list("user__username", "role")
    )
    assert roles == {
        "erin": "clinic_admin",
        "fran": "front_desk",
        "tess": "technician",
        "paz": "psychiatrist",
    }

    # Reminder policy: the day-before reminder at 17:30, previewed, then saved.
    page.get_by_role("navigation", name="Set-up").get_by_role("link", name="Reminders").click()
    page.get_by_label("Day-before reminder at").fill("17:30")
    page.get_by_role("button", name="Preview these settings").click()
    expect(page.get_by_role("heading", name=re.compile("not saved"))).to_be_visible()
    expect(page.locator("table").first).to_contain_text("17:30")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("status")).to_contain_text("reminder policy is saved")
    story.shot("admin-sets-the-reminder-policy")
    assert ReminderPolicy.objects.get(clinic=clinic).day_before_at == dt.time(17, 30)
    story.log_out()


def _front_desk_registers_a_patient(story: Story, clinic: Clinic) -> Patient:
    page = story.page
    story.accept_invitation("fran", "fran@elm.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("MRN").fill("ELM-001")
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Quill")
    page.get_by_label("Date of birth").fill("1980-04-12")
    page.get_by_role("textbox", name="Phone").fill("312 555 0177")
    page.get_by_label("Texts (SMS) may be sent").check()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nora Quill")
    expect(page.locator("#screening")).to_contain_text("No screening recorded yet")
    story.shot("front-desk-registers-a-patient")
    patient = Patient.objects.get(clinic=clinic, mrn="ELM-001")
    assert (patient.first_name, patient.phone, patient.sms_consent) == (
        "Nora",
        "+13125550177",
        True,
    )
    story.log_out()
    return patient


def _psychiatrist_screens_clears_and_prescribes(story: Story, patient: Patient) -> TreatmentCourse:
    page = story.page
    story.accept_invitation("paz", "paz@elm.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Search").fill("Quill")
    page.locator("#patient-results").get_by_role("link", name="Quill, Nora").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nora Quill")

    # The screening: two failed trials, every safety question answered.
    page.get_by_role("link", name="Record a screening").click()
    for n, drug in ((1, "sertraline"), (2, "bupropion")):
        if n > 1:
            page.get_by_role("button", name="Add a trial").click()
        trial = page.get_by_role("group", name=f"Trial {n}")
        trial.get_by_label("Drug").fill(drug)
        trial.get_by_label("Dose").fill("150 mg daily")
        trial.get_by_label("Weeks").fill("8")
        trial.get_by_label("Outcome").select_option("no_response")
    for label in QUESTIONS.values():
        page.get_by_role("group", name=label).get_by_label("No").check()
    page.get_by_label("Current medications").fill("none")
    page.get_by_role("button", name="Save the screening").click()
    expect(page.get_by_role("status")).to_contain_text("Screening recorded.")
    story.shot("psychiatrist-records-a-screening")
    screening = patient.screenings.get()
    assert screening.status == ScreeningStatus.PENDING
    assert screening.failed_trials.count() == 2

    page.get_by_role("button", name="Clear for treatment").click()
    expect(page.locator("#screening-status")).to_have_text("Cleared")
    story.shot("psychiatrist-clears-it")
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.CLEARED

    # The prescription, with a 36-session authorization; the front desk books it.
    page.get_by_role("link", name="Prescribe a course").click()
    page.get_by_label("Protocol").select_option(label=STANDARD_PROTOCOL)
    page.get_by_label("Indication").select_option("mdd")
    page.get_by_label("Start date").fill(MONDAY.isoformat())
    page.get_by_label("Preferred time").fill("09:00")
    page.get_by_label("Payer").fill("Aetna")
    page.get_by_label("Authorization number").fill("PA-ELM-1")
    page.get_by_label("Sessions authorized").fill("36")
    page.get_by_label("Valid from").fill("2027-01-01")
    page.get_by_label("Valid until").fill("2027-06-30")
    page.get_by_role("button", name="Prescribe (the front desk books it)").click()
    expect(page.get_by_role("status")).to_contain_text("rescribed")
    story.shot("psychiatrist-prescribes-a-course")
    course = TreatmentCourse.objects.get(patient=patient)
    assert course.status == CourseStatus.PLANNED
    assert course.psychiatrist.username == "paz"
    assert (course.start_date, course.preferred_time) == (MONDAY, dt.time(9))
    assert course.authorizations.get().number == "PA-ELM-1"
    assert not Session.objects.filter(course=course).exists()
    story.log_out()
    return course


def _front_desk_books_the_course(story: Story, course: TreatmentCourse) -> None:
    page = story.page
    story.log_in("fran")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Search").fill("ELM-001")
    page.locator("#patient-results").get_by_role("link", name="Quill, Nora").click()
    page.get_by_role("link", name=course.protocol.name).click()
    page.get_by_role("link", name="Book all its sessions").click()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    # Nothing on the closed day: the course steps over it.
    expect(page.locator("main")).not_to_contain_text(f"{CLOSED:%a} {CLOSED.day} {CLOSED:%b %Y}")
    story.shot("front-desk-previews-the-booking")
    assert not Session.objects.filter(course=course).exists()  # a preview books nothing
    page.get_by_role("button", name="Confirm booking of 36 sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Course booked: 36 sessions")
    story.shot("front-desk-books-the-course")
    sessions = Session.objects.filter(course=course)
    assert sessions.count() == 36
    assert not sessions.filter(starts_at__date=CLOSED).exists()
    first = sessions.order_by("starts_at").first()
    assert first is not None
    assert first.starts_at == dt.datetime(2027, 1, 11, 9, tzinfo=CHICAGO)

    page.get_by_role("link", name="Day board").click()
    block = page.locator(f"#session-{first.pk}")
    expect(block).to_contain_text("Nora Q.")
    expect(block).to_contain_text("Scheduled")
    story.shot("front-desk-sees-it-on-the-board")
    story.log_out()


def _technician_completes_session_one(story: Story, course: TreatmentCourse) -> None:
    page = story.page
    story.accept_invitation("tess", "tess@elm.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    first = Session.objects.filter(course=course).order_by("starts_at").first()
    assert first is not None
    row = page.locator(f"#today-session-{first.pk}")
    expect(row).to_contain_text("Nora Q.")
    row.get_by_role("button", name=re.compile("^Check in")).click()
    expect(page.locator(f"#record-{first.pk}")).to_be_visible()
    assert Session.objects.get(pk=first.pk).status == SessionStatus.CHECKED_IN

    # Session 1 is the mapping session: the motor threshold goes on the course's page.
    row.get_by_role("link", name="Nora Q.", exact=True).click()
    page.get_by_role("link", name=course.protocol.name).click()
    form = page.locator("form", has=page.get_by_role("button", name="Record threshold"))
    form.get_by_label("Motor threshold (% of machine output)").fill("55")
    form.get_by_label("Method").select_option(index=1)
    form.get_by_role("button", name="Record threshold").click()
    expect(page.get_by_role("status")).to_contain_text("Motor threshold recorded.")
    expect(page.locator("#motor-thresholds")).to_contain_text("about 66% of machine output")
    story.shot("technician-records-the-motor-threshold")
    threshold = MotorThreshold.objects.get(course=course)
    assert (threshold.machine_output_pct, threshold.measured_by.username) == (55, "tess")

    # The treatment record starts from the prescription and the new threshold.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    record = page.locator(f"#record-{first.pk}")
    expect(record).to_contain_text("set about 66%")
    expect(record.get_by_label("Pulses delivered")).to_have_value("3000")
    record.get_by_label("Scalp discomfort at the site").check()
    record.get_by_label("Notes").fill("Tolerated well")
    story.shot("technician-checks-in-and-records")
    record.get_by_role("button", name=re.compile("^Complete")).click()
    row = page.locator(f"#today-session-{first.pk}")
    expect(row).to_contain_text("Completed")
    story.shot("technician-completes-session-1")
    first.refresh_from_db()
    assert first.status == SessionStatus.COMPLETED
    treatment = TreatmentRecord.objects.get(session=first)
    assert treatment.technician.username == "tess"
    assert treatment.pulses_delivered == 3000
    assert treatment.side_effects == ["scalp_discomfort"]
    course.refresh_from_db()
    assert course.status == CourseStatus.ACTIVE
    story.log_out()


def _psychiatrist_scores_pauses_and_resumes(story: Story, course: TreatmentCourse) -> None:
    page = story.page
    story.log_in("paz")
    page.get_by_role("link", name="My courses").click()
    page.get_by_role("link", name=re.compile("course of Quill, Nora")).click()
    expect(page.locator("#sessions-table")).to_contain_text("Tess Tech")

    # A PHQ-9 from its nine answers (total 14, item 9 answered 0).
    form = page.locator("form", has=page.get_by_role("button", name="Record score"))
    form.get_by_label("Instrument").select_option("phq9")
    form.get_by_label("Item answers").fill("2 2 2 2 2 2 1 1 0")
    form.get_by_role("button", name="Record score").click()
    expect(page.get_by_role("status")).to_contain_text("PHQ-9 of 11 Jan 2027 recorded")
    expect(page.locator("#scores-table")).to_contain_text("14")
    expect(page.get_by_role("progressbar")).to_have_attribute(
        "aria-valuetext", "1 of 36 sessions done"
    )
    expect(page.get_by_role("img").filter(has_text="PHQ-9")).to_be_visible()
    story.shot("psychiatrist-enters-a-phq9-and-sees-progress")
    assessment = Assessment.objects.get(course=course)
    assert (assessment.instrument, assessment.score, assessment.administered_on) == (
        "phq9",
        14,
        MONDAY,
    )

    # Pause from the third week, releasing the sessions inside it.
    pause_from = MONDAY + dt.timedelta(days=14)
    page.get_by_role("link", name="Pause the course").click()
    page.get_by_label("Show the sessions inside a pause from").fill(pause_from.isoformat())
    page.get_by_role("button", name="Show").click()
    inside = Session.objects.filter(
        course=course, status=SessionStatus.SCHEDULED, starts_at__date__gte=pause_from
    ).count()
    expect(page.locator("#sessions-in-pause li")).to_have_count(inside)
    page.locator("#id_from_date").fill(pause_from.isoformat())
    page.get_by_label("Release them").check()
    page.get_by_label("Reason").fill("Travel")
    page.get_by_role("button", name="Pause the course").click()
    expect(page.get_by_role("status")).to_contain_text(f"{inside} booked session(s) released")
    story.shot("psychiatrist-pauses-the-course")
    course.refresh_from_db()
    assert course.status == CourseStatus.PAUSED
    assert Session.objects.filter(course=course, cancel_reason=PAUSE_REASON).count() == inside

    # Resume two weeks later, after the preview.
    resume_from = pause_from + dt.timedelta(days=14)
    page.get_by_role("link", name="Resume the course").click()
    page.get_by_label("Re-plan from").fill(resume_from.isoformat())
    page.get_by_role("button", name="Preview the re-planned sessions").click()
    expect(page.locator("#resume-preview li")).to_have_count(inside)
    story.shot("psychiatrist-previews-the-resumption")
    page.get_by_role("button", name="Confirm: resume the course").click()
    expect(page.get_by_role("status")).to_contain_text(f"{inside} session(s) re-planned")
    story.shot("psychiatrist-resumes-the-course")
    course.refresh_from_db()
    assert course.status == CourseStatus.ACTIVE
    replanned = Session.objects.filter(
        course=course, kind=SessionKind.MAKEUP, status=SessionStatus.SCHEDULED
    )
    assert replanned.count() == inside
    assert min(s.starts_at.astimezone(CHICAGO).date() for s in replanned) >= resume_from
