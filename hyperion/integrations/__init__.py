"""Callbacks that connect training frameworks to a trial: each reports the framework's metrics with
`ctx.report(step, ...)` every round or epoch, and ends training the framework's way once
`ctx.should_stop()` turns true (the trial is then recorded as killed at that step).

One module per framework, each importing its framework only when you import it:
`hyperion.integrations.lightgbm`, `.xgboost`, `.keras`, `.lightning`, `.transformers`, `.sklearn`.
"""
