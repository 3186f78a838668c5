"""Stable operationIds of the API, for generated clients (openapi-python-client names its functions after
them: ``list_tasks.sync(client=…)``). Keyed by (blueprint, view, method); a view not listed here gets
``{method}_{blueprint}_{view}`` — unique, but say its name here when adding it, since renaming a view must not
rename a client's function."""

from __future__ import annotations

OPERATION_IDS: dict[tuple[str, str, str], str] = {
    # tasks
    ("api_tasks", "TaskList", "get"): "list_tasks",
    ("api_tasks", "area_tasks", "get"): "list_area_tasks",
    ("api_tasks", "TaskItem", "get"): "get_task",
    ("api_tasks", "save_draft", "put"): "save_task_draft",
    ("api_tasks", "complete", "post"): "complete_task",
    ("api_tasks", "claim", "post"): "claim_task",
    ("api_tasks", "release", "post"): "release_task",
    ("api_tasks", "candidates", "get"): "list_handover_candidates",
    ("api_tasks", "reassign", "post"): "reassign_task",
    ("api_task_forms", "choices", "get"): "list_field_choices",
    # templates, instances, cohorts
    ("api_templates", "TemplateList", "get"): "list_templates",
    ("api_templates", "TemplateList", "post"): "deploy_template",
    ("api_templates", "versions", "get"): "list_template_versions",
    ("api_instances", "start", "post"): "start_instance",
    ("api_instances", "read", "get"): "get_instance",
    ("api_cohorts", "start_cohort", "post"): "start_cohort",
    ("api_cohorts", "CohortDates", "get"): "get_cohort_dates",
    ("api_cohorts", "CohortDates", "put"): "set_cohort_dates",
    # org, status, me
    ("api_org", "schools", "get"): "list_schools",
    ("api_org", "import_file", "post"): "import_org",
    ("api_status", "counts", "get"): "get_status",
    ("api_status", "per_school", "get"): "list_school_status",
    ("api_status", "overdue", "get"): "list_overdue",
    ("api_me", "my_notifications", "get"): "list_notifications",
    ("api_me", "read_all", "post"): "mark_notifications_read",
    ("api_me", "Tokens", "get"): "list_tokens",
    ("api_me", "Tokens", "post"): "create_token",
    ("api_me", "revoke", "delete"): "revoke_token",
    # incidents
    ("api_incidents", "index", "get"): "list_incidents",
    ("api_incidents", "read", "get"): "get_incident",
    ("api_incidents", "retry", "post"): "retry_incident",
    # questionnaires
    ("api_questionnaires", "Links", "get"): "list_respondent_links",
    ("api_questionnaires", "Links", "post"): "create_respondent_links",
    ("api_questionnaires", "rates", "get"): "list_response_counts",
    ("api_questionnaires", "director", "post"): "submit_director_questionnaire",
    ("api_questionnaires", "director_form", "get"): "get_director_questionnaire",
    ("api_questionnaires", "link_form", "post"): "get_questionnaire_by_link",
    ("api_questionnaires", "respond", "post"): "submit_questionnaire_by_link",
    # documents
    ("api_documents", "Documents", "get"): "list_task_documents",
    ("api_documents", "Documents", "post"): "upload_task_document",
    ("api_documents", "download", "get"): "download_document",
    # operations (admins)
    ("api_admin", "calendar", "get"): "list_calendar_days",
    ("api_admin", "CalendarDay", "put"): "set_calendar_day",
    ("api_admin", "CalendarDay", "delete"): "reset_calendar_day",
    ("api_admin", "region_zone", "put"): "set_region_time_zone",
    ("api_admin", "CuratorPool", "get"): "list_curator_pool",
    ("api_admin", "CuratorPool", "post"): "add_to_curator_pool",
    ("api_admin", "pool_remove", "delete"): "remove_from_curator_pool",
    ("api_admin", "retire", "post"): "retire_template_version",
    ("api_admin", "restore", "post"): "restore_template_version",
    ("api_admin", "export", "get"): "export_template_version",
    ("api_admin", "diff", "get"): "diff_template_versions",
    ("api_admin", "migrate", "post"): "start_migration",
    ("api_admin", "migration", "get"): "get_migration",
    ("api_admin", "resume", "post"): "resume_migration",
    # managing running roadmaps
    ("api_roadmaps", "withdraw", "post"): "withdraw_roadmap",
    ("api_roadmaps", "preview", "get"): "preview_suspension",
    ("api_roadmaps", "suspend", "post"): "suspend_roadmaps",
    ("api_roadmaps", "resume", "post"): "resume_roadmaps",
    ("api_roadmaps", "curator", "post"): "change_curator",
    ("api_roadmaps", "send_back", "post"): "send_roadmap_back",
    ("api_roadmaps", "move_school", "post"): "move_school",
    ("api_roadmaps", "create_batch", "post"): "create_batch",
    ("api_roadmaps", "batches_list", "get"): "list_batches",
    ("api_roadmaps", "get_batch", "get"): "get_batch",
    ("api_roadmaps", "resume_batch", "post"): "resume_batch",
    ("api_school_merges", "merge", "post"): "merge_schools",
    # a school's roadmap of measures
    ("api_measures", "school_measures", "get"): "list_measures",
    ("api_measures", "update", "patch"): "update_measure",
    ("api_measures", "review", "post"): "review_measure",
    ("api_measures", "add", "post"): "propose_measure",
    ("api_measures", "agreement", "post"): "agree_measure",
    # the curator visit schedule
    ("api_visits", "school_visits", "get"): "list_visits",
    ("api_visits", "plan", "post"): "plan_visit",
    ("api_visits", "move", "post"): "move_visit",
    ("api_visits", "cancel", "post"): "cancel_visit",
    ("api_admin", "sweep_preview", "get"): "preview_deadline_sweep",
    # reports
    ("api_reports", "school_report", "get"): "download_school_report",
    ("api_reports", "municipality_summary", "get"): "download_municipality_summary",
    ("api_reports", "region_summary", "get"): "download_region_summary",
    ("api_reports", "ReportTemplate", "get"): "get_report_template",
    ("api_reports", "ReportTemplate", "put"): "replace_report_template",
    ("api_reports", "ReportTemplate", "delete"): "reset_report_template",
    ("api_reports", "template_file", "get"): "download_report_template",
    # webhooks
    ("api_webhooks", "Webhooks", "get"): "list_webhooks",
    ("api_webhooks", "Webhooks", "post"): "create_webhook",
    ("api_webhooks", "WebhookItem", "get"): "get_webhook",
    ("api_webhooks", "WebhookItem", "patch"): "update_webhook",
    ("api_webhooks", "WebhookItem", "delete"): "delete_webhook",
    ("api_webhooks", "test", "post"): "send_test_webhook",
    ("api_webhooks", "deliveries", "get"): "list_webhook_deliveries",
    ("api_webhooks", "redeliver", "post"): "redeliver_webhook_delivery",
}


def operation_id(blueprint: str, view: str, method: str) -> str:
    return OPERATION_IDS.get((blueprint, view, method)) or f"{method}_{blueprint.removeprefix('api_')}_{view}".lower()
