from django.contrib.postgres.operations import BtreeGistExtension, TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """pg_trgm for the instant search, btree_gist for the no-double-booking constraint."""

    dependencies = [("clinic", "0001_initial")]

    operations = [TrigramExtension(), BtreeGistExtension()]
