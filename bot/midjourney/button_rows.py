"""Result buttons grouped into Discord rows in Midjourney's order (U row, V row, vary, zoom, pan,
describe picks, the rest), at most 5 rows of 5."""

from __future__ import annotations

from collections.abc import Sequence

from bot.midjourney.custom_ids import ButtonAction, ButtonKind

MAX_PER_ROW = 5
MAX_ROWS = 5

_PAN_ORDER = ("left", "right", "up", "down")

# Rows in Midjourney's order; within a row, (rank, position) keeps the rest stable.
_GROUP_GRID_U, _GROUP_GRID_V, _GROUP_VARY, _GROUP_ZOOM, _GROUP_PAN = 0, 1, 2, 3, 4
_GROUP_PICKS, _GROUP_OTHER = 5, 6
_VARY_RANK = {
    ButtonKind.UPSCALE_HD: 0,
    ButtonKind.VARY_SUBTLE: 1,
    ButtonKind.VARY_STRONG: 2,
    ButtonKind.VARY_REGION: 3,
}


def _place(action: ButtonAction) -> tuple[int, int]:
    kind = action.kind
    index = action.index or 0
    if kind in (ButtonKind.UPSCALE, ButtonKind.VIDEO_UPSCALE):
        return _GROUP_GRID_U, index
    if kind == ButtonKind.REROLL:
        return _GROUP_GRID_U, 10
    if kind == ButtonKind.VARIATION:
        return _GROUP_GRID_V, index
    if kind in _VARY_RANK:
        return _GROUP_VARY, _VARY_RANK[kind]
    if kind == ButtonKind.ZOOM_OUT:
        return _GROUP_ZOOM, {2.0: 0, 1.5: 1}.get(action.zoom or 0.0, 2)
    if kind == ButtonKind.CUSTOM_ZOOM:
        return _GROUP_ZOOM, 3
    if kind == ButtonKind.MAKE_SQUARE:
        return _GROUP_ZOOM, 4
    if kind == ButtonKind.PAN:
        return _GROUP_PAN, _PAN_ORDER.index(action.direction or "left")
    if kind in (ButtonKind.DESCRIBE_PICK, ButtonKind.SHORTEN_PICK):
        return _GROUP_PICKS, index
    if kind == ButtonKind.DESCRIBE_RETRY:
        return _GROUP_PICKS, 10
    return _GROUP_OTHER, 0


def layout_rows(actions: Sequence[ButtonAction]) -> list[list[int]]:
    """Indices of `actions` grouped into Discord rows (at most 5 rows of 5), Midjourney's order."""
    placed = sorted(range(len(actions)), key=lambda i: (*_place(actions[i]), i))
    rows: list[list[int]] = []
    group: int | None = None
    for i in placed:
        current = _place(actions[i])[0]
        if current != group or len(rows[-1]) >= MAX_PER_ROW:
            rows.append([])
            group = current
        rows[-1].append(i)
    if len(rows) > MAX_ROWS:
        # Too many groups for Discord: keep the order, pack rows full, drop what cannot fit.
        flat = [i for row in rows for i in row]
        rows = [flat[n : n + MAX_PER_ROW] for n in range(0, len(flat), MAX_PER_ROW)]
    return rows[:MAX_ROWS]
