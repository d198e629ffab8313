"""Tests for dlbook.session: the explorer mode and progress bars, both read from the environment."""

import pytest

from dlbook import session


@pytest.mark.parametrize(("env", "mode"), [(None, "live"), ("", "live"), ("live", "live"), ("static", "static")])
def test_mode(monkeypatch, env, mode):
    if env is None:
        monkeypatch.delenv(session.MODE_ENV, raising=False)
    else:
        monkeypatch.setenv(session.MODE_ENV, env)
    assert session.mode() == mode


@pytest.mark.parametrize("bad", ["STATIC", "html", "1"])
def test_bad_mode_raises_naming_the_variable(monkeypatch, bad):
    monkeypatch.setenv("DLBOOK_EXPLORERS", bad)
    with pytest.raises(ValueError, match=rf"^DLBOOK_EXPLORERS must be one of 'live', 'static'; got '{bad}'"):
        session.mode()


def test_progress_is_the_plain_iterable_in_headless_runs(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setenv(session.PROGRESS_ENV, "off")
    assert session.progress(items, desc="x") is items
    monkeypatch.setenv(session.PROGRESS_ENV, "on")
    monkeypatch.setenv(session.MODE_ENV, "static")  # the book build: no bars either
    assert session.progress(items, desc="x") is items


def test_progress_shows_a_bar_in_a_live_session(monkeypatch, capsys):
    monkeypatch.setenv(session.PROGRESS_ENV, "on")
    monkeypatch.setenv(session.MODE_ENV, "live")
    bar = session.progress(range(4), desc="training")
    assert list(bar) == [0, 1, 2, 3]
    assert "training" in capsys.readouterr().err  # tqdm's text bar outside Jupyter


def test_progress_bad_input(monkeypatch):
    with pytest.raises(TypeError, match="^desc must be a string"):
        session.progress([1], desc=3)
    monkeypatch.setenv(session.PROGRESS_ENV, "yes")
    with pytest.raises(ValueError, match="^DLBOOK_PROGRESS must be one of 'on', 'off'"):
        session.progress([1], desc="x")
