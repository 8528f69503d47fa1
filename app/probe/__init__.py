"""The live probe: read-only collectors, pure checks and a runner for S3 encryption at rest."""
