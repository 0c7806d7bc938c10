# The local SMS provider and SMTP server of the transport tests, for end-to-end tests.
from tests.notifications.test_transports import (  # noqa: F401
    fake_twilio,
    smtp_server,
    twilio_settings,
)

# The scheduling fixtures (a frozen clock, chairs, cleared courses) serve these tests too.
from tests.scheduling.conftest import (  # noqa: F401
    chairs,
    frozen_now,
    make_course,
    no_dst_clinic,
    psychiatrist,
)
