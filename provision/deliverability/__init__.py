"""`invoke check-deliverability`: every check a mail admin needs, with a report CI can gate on.

Each check is a small function over a `Target` (plain values plus a resolver)
that returns an `Outcome`; `runner` runs them concurrently with a deadline and
`report` renders the results as a table or as JSON (schema in report.schema.json).
"""
