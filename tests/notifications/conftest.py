# The scheduling fixtures (a frozen clock, chairs, cleared courses) serve these tests too.
from tests.scheduling.conftest import (  # noqa: F401
    chairs,
    frozen_now,
    make_course,
    no_dst_clinic,
    psychiatrist,
)
