"""`safechat migrate-from-node`: the old Node service's database moved into SafeChat's.

The rules live here; the command (safechat/commands.py) opens the source reader
(adapters/node_source.py) and the target repository (repositories/migration.py) and
hands them to `migrate`. docs/migration.md is the operator's guide.
"""

from safechat.services.migration.report import MigrationReport
from safechat.services.migration.run import migrate

__all__ = ["MigrationReport", "migrate"]
