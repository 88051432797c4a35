"""The class view, a section of the Train tab: every run on this server in one live grid (assets/classview.js).
Each tile is a run's map thumbnail, its two terms as a sparkline, β, its state, its k-NN number and the name its
student typed at Start; a click opens the run's full live view above it. The page polls `class_view` with the
last "now" it got, so an unchanged tile comes back as {job, updated} only.

Anyone may watch. The teacher key (app.py --teacher-key, or VAE_TEACHER_KEY) is never sent to a page: a teacher
types it into the grid's password field, the page keeps it in memory and sends it with each action
(`class_teacher`), and the service checks it every time (model.serving.training.access.TeacherKey).
"""
from __future__ import annotations

import gradio as gr

from model.nets.limits import ExplorerError
from model.serving.training import TrainingService

from .runtime import PageRuntime
from .server import bind

TEACHER_ACTIONS = ("check", "pause", "resume", "stop", "stop_all", "clear_finished")

CLASS_TEMPLATE = (
    "<section class='vae-class' aria-labelledby='vae-class-title'>"
    "<h2 id='vae-class-title' class='vae-class-title'>The class: every run on this server</h2>"
    "<p class='vae-class-status' role='status'>Looking for runs…</p><p class='vae-class-legend'></p>"
    "<form class='vae-class-teacher' hidden><label>teacher key <input type='password' class='vae-class-key' "
    "autocomplete='off' spellcheck='false'></label> <button type='submit' class='vae-class-use'>Use the key"
    "</button> <button type='button' class='vae-class-stop-all' hidden>Stop all runs</button> "
    "<button type='button' class='vae-class-clear' hidden>Clear finished runs</button> "
    "<span class='vae-class-teacher-says' role='status'></span></form>"
    "<ul class='vae-class-grid' aria-label='the runs: open one to watch it above'></ul></section>")


class ClassView:
    """The grid's server functions and its one event (a tile opened)."""

    def __init__(self, service: TrainingService, runtime: PageRuntime) -> None:
        self.service, self.runtime = service, runtime

    def class_view(self, since) -> dict:
        """The page's last "now" (None at first) -> every run, whole where it changed since then."""
        try:
            return self.service.class_view(None if since is None else float(since))
        except (TypeError, ValueError):
            return self.service.class_view(None)

    def class_teacher(self, args) -> dict:
        """[key, action, job id or None] -> {ok: True, ...} or {ok: False, message}: the teacher's controls,
        refused without the server's teacher key. "check" only tests the key."""
        try:
            if not isinstance(args, (list, tuple)) or len(args) != 3:
                raise ExplorerError("send [key, action, job]")
            key, action, ref = args
            if action not in TEACHER_ACTIONS:
                raise ExplorerError(f"teacher actions: {', '.join(TEACHER_ACTIONS)}")
            if action == "check":
                self.service.teacher_key.check(key)
                return {"ok": True}
            return {"ok": True} | self.service.teacher(key, action, ref)
        except ExplorerError as e:
            return {"ok": False, "message": str(e)}

    def value(self, palette: list[str]) -> dict:
        return {"rules": {"palette": palette}}

    def build(self, palette: list[str]) -> gr.HTML:
        self.html = self.runtime.html(self.value(palette), CLASS_TEMPLATE, "classview.js", "class-view",
                                      extra_functions=[bind(ClassView.class_view, self),
                                                       bind(ClassView.class_teacher, self)])
        return self.html
