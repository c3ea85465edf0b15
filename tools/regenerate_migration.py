"""Rewrite the initial migration from the models (allowed only until the first release).

Until orderbridge has been released, its whole schema is one Alembic revision, 0001, generated from
the models registered in `orderbridge.schema`. After the first release every change gets its own
revision instead, and this tool is removed.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from alembic import command

from orderbridge.db_admin import MIGRATIONS, alembic_config

MESSAGE = "the schema"


def main() -> None:
    versions = MIGRATIONS / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as scratch:
        config = alembic_config(f"sqlite:///{Path(scratch) / 'empty.db'}")
        command.revision(config, message=MESSAGE, autogenerate=True, rev_id="0001")
    (generated,) = versions.glob("0001_*.py")
    text = generated.read_text()
    # Alembic renders JSONB's astext_type without its module prefix.
    text = re.sub(r"astext_type=Text\(\)", "astext_type=sa.Text()", text)
    generated.write_text(text)
    print(f"wrote {generated}")


if __name__ == "__main__":
    main()
