from .rollup_models import *  # noqa: F403
