"""A patient's superbill as a PDF (ReportLab): the clinic as billing provider (name,
NPI, tax id, phone), the patient, then per course its diagnosis, rendering provider
and one row per date of service with code, description, place of service and units.
What a payer will ask for that is not on file is printed at the top, not hidden."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from scheduling.superbill import CODE_LABELS, PLACE_OF_SERVICE, Superbill

NOT_ON_FILE = "not on file"
TABLE_STYLE = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
        ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _text(value: str) -> str:
    return escape(value) if value else f"<i>{NOT_ON_FILE}</i>"


def render_pdf(bill: Superbill) -> bytes:
    styles = getSampleStyleSheet()
    body, heading = styles["BodyText"], styles["Heading2"]
    clinic, patient = bill.clinic, bill.patient
    story: list[Flowable] = [
        Paragraph("Superbill", styles["Title"]),
        Paragraph(f"Dates of service {bill.date_from:%m/%d/%Y} to {bill.date_to:%m/%d/%Y}", body),
    ]
    for problem in bill.missing:
        story.append(Paragraph(f"<b>Missing:</b> {escape(problem)}", body))
    story += [
        Paragraph("Billing provider", heading),
        Paragraph(escape(clinic.name), body),
        Paragraph(f"NPI: {_text(clinic.npi)} &nbsp; Tax id (EIN): {_text(clinic.tax_id)}", body),
        Paragraph(f"Phone: {escape(clinic.phone)}", body),
        Paragraph("Patient", heading),
        Paragraph(f"{escape(patient.last_name)}, {escape(patient.first_name)}", body),
        Paragraph(
            f"Date of birth: {patient.date_of_birth:%m/%d/%Y} &nbsp; MRN: {escape(patient.mrn)}",
            body,
        ),
    ]
    if not bill.courses:
        story.append(Paragraph("No billable sessions were delivered in this period.", body))
    for course in bill.courses:
        story += [
            Paragraph(f"Course {course.course_id}", heading),
            Paragraph(
                f"Diagnosis (ICD-10-CM): {_text(course.diagnosis)} ({escape(course.indication)})",
                body,
            ),
            Paragraph(f"Rendering provider: {escape(course.provider)}", body),
            Spacer(1, 0.1 * inch),
        ]
        rows: list[list[object]] = [["Date of service", "CPT", "Description", "POS", "Units"]]
        rows += [
            [
                f"{line.service_date:%m/%d/%Y}",
                line.code,
                Paragraph(escape(CODE_LABELS[line.code].partition(" ")[2]), body),
                PLACE_OF_SERVICE,
                str(line.units),
            ]
            for line in course.lines
        ]
        rows.append(["", "", "Total units", "", str(course.units)])
        widths = [1.1 * inch, 0.6 * inch, 3.6 * inch, 0.5 * inch, 0.6 * inch]
        story.append(Table(rows, colWidths=widths, style=TABLE_STYLE, repeatRows=1))
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=LETTER,
        title="Superbill",
        author=clinic.name,
        leftMargin=0.75 * inch,
        rightMargin=0.75 * inch,
    )
    document.build(story)
    return out.getvalue()
