"""``makemessages`` without fuzzy matching: msgmerge's guesses ("Recall" → 电话, copied from
"Phone call") are wrong more often than right in a catalogue of short labels, and a fuzzy
entry silently shows English until someone notices. A new string comes in empty, and
tests/clinic/test_i18n.py asks for its translation."""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
