"""How the chapter is being run: by a reader in Jupyter (live) or by the book build (static).

Two environment variables, read here and nowhere else:

* :data:`MODE_ENV` (``DLBOOK_EXPLORERS``): ``live`` (default: explorers show ipywidgets sliders) or
  ``static`` (``make book`` sets it: explorers output self-contained HTML with every frame).
* :data:`PROGRESS_ENV` (``DLBOOK_PROGRESS``): ``on`` (default) or ``off``.  Every headless execution of the
  chapters turns progress bars off (nbval through the root ``conftest.py``, ``make outputs``, and the book
  build, whose ``DLBOOK_EXPLORERS=static`` implies it), so no bar reaches the stored outputs or the pages.

Chapter: every chapter; introduced in ``book/ch01_gradient_descent.ipynb``.
"""

from __future__ import annotations

import os
from typing import Any

from dlbook._checks import check_choice

__all__ = ["MODE_ENV", "PROGRESS_ENV", "mode", "progress"]

#: Environment variable selecting the explorer mode: ``live`` (default) or ``static``.
MODE_ENV = "DLBOOK_EXPLORERS"
#: Environment variable for progress bars: ``on`` (default) or ``off``.
PROGRESS_ENV = "DLBOOK_PROGRESS"


def mode() -> str:
    """The explorer mode of this run, ``"live"`` or ``"static"``, from :data:`MODE_ENV` (unset or empty: live).

    Raises ``ValueError`` for any other value, naming the variable.

    Example:
      >>> mode() in ("live", "static")
      True

    Chapter: book/ch01_gradient_descent.ipynb
    """
    return check_choice(MODE_ENV, os.environ.get(MODE_ENV, "live") or "live", ("live", "static"))


def progress(iterable: Any, *, desc: str, total: int | None = None) -> Any:
    """``iterable`` with a progress bar for a reader running the chapter; the plain ``iterable`` when headless.

    The bar is ``tqdm.auto`` (a widget in Jupyter, text in a terminal) and is removed when the loop ends,
    so nothing is left in the notebook.  Headless runs are those with :data:`PROGRESS_ENV` ``off`` or
    :data:`MODE_ENV` ``static``.

    Args:
      iterable: what the loop goes over.
      desc: the bar's label.
      total: number of items, when ``len(iterable)`` is not defined.

    Example:
      >>> [x * x for x in progress(range(3), desc="squares")]
      [0, 1, 4]

    Chapter: book/ch01_gradient_descent.ipynb
    """
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a string, got {type(desc).__name__}")
    setting = check_choice(PROGRESS_ENV, os.environ.get(PROGRESS_ENV, "on") or "on", ("on", "off"))
    if setting == "off" or mode() == "static":
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False)
