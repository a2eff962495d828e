"""Text that reaches members: markdown escaped, configured secrets redacted. Pure, no Discord.

Prompts and the proxy's own words are shown inside the bot's messages; without escaping, a prompt
such as ``[Claim free Nitro](https://...)`` would become a live masked link under the bot's name,
and a proxy error that echoes the API key would show it to everyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

# Discord's markdown, as discord.utils.escape_markdown sees it (links are left alone, so that a
# URL in a prompt stays clickable and copyable). Every '[' with a '](' after it is escaped, so
# no masked link is live: discord.py's pattern for one, r"\[.+\]\(.+\)", spans from the first
# '[' to the last ')' and escapes only the first of two links.
_URL = r"(?P<url><[^: >]+:\/[^ >]+>|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s])"
_LINK = r"\[(?=[\s\S]*\]\()"
_LINE_START = r"^>(?:>>)?\s|^#{1,3}|^\s*-"
_MARKDOWN = re.compile(rf"(?:{_URL}|(?P<markdown>[_\\~|\*`]|{_LINE_START}|{_LINK}))", re.MULTILINE)
_INLINE = re.compile(rf"(?:{_URL}|(?P<markdown>[_\\~|\*`]|{_LINK}))")


def _replace(match: re.Match[str]) -> str:
    if match["url"]:
        return match["url"]
    return "\\" + match["markdown"]


def escape_markdown(text: str) -> str:
    """`text` shown literally in a Discord message: no bold, links, headings, spoilers or code."""
    return _MARKDOWN.sub(_replace, text)


def escape_inline(text: str) -> str:
    """`text` as one line inside a sentence: line breaks become spaces (so it cannot start a
    heading, a quote or a list), and inline markdown and masked links are escaped."""
    return _INLINE.sub(_replace, " ".join(text.split()))


# ---- secrets ----------------------------------------------------------------------------------
_secrets: list[str] = []


def register_secrets(secrets: Iterable[str]) -> None:
    """Secrets (API key, bot token) that must never reach a member; kept for the process' life.

    A key is also known without an ``sk-`` prefix, or with it: new-api strips it and proxies
    echo either form.
    """
    for secret in secrets:
        secret = secret.strip()
        forms = {secret}
        if secret.startswith("sk-"):
            forms.add(secret.removeprefix("sk-"))
        elif secret:
            forms.add("sk-" + secret)
        for form in forms:
            if len(form) >= 6 and form not in _secrets:
                _secrets.append(form)
    _secrets.sort(key=len, reverse=True)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by "[redacted]"."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def shown(text: str) -> str:
    """Foreign text (a prompt, a proxy's reason) inside one of our sentences: one line, literal,
    without secrets."""
    return escape_inline(redact(text))
