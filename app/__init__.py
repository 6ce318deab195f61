"""branchstats: statistics about local party organizations, each figure with its source."""
