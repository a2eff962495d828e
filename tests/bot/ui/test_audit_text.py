"""Audit lines show prompts, proxy reasons and moderators' words literally, without secrets."""

from __future__ import annotations

from bot.safety import register_secrets
from bot.ui.audit import change_text, job_text
from storage.records import AuditEntry
from tests.bot.factories import job


def test_a_banned_word_with_markdown_is_shown_literally() -> None:
    entry = AuditEntry(1, 1, 5, "words.add", "[free](https://evil.example) __x__", 0.0)
    text = change_text(entry, "en")
    assert "\\[free](https://evil.example) \\_\\_x\\_\\_" in text


def test_a_job_line_escapes_the_prompt_and_redacts_the_reason() -> None:
    register_secrets(["sk-audit-unit-secret"])
    failed = job(
        prompt="**loud** [x](https://evil.example)",
        state="failure",
        failure="bad key sk-audit-unit-secret",
        finished_at=1.0,
    )
    text = job_text(failed, "en", None)
    assert "\\*\\*loud\\*\\* \\[x](https://evil.example)" in text
    assert "sk-audit-unit-secret" not in text and "[redacted]" in text


def test_a_known_proxy_reason_is_quoted_for_the_moderators() -> None:
    failed = job(state="failure", failure="无可用的账号实例", finished_at=1.0)
    text = job_text(failed, "en", None)
    assert "no Midjourney account available" in text and "(“无可用的账号实例”)" in text
