"""Durability beyond one disk: continuous replication with Litestream, backup and restore.

This package uses the tenants' files and the journal from outside; nothing in the core imports
it. See docs/replication.md.
"""
