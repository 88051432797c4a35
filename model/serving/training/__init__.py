"""The training service, split by job: which live-training jobs run and who may control them (service.py),
what a Start may ask (settings.py), tokens, the per-caller limit and the teacher's key (access.py), where
jobs train (backend.py, the seam; local.py, a pool of training processes on this machine; ray_backend.py, the
same pool as actors on an existing Ray cluster, imported only when asked), and what it adds to the registry of
models (publishing.py: snapshots, loaded zips)."""
from .service import Job, TrainingService, checkpoint_meta, checkpoint_step
from .settings import checked_settings

__all__ = ["Job", "TrainingService", "checked_settings", "checkpoint_meta", "checkpoint_step"]
