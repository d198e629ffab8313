"""Shared test setup: a non-interactive matplotlib backend, so figures never need a display."""

import matplotlib

matplotlib.use("Agg")
