"""The CLI's listener: a progress bar and a line per epoch on the terminal."""
from __future__ import annotations

from ..train.events import EpochEnded, EpochStarted, LogMessage, RunEnded, RunStarted, StepEnded


class RichProgress:
    """A progress bar and one line per epoch on the terminal (the CLI's listener)."""

    def __init__(self, console=None):
        from rich.console import Console
        self.console = console or Console(stderr=True)
        self.progress = None

    def __call__(self, event) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        if isinstance(event, RunStarted):
            self.console.print(f"device [bold]{event.device}[/bold], precision {event.precision}, "
                               f"{event.trainable:,} of {event.params:,} parameters trainable"
                               + (", [green]feature cache on[/green]" if event.feature_cache else ""))
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=self.console,
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("train", total=event.steps_per_epoch * event.epochs, info="")
        elif isinstance(event, EpochStarted) and event.message:
            self.console.print(f"epoch {event.epoch}: {event.message}")
        elif isinstance(event, StepEnded) and self.progress:
            self.progress.update(self.task, completed=event.step,
                                 description=f"epoch {event.epoch}", info=f"loss {event.values['loss']:.3f}")
        elif isinstance(event, EpochEnded):
            m = event.metrics
            parts = [f"{k.replace('target.', '')} {m[k]:.3f}" for k in
                     ("target.val.accuracy", "target.test.accuracy", "target.test.macro_f1") if k in m]
            self.console.print(f"epoch {event.epoch}: " + ", ".join(parts) + (" *" if event.best else "")
                               + f"  ({event.seconds:.1f} s)")
        elif isinstance(event, LogMessage):
            style = "yellow" if event.level == "warning" else "dim"
            self.console.print(f"[{style}]{event.text}[/{style}]")
        elif isinstance(event, RunEnded) and self.progress:
            self.progress.stop()
            if event.error:
                self.console.print(f"[red]{event.error}[/red]")
