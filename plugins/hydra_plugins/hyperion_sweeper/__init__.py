"""Hyperion as a Hydra sweeper (`pip install 'hyperion-tune[hydra]'`, then `hydra/sweeper=hyperion`).

Each trial is the app itself, run as a program (`hyperion.Command`) with the trial's overrides: a free slot
gets the next trial at once (no batches), any Hyperion strategy proposes it, and the app's
`hyperion.report {...}` lines reach early stopping, which ends the trial's process group. The task
function's return value is the trial's result (a callback prints it as `hyperion.result`).
"""
