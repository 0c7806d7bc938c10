# The backup round trip fills the database with the scheduling tests' cleared courses.
from tests.scheduling.conftest import chairs, frozen_now, make_course, psychiatrist  # noqa: F401
