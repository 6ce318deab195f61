"""The server's logging: uvicorn's, and the service's own `branchstats` logger beside it.

Without a handler of its own, the service's log went to Python's last resort: warnings
and above only, whatever LOG_LEVEL said, and without the level each line is of.
"""

import copy
from typing import Any

SERVICE_LOGGER = "branchstats"


def logging_config(level: str) -> dict[str, Any]:
    """uvicorn's configuration, the service's logger written as uvicorn's own lines
    (its handler and format), at `level` (a uvicorn level name: trace, debug, ...)."""
    from uvicorn.config import LOGGING_CONFIG  # the server's, not every module's import

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"][SERVICE_LOGGER] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config
