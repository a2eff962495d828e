"""Discord's documented limits, checked on every payload the bot sends to the fake."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .payloads import COMPONENTS_V2

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
LEGACY_ROWS_MAX = 5
V2_COMPONENTS_MAX = 40
BUTTONS_PER_ROW = 5
ATTACHMENTS_MAX = 10
SELECT_OPTIONS_MAX = 25
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
TEXT_INPUT_MAX = 4000
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
SELECT_TYPES = {3, 5, 6, 7, 8}
# Components that hold children in "components" (action row, section, container).
PARENTS = {1, 9, 17}


def _length(value: Any, limit: int, what: str, problems: list[str], *, minimum: int = 0) -> None:
    if value is None:
        if minimum:
            problems.append(f"{what} is required")
        return
    n = len(str(value))
    if n > limit or n < minimum:
        problems.append(f"{what} has {n} characters (allowed {minimum}..{limit})")


def check_embeds(embeds: list[dict[str, Any]], problems: list[str]) -> None:
    if len(embeds) > EMBEDS_MAX:
        problems.append(f"{len(embeds)} embeds (max {EMBEDS_MAX})")
    total = 0
    for i, e in enumerate(embeds):
        fields = e.get("fields") or []
        footer = (e.get("footer") or {}).get("text")
        author = (e.get("author") or {}).get("name")
        _length(e.get("title"), 256, f"embeds[{i}].title", problems)
        _length(e.get("description"), 4096, f"embeds[{i}].description", problems)
        _length(footer, 2048, f"embeds[{i}].footer.text", problems)
        _length(author, 256, f"embeds[{i}].author.name", problems)
        if len(fields) > 25:
            problems.append(f"embeds[{i}] has {len(fields)} fields (max 25)")
        for j, f in enumerate(fields):
            _length(f.get("name"), 256, f"embeds[{i}].fields[{j}].name", problems, minimum=1)
            _length(f.get("value"), 1024, f"embeds[{i}].fields[{j}].value", problems, minimum=1)
        parts = [e.get("title"), e.get("description"), footer, author]
        parts += [f.get("name") for f in fields] + [f.get("value") for f in fields]
        total += sum(len(str(p)) for p in parts if p)
    if total > EMBED_TOTAL_MAX:
        problems.append(f"embeds total {total} characters (max {EMBED_TOTAL_MAX})")


def walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component, depth first, including section accessories and label children."""
    for c in components:
        yield c
        if c.get("type") in PARENTS:
            yield from walk(c.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(c.get(key), dict):
                yield from walk([c[key]])


def _check_button(b: dict[str, Any], where: str, problems: list[str]) -> None:
    _length(b.get("label"), 80, f"{where}.label", problems)
    style = b.get("style")
    if style == 5:
        if not b.get("url") or "custom_id" in b:
            problems.append(f"{where}: a link button needs a url and no custom_id")
    elif style != 6 and not b.get("custom_id"):
        problems.append(f"{where}: a button needs a custom_id")
    if not b.get("label") and not b.get("emoji") and style != 6:
        problems.append(f"{where}: a button needs a label or an emoji")


def _check_select(s: dict[str, Any], where: str, problems: list[str]) -> None:
    _length(s.get("placeholder"), 150, f"{where}.placeholder", problems)
    options = s.get("options") or []
    lo, hi = s.get("min_values", 1), s.get("max_values", 1)
    if not 0 <= lo <= 25 or not 1 <= hi <= 25 or lo > hi:
        problems.append(f"{where}: min_values {lo} / max_values {hi} out of range")
    if s.get("type") != 3:
        return
    if not 1 <= len(options) <= SELECT_OPTIONS_MAX:
        problems.append(f"{where} has {len(options)} options (allowed 1..{SELECT_OPTIONS_MAX})")
    if hi > len(options):
        problems.append(f"{where}: max_values {hi} > {len(options)} options")
    values = [o.get("value") for o in options]
    if len(set(values)) != len(values):
        problems.append(f"{where}: option values are not unique")
    for k, o in enumerate(options):
        _length(o.get("label"), 100, f"{where}.options[{k}].label", problems, minimum=1)
        _length(o.get("value"), 100, f"{where}.options[{k}].value", problems, minimum=1)
        _length(o.get("description"), 100, f"{where}.options[{k}].description", problems)


def _check_text_input(t: dict[str, Any], where: str, problems: list[str]) -> None:
    _length(t.get("label"), 45, f"{where}.label", problems)
    _length(t.get("value"), TEXT_INPUT_MAX, f"{where}.value", problems)
    _length(t.get("placeholder"), 100, f"{where}.placeholder", problems)
    lo, hi = t.get("min_length", 0), t.get("max_length", TEXT_INPUT_MAX)
    if not 0 <= lo <= TEXT_INPUT_MAX or not 1 <= hi <= TEXT_INPUT_MAX or lo > hi:
        problems.append(f"{where}: min_length {lo} / max_length {hi} out of range")
    value = t.get("value")
    if value and not lo <= len(value) <= hi:
        problems.append(f"{where}: prefilled value length {len(value)} outside {lo}..{hi}")


def check_components(
    components: list[dict[str, Any]], problems: list[str], *, v2: bool = False
) -> None:
    """Rows, buttons, selects and custom_ids of a message or modal."""
    if v2:
        total = sum(1 for _ in walk(components))
        if total > V2_COMPONENTS_MAX:
            problems.append(f"{total} components (max {V2_COMPONENTS_MAX})")
    elif len(components) > LEGACY_ROWS_MAX:
        problems.append(f"{len(components)} action rows (max {LEGACY_ROWS_MAX})")
    for i, row in enumerate(components):
        if row.get("type") != 1:
            continue
        children = row.get("components") or []
        buttons = [c for c in children if c.get("type") == 2]
        if len(buttons) > BUTTONS_PER_ROW:
            problems.append(f"row {i} has {len(buttons)} buttons (max {BUTTONS_PER_ROW})")
        if not children:
            problems.append(f"row {i} is empty")
        if len(children) > 1 and any(c.get("type") in SELECT_TYPES for c in children):
            problems.append(f"row {i}: a select menu must be alone in its row")
    seen: set[str] = set()
    for n, c in enumerate(walk(components)):
        where = f"component #{n} (type {c.get('type')})"
        custom_id = c.get("custom_id")
        if custom_id is not None:
            _length(custom_id, 100, f"{where}.custom_id", problems, minimum=1)
            if custom_id in seen:
                problems.append(f"{where}: duplicate custom_id {custom_id!r}")
            seen.add(custom_id)
        kind = c.get("type")
        if kind == 2:
            _check_button(c, where, problems)
        elif kind in SELECT_TYPES:
            _check_select(c, where, problems)
        elif kind == 4:
            _check_text_input(c, where, problems)
        elif kind == 18:
            _length(c.get("label"), 45, f"{where}.label", problems, minimum=1)
            _length(c.get("description"), 100, f"{where}.description", problems)


def check_message(body: dict[str, Any], n_files: int) -> list[str]:
    """Problems with a message create/edit body (content, embeds, components, attachments)."""
    problems: list[str] = []
    _length(body.get("content"), CONTENT_MAX, "content", problems)
    check_embeds(body.get("embeds") or [], problems)
    v2 = bool((body.get("flags") or 0) & COMPONENTS_V2)
    components = body.get("components") or []
    check_components(components, problems, v2=v2)
    if v2 and (body.get("content") or body.get("embeds")):
        problems.append("a components V2 message cannot have content or embeds")
    n_attachments = max(n_files, len(body.get("attachments") or []))
    if n_attachments > ATTACHMENTS_MAX:
        problems.append(f"{n_attachments} attachments (max {ATTACHMENTS_MAX})")
    return problems


def is_empty(body: dict[str, Any], n_files: int) -> bool:
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or n_files
        or body.get("attachments")
    )


def check_modal(data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    _length(data.get("title"), MODAL_TITLE_MAX, "modal title", problems, minimum=1)
    _length(data.get("custom_id"), 100, "modal custom_id", problems, minimum=1)
    components = data.get("components") or []
    if not 1 <= len(components) <= MODAL_COMPONENTS_MAX:
        problems.append(f"modal has {len(components)} components (allowed 1..5)")
    check_components(components, problems, v2=True)
    return problems


def check_commands(commands: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    if len(commands) > 100:
        problems.append(f"{len(commands)} commands (max 100)")
    for cmd in commands:
        _check_command(cmd, f"command {cmd.get('name')!r}", problems)
    return problems


def _check_command(cmd: dict[str, Any], where: str, problems: list[str]) -> None:
    name = str(cmd.get("name", ""))
    chat_input = cmd.get("type", 1) == 1
    if chat_input and (not COMMAND_NAME.match(name) or name != name.lower()):
        problems.append(f"{where}: invalid name")
    if chat_input:
        _length(cmd.get("description"), 100, f"{where}.description", problems, minimum=1)
    options = cmd.get("options") or []
    if len(options) > 25:
        problems.append(f"{where} has {len(options)} options (max 25)")
    required_seen_optional = False
    for opt in options:
        sub = f"{where} option {opt.get('name')!r}"
        if opt.get("type") in (1, 2):
            _check_command(opt, sub, problems)
            continue
        _check_command({**opt, "type": 1, "options": []}, sub, problems)
        if len(opt.get("choices") or []) > 25:
            problems.append(f"{sub} has more than 25 choices")
        if opt.get("required"):
            if required_seen_optional:
                problems.append(f"{sub}: required options must come before optional ones")
        else:
            required_seen_optional = True
