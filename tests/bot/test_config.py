"""Configuration: TOML plus environment, refused with one plain sentence per problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import ConfigError, Settings, load_settings

GOOD = """
[discord]
token = "file-token"
guild_ids = [123]
[midjourney]
base_url = "http://127.0.0.1:8787/"
path_prefix = "v1/mj/"
auth_style = "mj-api-secret"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MJBOT_DISCORD__TOKEN", "MJBOT_MIDJOURNEY__API_KEY", "MJBOT_MIDJOURNEY__BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_good_file_is_normalised(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.discord.token.get_secret_value() == "file-token"
    assert settings.discord.guild_ids == [123]
    assert settings.midjourney.base_url == "http://127.0.0.1:8787"
    assert settings.midjourney.path_prefix == "/v1/mj"
    assert settings.midjourney.auth_style == "mj-api-secret"
    assert settings.midjourney.poll_interval_seconds == 3.0


def test_environment_overrides_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJBOT_DISCORD__TOKEN", "env-token")
    monkeypatch.setenv("MJBOT_MIDJOURNEY__API_KEY", "env-key")
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.discord.token.get_secret_value() == "env-token"
    assert settings.midjourney.api_key.get_secret_value() == "env-key"
    assert "env-key" not in repr(settings)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ('token = "file-token"', "discord.token"),
        ('auth_style = "mj-api-secret"', "midjourney.auth_style"),
        ('base_url = "http://127.0.0.1:8787/"', "midjourney.base_url"),
        ("guild_ids = [123]", "midjourney.poll_interval_seconds"),
        ("guild_ids = [123]", "discord.colour"),
    ],
)
def test_each_problem_names_its_key(tmp_path: Path, patch: str, expected: str) -> None:
    replacement = {
        "discord.token": 'token = ""',
        "midjourney.auth_style": 'auth_style = "basic"',
        "midjourney.base_url": 'base_url = "ftp://example.com"',
        "midjourney.poll_interval_seconds": "guild_ids = [123]\n",
        "discord.colour": 'guild_ids = [123]\ncolour = "red"',
    }[expected]
    text = GOOD.replace(patch, replacement)
    if expected == "midjourney.poll_interval_seconds":
        text += "poll_interval_seconds = -1\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert len(caught.value.problems) == 1
    assert expected in caught.value.problems[0]


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[discord\n"))


def test_example_config_documents_every_key() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    text = example.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    for section, model in Settings.model_fields.items():
        annotation = model.annotation
        if not hasattr(annotation, "model_fields"):
            assert section in data, section
            continue
        assert section in data, f"[{section}] missing from config.example.toml"
        for key in annotation.model_fields:
            assert key in data[section], f"{section}.{key} missing from config.example.toml"


def test_readme_reference_lists_every_key_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    defaults = Settings.model_construct()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not hasattr(model, "model_fields"):
            assert f"| `{section}` |" in readme, section
            continue
        for key in model.model_fields:
            row = f"| `{section}.{key}` |"
            assert row in readme, f"{section}.{key} missing from README's configuration reference"
            value = getattr(getattr(defaults, section), key)
            if isinstance(value, bool | int | float) and not isinstance(value, SecretStr):
                shown = str(value).lower() if isinstance(value, bool) else str(value)
                line = next(line for line in readme.splitlines() if line.startswith(row))
                assert f"`{shown}`" in line, f"README shows a wrong default for {section}.{key}"


def test_weights_and_prices_name_known_actions(tmp_path: Path) -> None:
    text = GOOD + "[quota.weights]\nupscale_hd = 2\nvary_subtel = 3\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    [problem] = caught.value.problems
    assert "quota.weights" in problem and "vary_subtel" in problem and "upscale_hd," in problem


def test_every_button_that_can_be_charged_has_a_weightable_action() -> None:
    from bot.config import CHARGED_ACTIONS
    from bot.midjourney.custom_ids import ButtonAction, ButtonKind, accepted_by

    not_clicked_as_such = {
        ButtonKind.DESCRIBE_PICK,  # our own pick buttons start an imagine
        ButtonKind.DESCRIBE_ALL,
        ButtonKind.SHORTEN_PICK,
        ButtonKind.BOOKMARK,  # hidden
        ButtonKind.SHOW_DETAILS,
    }
    for kind in ButtonKind:
        if kind in not_clicked_as_such:
            continue
        if any(accepted_by(kind, backend) for backend in ("plus", "trueai", "new-api")):
            assert ButtonAction(raw="", kind=kind).weight_key in CHARGED_ACTIONS, kind


@pytest.mark.parametrize(("key", "value"), [("log_level", "VERBOSE"), ("log_format", "xml")])
def test_top_level_keys_are_validated_at_load(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f'{key} = "{value}"\n' + GOOD))
    [problem] = caught.value.problems
    assert problem.startswith(f"Setting '{key}' has value '{value}'; it must be one of ")


def test_log_level_and_format_ignore_case(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, 'log_level = "debug"\nlog_format = "JSON"\n' + GOOD))
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")


def test_an_error_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJBOT_MIDJOURNEY__POLL_INTERVAL_SECONDS", "-1")
    monkeypatch.setenv("MJBOT_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GOOD))
    assert caught.value.from_environment == [True, True]
    assert sorted(caught.value.problems) == [
        "Environment variable MJBOT_LOG_LEVEL (setting 'log_level') has value 'LOUD'; "
        "it must be one of 'DEBUG', 'INFO', 'WARNING' or 'ERROR'.",
        "Environment variable MJBOT_MIDJOURNEY__POLL_INTERVAL_SECONDS (setting "
        "'midjourney.poll_interval_seconds') must be greater than 0 (got '-1').",
    ]


def test_a_list_that_is_not_json_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJBOT_DISCORD__GUILD_IDS", "123,456")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GOOD))
    assert caught.value.problems == [
        "Environment variable MJBOT_DISCORD__GUILD_IDS (setting 'discord.guild_ids') is not "
        "valid JSON; write a list such as '[123456789012345678]'."
    ]
    assert caught.value.from_environment == [True]


def test_variables_that_match_no_setting_are_named() -> None:
    from bot.config import unknown_environment

    environ = {
        "MJBOT_DISCORD_TOKEN": "x",  # one underscore
        "MJBOT_DISCORD__TOKEN": "x",
        "MJBOT_QUOTA__WEIGHTS__UPSCALE_HD": "2",
        "mjbot_log_level": "INFO",
        "MJBOT_STORAGE": '{"path": "x"}',
        "PATH": "/bin",
    }
    [warning] = unknown_environment(environ)
    assert warning.startswith(
        "The environment variable MJBOT_DISCORD_TOKEN matches no setting "
        "(did you mean MJBOT_DISCORD__TOKEN?); it is ignored."
    )


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ("shard_count = 2\nshard_ids = [0, 2]", "from 0 to 1"),
        ("shard_count = 2\nshard_ids = [1, 1]", "twice"),
        ("shard_ids = [0]", "needs discord.shard_count"),
        ("shard_count = -1", "discord.shard_count"),
    ],
)
def test_shard_keys_are_checked_at_load(tmp_path: Path, lines: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            write(tmp_path, GOOD.replace("guild_ids = [123]", f"guild_ids = [123]\n{lines}"))
        )
    [problem] = caught.value.problems
    assert words in problem and "discord.shard" in problem


def test_shard_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJBOT_DISCORD__SHARD_COUNT", "4")
    monkeypatch.setenv("MJBOT_DISCORD__SHARD_IDS", "[3, 1]")
    settings = load_settings(write(tmp_path, GOOD))
    assert (settings.discord.shard_count, settings.discord.shard_ids) == (4, [3, 1])
    monkeypatch.setenv("MJBOT_DISCORD__SHARD_IDS", "[4]")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GOOD))
    [problem] = caught.value.problems
    assert "MJBOT_DISCORD__SHARD_IDS" in problem and "from 0 to 3" in problem


def test_default_is_automatic_sharding(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert (settings.discord.shard_count, settings.discord.shard_ids) == (0, [])
