"""The only package that imports SpiffWorkflow: template bundles, their validation and compilation, safe
expressions, the runtime and the migration of running workflows."""
