"""OpenSpecimen-compatible scheduled jobs (/rest/ng/scheduled-jobs, /rest/ng/sessions).

A plain package, no models: a session is one of our personal API tokens with
an expiry, a job is a Schedule (its id is the schedule's pk), a run is a
JobRun. See specs/openspecimen.md for the wire contract and specs/README.md
for the decisions; `mapping` documents how repeat schedules map onto ours.
"""
