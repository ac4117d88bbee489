"""See a study: `hyperion dashboard` (a read-only web UI), `hyperion report` (one HTML file) and
`hyperion.plot` (the same figures from Python). Needs the `dashboard` extra; see docs/dashboard.md."""
