"""What the training service adds to the registry of models: a run's snapshots, each as soon as its files
are whole, and model zips (Download this model, from any server) loaded by a page, kept in the runs folder so
they come back after a restart."""
from __future__ import annotations

import secrets
import sys
from pathlib import Path

from ...nets.limits import ExplorerError
from ...store.bundle import unpack_model
from ...store.weights import WeightsError
from ...training.control import read_json, write_json_compact

LOADED_NAME = "loaded.json"        # beside a model unpacked from a zip: the name it has in the picker


class Publisher:
    def __init__(self, registry, root: Path) -> None:
        self.registry, self.root = registry, Path(root)

    def snapshot(self, job, view: dict) -> None:
        """A new snapshot in the run folder becomes (or refreshes) the job's model in the picker."""
        version = int(view.get("model_version", 0) or 0)
        if version > job.model_version and (job.dir / "config.json").is_file():
            try:
                self.registry.add(job.model_name, job.dir, source="trained")
            except (WeightsError, ExplorerError, OSError) as e:
                job.message = f"the snapshot could not be opened: {e}"
                return
            job.model_version = version

    def load_zip(self, path, name: str) -> str:
        """A model zip as a model in every page's picker. name: already safe (letters, digits, . _ -)."""
        if name in self.registry and self.registry.entry(name).source == "shipped":
            raise ExplorerError(f"{name!r} is the name of a model shipped with this server: rename the zip")
        dest = self.root / f"loaded-{name}-{secrets.token_hex(3)}"
        unpack_model(path, dest)
        write_json_compact(dest / LOADED_NAME, {"name": name})
        self.registry.add(name, dest, source="trained")
        return name

    def reload_zips(self) -> None:
        """The zips loaded before a restart come back under their names."""
        for d in sorted(p for p in self.root.iterdir() if (p / LOADED_NAME).is_file()):
            name = read_json(d / LOADED_NAME).get("name")
            try:
                self.registry.add(str(name), d, source="trained")
            except (WeightsError, ExplorerError, OSError) as e:
                print(f"warning: skipping loaded model {d.name}: {e}", file=sys.stderr)
