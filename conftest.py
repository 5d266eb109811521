"""Repository-wide pytest setup: deterministic hypothesis profiles.

`scripts/test` selects the `ci` profile (derandomized: the same examples every run), so CI is
reproducible. Set IOTC_TEST_PROFILE=dev for random exploration with more examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("IOTC_TEST_PROFILE", "ci"))
