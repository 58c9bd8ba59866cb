"""Per-language overrides of Django's locale formats (``FORMAT_MODULE_PATH``).

Only the input formats are overridden: the first one is what a form widget renders, and an
``<input type="date">`` / ``type="time"`` accepts nothing but ISO values. The other formats
still parse what people type (e.g. 1995/11/20), and display formats stay Django's.
"""

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]
TIME_INPUT_FORMATS = ["%H:%M:%S", "%H:%M:%S.%f", "%H:%M"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
]
