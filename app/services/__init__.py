"""Queries and rules, testable without HTTP. Services never commit: the caller does."""
