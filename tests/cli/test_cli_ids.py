"""Tests for the ``xinyong id`` sub-app (xinyong.cli.ids)."""

from __future__ import annotations

from typer.testing import CliRunner

from xinyong.cli.ids import app

runner = CliRunner()


def test_check_valid_values() -> None:
    result = runner.invoke(app, ["check", "11010519491231002X", "91350100M000100Y43"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "11010519491231002X\tresident-id\t\t11010519491231002X",
        "91350100M000100Y43\tuscc\t\t91350100M000100Y43",
    ]


def test_check_reports_invalid_and_exits_1() -> None:
    result = runner.invoke(
        app, ["check", "11010519491231002x", "110105199913320021", "91350100M000100Y44"]
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        # The value is printed as given (lowercase x), then its kind and canonical form.
        "11010519491231002x\tresident-id\t\t11010519491231002X",
        "110105199913320021\tinvalid\tbad birth date 19991332\t",
        "91350100M000100Y44\tinvalid\tbad check character (expected '3', got '4')\t",
    ]


def test_a_value_with_spaces_inside_is_invalid_and_echoed_as_given() -> None:
    result = runner.invoke(
        app, ["check", "1101 0519 4912 3100 2X", "123", "１１０１０５１９４９１２３１００２ｘ"]
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "1101 0519 4912 3100 2X\tinvalid\tbad character ' ' at position 5\t",
        "123\tinvalid\twrong length (3, expected 18)\t",
        "１１０１０５１９４９１２３１００２ｘ\tresident-id\t\t11010519491231002X",
    ]


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "check" in result.output


def test_check_requires_a_value() -> None:
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
