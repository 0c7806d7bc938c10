from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from clinic import api, api_docs, audit_api, audit_views, patient_pages, token_api, views, web
from courses import api as courses_api
from courses import patient_list, relapse_api
from notifications import api as notifications_api
from notifications import (
    checkin_views,
    inbox_views,
    patient_record,
    patient_views,
    policy_views,
    webhook_api,
    webhook_views,
    webhooks,
)
from notifications import views as notification_views
from scheduling import api as scheduling_api
from scheduling import (
    billing_api,
    billing_views,
    course_api,
    patient_booking,
    report_views,
    waitlist_api,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("auth/tokens", token_api.ApiTokenViewSet, basename="api-token-owned")
router.register("clinics", api.ClinicViewSet, basename="clinic")
router.register("closures", scheduling_api.ClosureViewSet, basename="closure")
router.register("chairs", api.ChairViewSet, basename="chair")
router.register("chair-blocks", scheduling_api.ChairBlockViewSet, basename="chair-block")
router.register("staff", api.StaffViewSet, basename="staff")
router.register("patients", api.PatientViewSet, basename="patient")
router.register("protocols", courses_api.ProtocolViewSet, basename="protocol")
router.register("screenings", courses_api.ScreeningViewSet, basename="screening")
router.register("courses", course_api.CourseViewSet, basename="course")
router.register("assessments", courses_api.AssessmentViewSet, basename="assessment")
router.register("motor-thresholds", courses_api.MotorThresholdViewSet, basename="motor-threshold")
router.register("safety-flags", courses_api.SafetyFlagViewSet, basename="safety-flag")
router.register("alerts", courses_api.StaffAlertViewSet, basename="alert")
router.register("relapses", relapse_api.RelapseViewSet, basename="relapse")
router.register("sessions", scheduling_api.SessionViewSet, basename="session")
router.register("waitlist", waitlist_api.WaitlistViewSet, basename="waitlist-entry")
router.register("notifications", notifications_api.NotificationViewSet, basename="notification")
router.register("consents", notifications_api.ConsentEventViewSet, basename="consent")
router.register("audit-events", audit_api.AuditEventViewSet, basename="audit-event")
router.register(
    "reminder-policies", notifications_api.ReminderPolicyViewSet, basename="reminder-policy"
)
router.register(
    "webhook-endpoints", webhook_api.WebhookEndpointViewSet, basename="webhook-endpoint"
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("switch-clinic/", web.switch_clinic, name="switch-clinic"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("clinic.account_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", token_api.TokenView.as_view(), name="api-token"),
    path("api/v1/outcomes/", courses_api.OutcomeSummaryView.as_view(), name="outcomes"),
    path("reports/outcomes/", report_views.outcomes_report, name="outcomes-report"),
    path("reports/outcomes.csv", report_views.outcomes_report_csv, name="outcomes-report-csv"),
    path("billing/", billing_views.billing_page, name="billing-page"),
    path("billing/export.csv", billing_views.billing_export, name="billing-export"),
    path(
        "api/v1/billing/export/", billing_api.BillingExportView.as_view(), name="billing-export-api"
    ),
    path(
        "api/v1/patients/<int:pk>/superbill/",
        billing_api.SuperbillView.as_view(),
        name="patient-superbill-api",
    ),
    path("api/v1/availability/", scheduling_api.AvailabilityView.as_view(), name="availability"),
    path("api/v1/board/", scheduling_api.BoardView.as_view(), name="board"),
    path(
        "api/v1/capacity-forecast/",
        waitlist_api.CapacityForecastView.as_view(),
        name="capacity-forecast",
    ),
    path("api/v1/", include(router.urls)),
    path("setup/reminders/", policy_views.reminder_policy, name="setup-reminders"),
    path("setup/webhooks/", webhook_views.endpoints, name="setup-webhooks"),
    path("setup/webhooks/<int:pk>/", webhook_views.endpoint_detail, name="setup-webhook"),
    path("setup/", include("clinic.setup_urls")),
    path("outbox/", notification_views.outbox, name="outbox"),
    path("audit/", audit_views.audit_page, name="audit-page"),
    path("audit/events.csv", audit_views.audit_csv, name="audit-csv"),
    path("messages/", inbox_views.inbox, name="patient-messages"),
    path("messages/<int:pk>/handled/", inbox_views.mark_handled, name="patient-message-handled"),
    path("patients/", patient_list.patient_list, name="patient-list"),
    path("patients/new/", patient_pages.patient_register, name="patient-register"),
    path("patients/<int:pk>/", patient_record.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/edit/", patient_pages.patient_edit, name="patient-edit"),
    path("patients/<int:pk>/superbill/", billing_views.patient_superbill, name="patient-superbill"),
    path(
        "patients/<int:pk>/sessions/remap/",
        patient_booking.patient_remap_book,
        name="patient-remap-book",
    ),
    path(
        "patients/<int:pk>/sessions/book/",
        patient_booking.patient_session_book,
        name="patient-session-book",
    ),
    path("", include("scheduling.urls")),
    path("", include("courses.urls")),
    path("p/session/<str:token>/", patient_views.session_page, name="patient-session"),
    # The relapse watch's questionnaire, in texts and emails alike (short, no slash).
    path("p/q/<str:token>", checkin_views.questionnaire, name="patient-questionnaire"),
    # In text messages: short, and no trailing slash to spend a character on.
    path("p/<str:token>", patient_views.short_session_page, name="patient-short"),
    path(
        "p/calendar/<str:token>/appointments.ics",
        patient_views.course_calendar,
        name="patient-calendar",
    ),
    path("webhooks/sms/inbound/", webhooks.inbound_sms, name="sms-inbound"),
    path("webhooks/sms/status/", webhooks.sms_status, name="sms-status"),
    path("api/schema/", api_docs.schema, name="schema"),
    path("api/docs/", api_docs.docs, name="api-docs"),
    path("fhir/R4/", include("interop.urls")),
]

handler400 = "clinic.views.bad_request"
handler403 = "clinic.views.permission_denied"
handler404 = "clinic.views.page_not_found"
handler500 = "clinic.views.server_error"
