"""Shared fixtures of the MD tests."""

import jax
import pytest


@pytest.fixture(scope="module")
def x64():
    """float64 for a whole test module (parity with OpenMM's double-precision Reference platform)."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)
