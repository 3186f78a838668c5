"""Template versions (deploy, list), the template workspace (drafts, publishing) and version diffs."""
