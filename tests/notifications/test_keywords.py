from __future__ import annotations

import pytest

from notifications.services import keyword_of


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "STOP"),
        ("stop please", "STOP"),
        ("Yes, please stop texting me", "STOP"),
        ("cancel", "STOP"),
        ("Quit.", "STOP"),
        ("start", "START"),
        ("Yes", "YES"),
        ("yes please", "YES"),
        (" YES! ", "YES"),
        ("y", None),  # too easy to send by mistake
        ("yesterday", None),
        ("help?", "HELP"),
        ("can I cancel Tuesday?", None),  # everyday words mid-message are not opt-outs
        ("see you at the end of the week", None),
        ("", None),
        ("👍", None),
    ],
)
def test_keywords(body: str, keyword: str | None) -> None:
    assert keyword_of(body) == keyword
