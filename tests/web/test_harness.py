"""The browser harness itself: each check fails when it should, and the server answers Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser import (
    assert_accessible,
    assert_keyboard_reaches_everything,
    watch,
)

pytestmark = pytest.mark.browser

GOOD = """<!doctype html><html lang="en"><head><title>Fine</title></head><body>
<main><h1>Fine</h1><a href="#one">One</a>
<form><label for="q">Query</label><input id="q" name="q">
<fieldset><legend>Pick</legend>
<input type="radio" id="r1" name="r" checked><label for="r1">A</label>
<input type="radio" id="r2" name="r"><label for="r2">B</label></fieldset>
<input type="hidden" name="csrf" value="x"><button>Go</button></form></main></body></html>"""


@pytest.fixture
def blank(chromium: Any) -> Iterator[Any]:
    """A page on no server, for content the test writes itself."""
    context = chromium.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def test_axe_passes_a_clean_page(blank: Any) -> None:
    blank.set_content(GOOD)
    assert_accessible(blank)


def test_axe_fails_a_critical_violation_and_names_it(blank: Any) -> None:
    blank.set_content(GOOD.replace("<h1>Fine</h1>", '<h1>Fine</h1><img src="data:,">'))
    with pytest.raises(AssertionError, match=r"critical: image-alt") as failed:
        assert_accessible(blank)
    assert "<img" in str(failed.value)


def test_the_keyboard_walk_reaches_every_control_in_order(blank: Any) -> None:
    blank.set_content(GOOD)
    assert assert_keyboard_reaches_everything(blank) == 4  # link, input, radio group, button


def test_the_keyboard_walk_fails_on_a_control_tab_skips(blank: Any) -> None:
    blank.set_content(GOOD.replace("<button>", '<button tabindex="-1">'))
    with pytest.raises(AssertionError, match=r'never reached: \[\'button "Go"\'\]'):
        assert_keyboard_reaches_everything(blank)


def test_the_keyboard_walk_fails_when_tab_order_is_not_document_order(blank: Any) -> None:
    blank.set_content(GOOD.replace("<button>", '<button tabindex="1">'))
    with pytest.raises(AssertionError, match="out of document order"):
        assert_keyboard_reaches_everything(blank)


def test_a_request_to_another_origin_is_recorded(blank: Any) -> None:
    seen = watch(blank, "http://127.0.0.1:9")
    blank.set_content('<img alt="" src="http://127.0.0.2:9/x.png">')
    blank.wait_for_load_state()
    assert seen.offsite == ["http://127.0.0.2:9/x.png"]
