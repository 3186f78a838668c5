"""Running roadmaps: instances and their migration to a new version, tasks and who may act on them,
questionnaires, attachments, cohorts, template actions, live workflows, incidents, notifications, a task's
deadline schedule and the mail outbox."""
