"""What the browser tests do in bpmn-js's editor that needs care: typing a label once the label editor
has opened."""

from __future__ import annotations

from playwright.sync_api import expect


def type_label(page, text: str, replace: bool = False) -> None:
    """Type ``text`` into the label editor (diagram-js direct editing) and press Enter.

    The editor opens a moment after a new shape lands; keys pressed before it has focus go to the canvas
    and are lost, so wait (up to 5 s) until its box is visible and focused. ``replace`` selects the
    label's current text first (a template's shape arrives named)."""
    box = page.locator(".djs-direct-editing-parent .djs-direct-editing-content")
    expect(box).to_be_visible(timeout=5000)
    expect(box).to_be_focused(timeout=5000)
    if replace:
        page.keyboard.press("Control+a")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
