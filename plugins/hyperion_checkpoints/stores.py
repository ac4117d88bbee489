"""The two bundled checkpoint stores (hyperion_core.protocols.CheckpointStore).

DirectoryStore writes each checkpoint into a staging directory beside its final place and renames it
there, so a reader (a resumed trial, a job-array task on another node of a shared file system) sees a
whole checkpoint or none. FsspecStore stages in a local temporary directory and uploads it; the upload
is the commit (a half-uploaded checkpoint is never recorded, as its location is only returned after).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from hyperion_core.errors import ConfigurationError


class DirectoryStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.root = Path(url.removeprefix("file://")).expanduser().absolute()

    def stage(self, key: str) -> Path:
        final = self.root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.partial"
        staged.mkdir()
        return staged

    def commit(self, key: str, staged: Path) -> str:
        final = self.root / key
        if final.exists():  # the same step saved again (a trial resumed before it): the newer one wins
            old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(final, old)
            os.replace(staged, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staged, final)
        return str(final)

    def fetch(self, location: str) -> Path:
        path = Path(location)
        if not path.is_dir():
            raise FileNotFoundError(f"no checkpoint at {location}")
        return path

    def delete(self, location: str) -> None:
        path = Path(location)
        if path.is_dir() and self.root in path.parents:  # only ever inside the store
            shutil.rmtree(path)
            with contextlib.suppress(OSError):  # the trial's directory, once it holds no checkpoint
                path.parent.rmdir()


class FsspecStore:
    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:
            raise ConfigurationError(
                f"checkpoints={url!r} needs fsspec (and the file system's package, e.g. s3fs): "
                "pip install fsspec s3fs; or give a directory path"
            ) from None
        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(f"checkpoints={url!r}: {exc}") from exc
        self._fetched: dict[str, Path] = {}

    def stage(self, key: str) -> Path:
        return Path(tempfile.mkdtemp(prefix="hyperion-checkpoint-"))

    def commit(self, key: str, staged: Path) -> str:
        target = f"{self.root}/{key}"
        try:
            if self.fs.exists(target):
                self.fs.rm(target, recursive=True)
            self.fs.put(str(staged).rstrip("/") + "/", target, recursive=True)
        except OSError:
            raise
        except Exception as exc:  # a file system's own errors (botocore, gcsfs): the save fails, clearly
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return target

    def fetch(self, location: str) -> Path:
        if location in self._fetched and self._fetched[location].is_dir():
            return self._fetched[location]
        local = Path(tempfile.mkdtemp(prefix="hyperion-restore-"))
        try:
            self.fs.get(location.rstrip("/") + "/", str(local) + "/", recursive=True)
        except OSError:
            raise
        except Exception as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
        self._fetched[location] = local
        return local

    def delete(self, location: str) -> None:
        try:
            if self.fs.exists(location):
                self.fs.rm(location, recursive=True)
        except OSError:
            raise
        except Exception as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
