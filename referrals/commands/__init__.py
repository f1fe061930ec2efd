"""The ``referrals`` sub-commands, one module per audience: the bureau's queries, running
the pipeline, the scorecard feed, partner agencies, generated inputs."""
