"""The audit log: every change appended with who, when, what and before/after, hash-chained."""
