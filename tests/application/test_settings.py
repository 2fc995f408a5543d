"""Service settings: every documented setting can be set in a file or an environment variable,
mistakes are named with where they were made, and the settings cannot be changed once made."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from xinyong.application.settings import (
    SETTINGS,
    ServiceSettings,
    SettingsError,
    load_settings,
    parse_flags,
)
from xinyong.due_process.masking import (
    MaskingPolicy,
    OrganizationMask,
    PersonIdMask,
    PersonNameMask,
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_setting_loads_from_toml(tmp_path: Path) -> None:
    settings = load_settings(
        _write(
            tmp_path,
            "objection_days = 20\n"
            "objection_days_by_source = { court = 10, tax = 25 }\n"
            "suppress_on_lapse = false\n"
            "correction_window_days = 60\n"
            "grace_days = 14\n"
            "webhook_claim_seconds = 30\n"
            "repair_days = 10\n"
            "review_days = 12\n"
            "appeal_days = 9\n"
            "dispute_extension_days = 16\n"
            'masking = { person_id = "hidden", organization = "name-only" }\n'
            "session_minutes = 60\n"
            "rate_per_second = 5\n"
            "burst = 7\n"
            "threads = 4\n"
            'redis_url = "redis://127.0.0.1:6379/3"\n'
            "daily_refresh = false\n"
            "read_connections = 2\n"
            "ingest_process = false\n"
            "inquiry_checkpoint_seconds = 0.5\n"
            "max_body_bytes = 4096\n"
            "body_seconds = 5\n"
            "cache_seconds = 0.5\n"
            'signing_key = "/etc/xinyong/ledger.key"\n'
            'ledger_origin = "credit.example.gov.cn/ledger"\n',
        )
    )
    assert settings.objection_deadline("court") == 10
    assert settings.objection_deadline("bank") == 20
    assert settings.suppress_on_lapse is False
    assert (settings.correction_window_days, settings.grace_days) == (60, 14)
    assert settings.webhook_claim_seconds == 30.0
    assert (settings.repair_days, settings.session_minutes) == (10, 60)
    assert (settings.review_days, settings.appeal_days, settings.dispute_extension_days) == (
        12,
        9,
        16,
    )
    assert settings.masking == MaskingPolicy(
        person_id=PersonIdMask.HIDDEN, organization=OrganizationMask.NAME_ONLY
    )
    assert settings.rate_per_second == 5.0
    assert isinstance(settings.rate_per_second, float)
    assert (settings.burst, settings.threads, settings.cache_seconds) == (7, 4, 0.5)
    assert settings.ingest_process is False
    assert settings.inquiry_checkpoint_seconds == 0.5
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert (settings.daily_refresh, settings.read_connections) == (False, 2)
    assert (settings.max_body_bytes, settings.body_seconds) == (4096, 5.0)
    assert settings.signing_key == "/etc/xinyong/ledger.key"
    assert settings.ledger_origin == "credit.example.gov.cn/ledger"
    assert set(SETTINGS) == {
        "review_days",
        "appeal_days",
        "dispute_extension_days",
        "redis_url",
        "daily_refresh",
        "read_connections",
        "objection_days",
        "objection_days_by_source",
        "suppress_on_lapse",
        "correction_window_days",
        "grace_days",
        "webhook_claim_seconds",
        "repair_days",
        "masking",
        "session_minutes",
        "rate_per_second",
        "burst",
        "threads",
        "ingest_process",
        "inquiry_checkpoint_seconds",
        "max_body_bytes",
        "body_seconds",
        "cache_seconds",
        "signing_key",
        "ledger_origin",
        "witnesses",
    }


def test_a_witness_key_that_is_not_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="witnesses"):
        load_settings(_write(tmp_path, 'witnesses = ["nobody+00000000+AAAA"]\n'))


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_settings(_write(tmp_path, "")) == ServiceSettings()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("bogus = 1\n", "bogus"),
        ("grace_days = -3\n", "grace_days"),
        ("grace_days = true\n", "grace_days"),
        ('burst = "10"\n', "burst"),
        ("suppress_on_lapse = 1\n", "suppress_on_lapse"),
        ('objection_days_by_source = { court = "15" }\n', "objection_days_by_source"),
        ("grace_days = \n", "service.toml"),
        ('masking = { person_id = "last-two" }\n', "masking: person_id must be one of"),
        ('masking = "hidden"\n', "masking"),
    ],
)
def test_mistakes_name_the_file_and_setting(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_write(tmp_path, text))
    assert "service.toml" in str(error.value)
    assert named in str(error.value)


def test_a_missing_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"nothing\.toml"):
        load_settings(tmp_path / "nothing.toml")


def test_every_setting_is_described() -> None:
    for name in SETTINGS:
        assert ServiceSettings.model_fields[name].description, name


def test_the_clock_is_no_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="unknown setting 'today'"):
        load_settings(_write(tmp_path, 'today = "2030-01-01"\n'))
    monkeypatch.setenv("XINYONG_TODAY", "2030-01-01")
    assert load_settings().today == date.today
    assert ServiceSettings(today=lambda: date(2030, 1, 1)).today() == date(2030, 1, 1)


def test_variables_override_the_file_and_arguments_override_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "burst = 7\ngrace_days = 14\n")
    monkeypatch.setenv("XINYONG_BURST", "9")
    monkeypatch.setenv("xinyong_rate_per_second", "2.5")  # the names' case does not matter
    monkeypatch.setenv("XINYONG_OBJECTION_DAYS_BY_SOURCE", '{"tax": 20}')
    monkeypatch.setenv("XINYONG_MASKING", '{"person_name": "hidden"}')
    monkeypatch.setenv("XINYONG_SERVICE_SETTINGS", str(path))  # not a setting: ignored
    settings = load_settings(path)
    assert (settings.burst, settings.grace_days, settings.rate_per_second) == (9, 14, 2.5)
    assert settings.objection_deadline("tax") == 20
    assert settings.masking == MaskingPolicy(person_name=PersonNameMask.HIDDEN)
    assert load_settings().burst == 9  # the variables apply without a file too
    assert ServiceSettings(burst=3).burst == 3


@pytest.mark.parametrize(
    ("value", "named"),
    [("ten", "burst"), ("-1", "burst"), ('{"person_id": "last-two"}', "masking")],
)
def test_a_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch, value: str, named: str) -> None:
    monkeypatch.setenv(f"XINYONG_{named.upper()}", value)
    with pytest.raises(SettingsError, match=f"^XINYONG_{named.upper()}: {named}: "):
        load_settings()


def test_settings_cannot_change(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, "objection_days_by_source = { tax = 20 }\n"))
    with pytest.raises(ValidationError, match="frozen"):
        settings.burst = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.objection_days_by_source["tax"] = 1  # type: ignore[index]


def test_a_webhook_claim_shorter_than_a_send_is_refused(tmp_path: Path) -> None:
    """A claim must outlast a send (10 s), or a second worker would send the message while the
    first still waits for the webhook's answer."""
    with pytest.raises(SettingsError, match="webhook_claim_seconds"):
        load_settings(_write(tmp_path, "webhook_claim_seconds = 10\n"))


def test_flags_over_variables_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _write(tmp_path, "grace_days = 10\nrepair_days = 11\nreview_days = 12\n")
    monkeypatch.setenv("XINYONG_REPAIR_DAYS", "21")
    monkeypatch.setenv("XINYONG_REVIEW_DAYS", "22")
    flags = parse_flags(["review_days=32", 'masking={"person_id": "hidden"}'])
    settings = load_settings(file, flags)
    assert (settings.grace_days, settings.repair_days, settings.review_days) == (10, 21, 32)
    assert settings.masking.person_id is PersonIdMask.HIDDEN


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("grace_days", r"^--set grace_days: not NAME=VALUE$"),
        ("today=2030-01-01", r"^--set today=2030-01-01: unknown setting 'today'"),
        ("grace_dayz=3", r"unknown setting 'grace_dayz'"),
    ],
)
def test_a_flag_that_is_no_setting_is_refused(flag: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_flags([flag])


def test_a_bad_flag_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINYONG_GRACE_DAYS", "5")
    with pytest.raises(SettingsError, match=r"^--set grace_days: grace_days: .*not '-1'$"):
        load_settings(None, parse_flags(["grace_days=-1"]))


def test_a_retired_setting_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"inquiry_process is no longer a setting: .*remove"):
        load_settings(_write(tmp_path, "inquiry_process = true\n"))
    with pytest.raises(SettingsError, match=r"^--set inquiry_process=false: .*no longer"):
        parse_flags(["inquiry_process=false"])
