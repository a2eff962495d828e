"""Every customId of the reference catalogue (§7) parses to its action; unknown ids never raise."""

from __future__ import annotations

import pytest

from bot.midjourney.button_rows import layout_rows
from bot.midjourney.custom_ids import (
    Backend,
    ButtonAction,
    ButtonKind,
    accepted_by,
    parse_custom_id,
)

H = "3dbbd469-36af-4a0f-8f02-df6c579e7011"
BACKENDS: tuple[Backend, ...] = ("plus", "trueai", "new-api")
K = ButtonKind


@pytest.mark.parametrize(
    ("custom_id", "kind", "index", "label", "emoji"),
    [
        # §7.1 grid
        *[(f"MJ::JOB::upsample::{n}::{H}", K.UPSCALE, n, f"U{n}", None) for n in range(1, 5)],
        *[(f"MJ::JOB::variation::{n}::{H}", K.VARIATION, n, f"V{n}", None) for n in range(1, 5)],
        (f"MJ::JOB::reroll::0::{H}::SOLO", K.REROLL, None, "", "🔄"),
        # §7.2 upscaled image
        (f"MJ::JOB::upsample_v5_2x::1::{H}::SOLO", K.UPSCALE_HD, 1, "Upscale (2x)", None),
        (f"MJ::JOB::upsample_v5_4x::1::{H}::SOLO", K.UPSCALE_HD, 1, "Upscale (4x)", None),
        (
            f"MJ::JOB::upsample_v6_2x_subtle::1::{H}::SOLO",
            K.UPSCALE_HD,
            1,
            "Upscale (Subtle)",
            None,
        ),
        (
            f"MJ::JOB::upsample_v6_2x_creative::1::{H}::SOLO",
            K.UPSCALE_HD,
            1,
            "Upscale (Creative)",
            None,
        ),
        (
            f"MJ::JOB::upsample_v6r1_2x_subtle::1::{H}::SOLO",
            K.UPSCALE_HD,
            1,
            "Upscale (Subtle)",
            None,
        ),
        (
            f"MJ::JOB::upsample_v6r1_2x_creative::1::{H}::SOLO",
            K.UPSCALE_HD,
            1,
            "Upscale (Creative)",
            None,
        ),
        (
            f"MJ::JOB::upsample_v7_2x_subtle::1::{H}::SOLO",
            K.UPSCALE_HD,
            1,
            "Upscale (Subtle)",
            None,
        ),
        (
            f"MJ::JOB::upsample_v7_2x_creative::1::{H}::SOLO",
            K.UPSCALE_HD,
            1,
            "Upscale (Creative)",
            None,
        ),
        (f"MJ::JOB::low_variation::1::{H}::SOLO", K.VARY_SUBTLE, 1, "Vary (Subtle)", "🪄"),
        (f"MJ::JOB::high_variation::1::{H}::SOLO", K.VARY_STRONG, 1, "Vary (Strong)", "🪄"),
        (f"MJ::Inpaint::1::{H}::SOLO", K.VARY_REGION, 1, "Vary (Region)", "🖌️"),
        (f"MJ::Outpaint::50::1::{H}::SOLO", K.ZOOM_OUT, 1, "Zoom Out 2x", "🔍"),
        (f"MJ::Outpaint::75::1::{H}::SOLO", K.ZOOM_OUT, 1, "Zoom Out 1.5x", "🔍"),
        (f"MJ::Outpaint::100::1::{H}::SOLO", K.MAKE_SQUARE, 1, "Make Square", "↔️"),
        (f"MJ::CustomZoom::{H}", K.CUSTOM_ZOOM, None, "Custom Zoom", "🔍"),
        ("MJ::CustomZoom::1::1748339029401828", K.CUSTOM_ZOOM, 1, "Custom Zoom", "🔍"),
        (f"MJ::JOB::pan_left::1::{H}::SOLO", K.PAN, 1, "", "⬅️"),
        (f"MJ::JOB::pan_right::1::{H}::SOLO", K.PAN, 1, "", "➡️"),
        (f"MJ::JOB::pan_up::1::{H}::SOLO", K.PAN, 1, "", "⬆️"),
        (f"MJ::JOB::pan_down::1::{H}::SOLO", K.PAN, 1, "", "⬇️"),
        (f"MJ::JOB::animate_high::1::{H}::SOLO", K.ANIMATE, 1, "Animate (High motion)", "🎞️"),
        (f"MJ::JOB::animate_low::1::{H}::SOLO", K.ANIMATE, 1, "Animate (Low motion)", "🎞️"),
        (f"MJ::BOOKMARK::{H}", K.BOOKMARK, None, "", "❤️"),
        # §7.3 video
        *[
            (f"MJ::JOB::video_virtual_upscale::{n}::{H}", K.VIDEO_UPSCALE, n, f"U{n}", None)
            for n in range(1, 5)
        ],
        (f"MJ::JOB::animate_high_extend::2::{H}", K.ANIMATE, 2, "Extend (High motion)", "🎞️"),
        (f"MJ::JOB::animate_low_extend::3::{H}", K.ANIMATE, 3, "Extend (Low motion)", "🎞️"),
        # §7.4 describe
        ("MJ::Job::PicReader::1", K.DESCRIBE_PICK, 1, "", "1️⃣"),
        ("MJ::Job::PicReader::2", K.DESCRIBE_PICK, 2, "", "2️⃣"),
        ("MJ::Job::PicReader::3", K.DESCRIBE_PICK, 3, "", "3️⃣"),
        ("MJ::Job::PicReader::4", K.DESCRIBE_PICK, 4, "", "4️⃣"),
        ("MJ::Picread::Retry", K.DESCRIBE_RETRY, None, "", "🔄"),
        ("MJ::Job::PicReader::all", K.DESCRIBE_ALL, None, "Imagine all", "🎉"),
        # §7.5 shorten
        *[(f"MJ::Job::PromptAnalyzer::{n}", K.SHORTEN_PICK, n, "", f"{n}️⃣") for n in range(1, 6)],
        ("MJ::Job::PromptAnalyzerExtended::1", K.SHOW_DETAILS, None, "Show Details", None),
        # §7.6 others
        (f"MJ::CancelJob::ByJobid::{H}", K.CANCEL_JOB, None, "Cancel Job", None),
    ],
)
def test_catalogue(
    custom_id: str, kind: ButtonKind, index: int | None, label: str, emoji: str | None
) -> None:
    action = parse_custom_id(custom_id)
    assert action.raw == custom_id
    assert action.kind is kind
    assert action.index == index
    assert action.label == label
    assert action.emoji == emoji


def test_hash_is_kept() -> None:
    assert parse_custom_id(f"MJ::JOB::upsample::2::{H}").job_hash == H
    assert parse_custom_id(f"MJ::JOB::reroll::0::{H}::SOLO").job_hash == H
    assert parse_custom_id(f"MJ::CustomZoom::{H}").job_hash == H
    assert parse_custom_id("MJ::CustomZoom::1::1748339029401828").job_hash == "1748339029401828"
    assert parse_custom_id(f"MJ::BOOKMARK::{H}").job_hash == H
    assert parse_custom_id("MJ::Job::PicReader::1").job_hash is None


def test_structured_details() -> None:
    hd = parse_custom_id(f"MJ::JOB::upsample_v6r1_2x_creative::1::{H}::SOLO")
    assert hd.variant == "v6r1_2x_creative"
    assert parse_custom_id(f"MJ::Outpaint::50::1::{H}::SOLO").zoom == 2.0
    assert parse_custom_id(f"MJ::Outpaint::75::1::{H}::SOLO").zoom == 1.5
    assert parse_custom_id(f"MJ::JOB::pan_down::1::{H}::SOLO").direction == "down"
    animate = parse_custom_id(f"MJ::JOB::animate_low_extend::1::{H}")
    assert (animate.motion, animate.extend) == ("low", True)
    assert parse_custom_id(f"MJ::JOB::animate_high::1::{H}::SOLO").extend is False


def test_reseller_spelling_of_prompt_analyzer() -> None:
    # A reseller's documentation writes the family in upper case.
    assert parse_custom_id("MJ::JOB::PromptAnalyzer::1").kind is K.SHORTEN_PICK


def test_unlisted_outpaint_percentage_is_a_zoom_without_factor() -> None:
    action = parse_custom_id(f"MJ::Outpaint::60::1::{H}::SOLO")
    assert (action.kind, action.zoom, action.label) == (K.ZOOM_OUT, None, "Zoom Out")


def test_hd_upscale_never_uses_the_proxy_custom_emoji() -> None:
    for variant in ("v5_2x", "v6_2x_subtle", "v7_2x_creative"):
        emoji = parse_custom_id(f"MJ::JOB::upsample_{variant}::1::{H}::SOLO").emoji
        assert emoji != "upscale_1"


@pytest.mark.parametrize(
    "custom_id",
    [
        "",
        " ",
        "MJ::",
        "MJ::JOB::",
        "MJ::JOB::upsample::",
        "MJ::JOB::upsample::1",
        "MJ::JOB::upsample::1::",
        "MJ::JOB::upsample::5::" + H,
        "MJ::JOB::upsample::0::" + H,
        "MJ::JOB::upsample::x::" + H,
        "MJ::JOB::variation::1::" + H + "::SOLO::SOLO",
        " MJ::JOB::upsample::1::" + H,
        "MJ::JOB::upsample::1::" + H + "\n",
        "MJ::JOB::pan_sideways::1::" + H + "::SOLO",
        "MJ::JOB::upsample::1::" + H[:10] + " " + H[10:],
        "MJ::Job::PicReader::0",
        "MJ::Job::PicReader::10",
        "MJ::Job::PicReader::",
        "MJ::Outpaint::1000::1::" + H + "::SOLO",
        "MJ::Settings::RemixMode",
        "MJ::RemixModal::" + H + "::1::0",
        "MJ::JOB::upsample::1::" + H + "::" + "x" * 300,
        "https://www.midjourney.com/jobs/" + H,
        "\x00\x01\x02",
        "🔄",
        "MJ::JOB::upsample::１::" + H,  # a fullwidth digit
    ],
)
def test_mangled_and_unknown_ids_are_opaque(custom_id: str) -> None:
    action = parse_custom_id(custom_id)
    assert action == ButtonAction(custom_id, K.UNKNOWN)
    assert not action.opens_dialog
    assert not action.is_idempotent
    assert action.weight_key == "unknown"
    assert not any(accepted_by(action.kind, backend) for backend in BACKENDS)


def test_non_string_never_raises() -> None:
    action = parse_custom_id(None)  # type: ignore[arg-type]
    assert action.kind is K.UNKNOWN


def test_opens_dialog() -> None:
    dialog = {
        parse_custom_id(f"MJ::CustomZoom::{H}"),
        parse_custom_id("MJ::CustomZoom::1::abc"),
        parse_custom_id(f"MJ::Inpaint::1::{H}::SOLO"),
        parse_custom_id("MJ::Job::PicReader::2"),
        parse_custom_id("MJ::Job::PromptAnalyzer::3"),
    }
    assert all(a.opens_dialog for a in dialog)
    needs_input = {a.kind for a in dialog if a.needs_user_input}
    assert needs_input == {K.CUSTOM_ZOOM, K.VARY_REGION}
    for custom_id in (
        f"MJ::JOB::upsample::1::{H}",
        f"MJ::JOB::variation::1::{H}",
        f"MJ::JOB::reroll::0::{H}::SOLO",
        f"MJ::Outpaint::50::1::{H}::SOLO",
        f"MJ::JOB::pan_up::1::{H}::SOLO",
        "MJ::Job::PicReader::all",
    ):
        assert not parse_custom_id(custom_id).opens_dialog, custom_id


def test_idempotent_and_repeatable() -> None:
    idempotent = [
        f"MJ::JOB::upsample::1::{H}",
        f"MJ::JOB::upsample_v6_2x_subtle::1::{H}::SOLO",
        f"MJ::JOB::video_virtual_upscale::1::{H}",
    ]
    repeatable = [
        f"MJ::Outpaint::50::1::{H}::SOLO",
        f"MJ::Outpaint::100::1::{H}::SOLO",
        f"MJ::JOB::variation::1::{H}",
        f"MJ::JOB::reroll::0::{H}::SOLO",
        f"MJ::JOB::low_variation::1::{H}::SOLO",
        f"MJ::JOB::high_variation::1::{H}::SOLO",
        f"MJ::JOB::pan_left::1::{H}::SOLO",
        f"MJ::CustomZoom::{H}",
        f"MJ::Inpaint::1::{H}::SOLO",
        f"MJ::JOB::animate_high::1::{H}::SOLO",
        "MJ::Job::PicReader::1",
        "MJ::Picread::Retry",
    ]
    assert all(parse_custom_id(c).is_idempotent for c in idempotent)
    assert not any(parse_custom_id(c).is_idempotent for c in repeatable)


@pytest.mark.parametrize(
    ("custom_id", "weight_key"),
    [
        (f"MJ::JOB::upsample::1::{H}", "upscale"),
        (f"MJ::JOB::upsample_v6_2x_subtle::1::{H}::SOLO", "upscale_hd"),
        (f"MJ::JOB::variation::1::{H}", "variation"),
        (f"MJ::JOB::low_variation::1::{H}::SOLO", "variation"),
        (f"MJ::JOB::high_variation::1::{H}::SOLO", "variation"),
        (f"MJ::JOB::reroll::0::{H}::SOLO", "reroll"),
        (f"MJ::Outpaint::50::1::{H}::SOLO", "zoom"),
        (f"MJ::Outpaint::100::1::{H}::SOLO", "zoom"),
        (f"MJ::JOB::pan_left::1::{H}::SOLO", "pan"),
        (f"MJ::Inpaint::1::{H}::SOLO", "vary_region"),
        (f"MJ::CustomZoom::{H}", "custom_zoom"),
        ("MJ::Job::PicReader::1", "describe_pick"),
        ("MJ::Job::PicReader::all", "describe_all"),
        ("MJ::Picread::Retry", "describe"),
        ("MJ::Job::PromptAnalyzer::1", "shorten_pick"),
        (f"MJ::JOB::animate_low::1::{H}::SOLO", "animate"),
        (f"MJ::JOB::video_virtual_upscale::1::{H}", "video_upscale"),
    ],
)
def test_weight_keys(custom_id: str, weight_key: str) -> None:
    assert parse_custom_id(custom_id).weight_key == weight_key


def test_every_kind_has_a_weight_key() -> None:
    for kind in ButtonKind:
        assert ButtonAction("x", kind).weight_key


@pytest.mark.parametrize(
    ("kind", "plus", "trueai", "new_api"),
    [
        (K.UPSCALE, True, True, True),
        (K.VARIATION, True, True, True),
        (K.REROLL, True, True, True),
        (K.UPSCALE_HD, True, True, True),
        (K.VARY_SUBTLE, True, True, True),
        (K.VARY_STRONG, True, True, True),
        (K.PAN, True, True, True),
        (K.ZOOM_OUT, True, True, True),
        (K.MAKE_SQUARE, True, True, True),
        (K.CUSTOM_ZOOM, True, True, True),
        (K.VARY_REGION, True, True, True),
        (K.DESCRIBE_PICK, True, True, False),
        (K.DESCRIBE_RETRY, True, True, False),
        (K.DESCRIBE_ALL, False, True, False),
        (K.SHORTEN_PICK, True, False, False),
        (K.ANIMATE, True, True, False),
        (K.VIDEO_UPSCALE, True, True, False),
        (K.BOOKMARK, False, False, False),
        (K.SHOW_DETAILS, True, False, False),
        (K.CANCEL_JOB, False, False, False),
        (K.UNKNOWN, False, False, False),
    ],
)
def test_acceptance_table(kind: ButtonKind, plus: bool, trueai: bool, new_api: bool) -> None:
    assert accepted_by(kind, "plus") is plus
    assert accepted_by(kind, "trueai") is trueai
    assert accepted_by(kind, "new-api") is new_api


def test_unknown_backend_accepts_nothing() -> None:
    assert not accepted_by(K.UPSCALE, "novicezk")  # type: ignore[arg-type]


def _ids(custom_ids: list[str]) -> list[ButtonAction]:
    return [parse_custom_id(c) for c in custom_ids]


def _labels(actions: list[ButtonAction], rows: list[list[int]]) -> list[list[str]]:
    return [[actions[i].label or actions[i].emoji or "?" for i in row] for row in rows]


def test_layout_grid() -> None:
    actions = _ids(
        [
            *[f"MJ::JOB::upsample::{n}::{H}" for n in range(1, 5)],
            f"MJ::JOB::reroll::0::{H}::SOLO",
            *[f"MJ::JOB::variation::{n}::{H}" for n in range(1, 5)],
        ]
    )
    rows = layout_rows(actions)
    assert rows == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]


def test_layout_grid_from_shuffled_buttons() -> None:
    actions = _ids(
        [
            f"MJ::JOB::variation::2::{H}",
            f"MJ::JOB::reroll::0::{H}::SOLO",
            f"MJ::JOB::upsample::3::{H}",
            f"MJ::JOB::variation::1::{H}",
            f"MJ::JOB::upsample::1::{H}",
        ]
    )
    assert _labels(actions, layout_rows(actions)) == [["U1", "U3", "🔄"], ["V1", "V2"]]


def test_layout_upscaled_v6_image() -> None:
    actions = _ids(
        [
            f"MJ::JOB::upsample_v6r1_2x_subtle::1::{H}::SOLO",
            f"MJ::JOB::upsample_v6r1_2x_creative::1::{H}::SOLO",
            f"MJ::JOB::low_variation::1::{H}::SOLO",
            f"MJ::JOB::high_variation::1::{H}::SOLO",
            f"MJ::Inpaint::1::{H}::SOLO",
            f"MJ::Outpaint::50::1::{H}::SOLO",
            f"MJ::Outpaint::75::1::{H}::SOLO",
            f"MJ::CustomZoom::{H}",
            f"MJ::Outpaint::100::1::{H}::SOLO",
            f"MJ::JOB::pan_left::1::{H}::SOLO",
            f"MJ::JOB::pan_right::1::{H}::SOLO",
            f"MJ::JOB::pan_up::1::{H}::SOLO",
            f"MJ::JOB::pan_down::1::{H}::SOLO",
            f"MJ::JOB::animate_high::1::{H}::SOLO",
            f"MJ::JOB::animate_low::1::{H}::SOLO",
            f"MJ::BOOKMARK::{H}",
        ]
    )
    assert _labels(actions, layout_rows(actions)) == [
        [
            "Upscale (Subtle)",
            "Upscale (Creative)",
            "Vary (Subtle)",
            "Vary (Strong)",
            "Vary (Region)",
        ],
        ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom", "Make Square"],
        ["⬅️", "➡️", "⬆️", "⬇️"],
        ["Animate (High motion)", "Animate (Low motion)", "❤️"],
    ]


def test_layout_reorders_within_known_rows() -> None:
    actions = _ids(
        [
            f"MJ::JOB::pan_down::1::{H}::SOLO",
            f"MJ::Outpaint::100::1::{H}::SOLO",
            f"MJ::CustomZoom::{H}",
            f"MJ::JOB::pan_left::1::{H}::SOLO",
            f"MJ::Outpaint::75::1::{H}::SOLO",
            f"MJ::Inpaint::1::{H}::SOLO",
            f"MJ::Outpaint::50::1::{H}::SOLO",
            f"MJ::JOB::high_variation::1::{H}::SOLO",
        ]
    )
    assert _labels(actions, layout_rows(actions)) == [
        ["Vary (Strong)", "Vary (Region)"],
        ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom", "Make Square"],
        ["⬅️", "⬇️"],
    ]


def test_layout_video_grid() -> None:
    actions = _ids(
        [
            *[f"MJ::JOB::video_virtual_upscale::{n}::{H}" for n in range(1, 5)],
            f"MJ::JOB::animate_high_extend::1::{H}",
            f"MJ::JOB::animate_low_extend::1::{H}",
            f"MJ::JOB::reroll::0::{H}::SOLO",
        ]
    )
    assert _labels(actions, layout_rows(actions)) == [
        ["U1", "U2", "U3", "U4", "🔄"],
        ["Extend (High motion)", "Extend (Low motion)"],
    ]


def test_layout_describe() -> None:
    actions = _ids(
        [
            "MJ::Job::PicReader::1",
            "MJ::Job::PicReader::2",
            "MJ::Job::PicReader::3",
            "MJ::Job::PicReader::4",
            "MJ::Picread::Retry",
            "MJ::Job::PicReader::all",
        ]
    )
    assert layout_rows(actions) == [[0, 1, 2, 3, 4], [5]]


def test_layout_unknown_ids_keep_their_order_at_the_end() -> None:
    actions = _ids(["b-unknown", f"MJ::JOB::upsample::1::{H}", "a-unknown"])
    assert layout_rows(actions) == [[1], [0, 2]]


def test_layout_limits() -> None:
    many = _ids([f"MJ::X::{n}" for n in range(40)])
    rows = layout_rows(many)
    assert len(rows) == 5
    assert all(len(row) == 5 for row in rows)
    assert [i for row in rows for i in row] == list(range(25))
    assert layout_rows([]) == []


def test_layout_too_many_groups_packs_rows() -> None:
    actions = _ids(
        [
            f"MJ::JOB::upsample::1::{H}",
            f"MJ::JOB::variation::1::{H}",
            f"MJ::JOB::low_variation::1::{H}::SOLO",
            f"MJ::Outpaint::50::1::{H}::SOLO",
            f"MJ::JOB::pan_left::1::{H}::SOLO",
            "MJ::Job::PicReader::1",
            f"MJ::BOOKMARK::{H}",
        ]
    )
    rows = layout_rows(actions)
    assert rows == [[0, 1, 2, 3, 4], [5, 6]]


def test_longest_catalogue_id_parses() -> None:
    longest = parse_custom_id(f"MJ::JOB::upsample_v6r1_2x_creative::1::{H}::SOLO")
    assert len(longest.raw) == 81
    assert longest.kind is K.UPSCALE_HD
