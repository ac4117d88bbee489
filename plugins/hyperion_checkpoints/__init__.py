"""Bundled checkpoint stores: a local or shared directory (plain paths and file:// URLs), and any other
URL (s3://, gs://, memory://, ...) through fsspec where it is installed."""

from hyperion_core.hookspecs import Register, hookimpl
from hyperion_core.plugins import lazy


@hookimpl
def register_checkpoint_stores(register: Register) -> None:
    register("file", lazy("hyperion_checkpoints.stores:DirectoryStore"))
    register("*", lazy("hyperion_checkpoints.stores:FsspecStore"))
