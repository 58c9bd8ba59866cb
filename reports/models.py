from .cashup_models import *  # noqa: F403
from .close_models import *  # noqa: F403
from .export_models import *  # noqa: F403
from .rollup_models import *  # noqa: F403
