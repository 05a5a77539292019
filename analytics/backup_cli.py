"""``vigil backup DEST`` and ``vigil restore SRC``: a consistent copy of a live store, and bringing it back.

Examples::

    vigil backup /backups/vigil-2026-12-06            # while the app and ingests run
    vigil restore /backups/vigil-2026-12-06           # back where it was taken from (refuses to replace)
    vigil restore /backups/vigil-2026-12-06 --force   # replace the store (the old one is moved aside)
    vigil restore /backups/vigil-2026-12-06 --to /srv/vigil/vigil.duckdb

Both act as the owner of the store's files (:func:`analytics.cli_identity.store_owner`, like ``vigil
init``), not as a person: whoever can read the files can copy them anyway, and only their owner can put
files back. Both are audited as the owner. See docs/backup.md.
"""

from __future__ import annotations

import argparse

from pathlib import Path

from analytics import backup
from analytics.cli_identity import store_owner
from analytics.cli_support import store_path


def cmd_backup(args: argparse.Namespace) -> int:
    db = store_path(args)
    print(backup.backup(db, args.destination, store_owner(db)).summary())
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    target = Path(args.to) if args.to else backup.BackupManifest.read(Path(args.source)).source
    print(backup.restore(args.source, store_owner(target), to=args.to, force=args.force).summary())
    return 0


def add_commands(sub) -> None:
    """Add ``vigil backup`` and ``vigil restore``."""
    p = sub.add_parser("backup", help="copy the store, its logs and anchor into a new folder (safe while it runs)",
                       description="Take a consistent copy of the store (--db): the store file and its audit anchor "
                                   "under the store's lock, then its log segments and artifacts. The audit key is "
                                   "never copied. Audited.")
    p.add_argument("destination", metavar="DEST", help="a new (or empty) folder to hold the backup")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="bring a backup back (refuses to replace a store without --force)",
                       description="Check a backup against its manifest and move it into place: by default where it "
                                   "was taken from. An existing store is replaced only with --force and is then "
                                   "moved aside, not deleted. Audited in the restored store.")
    p.add_argument("source", metavar="SRC", help="the backup folder (made by 'vigil backup')")
    p.add_argument("--to", metavar="PATH", help="the store file to restore to (default: where the backup was taken from)")
    p.add_argument("--force", action="store_true", help="replace an existing store at the target")
    p.set_defaults(func=cmd_restore)
