"""Every web route that changes state has an API equivalent (by operationId) or is listed, with a reason, as
web-only (issue 17: what a person can do in the browser, an integration can do through /api/v1). A new state-changing
page without either fails here."""

from __future__ import annotations

from engine.db import Database
from web.app import create_app

API_EQUIVALENT = {
    "auth.tokens": "create_token",  # and revoke_token
    "admin.calendar_add": "set_calendar_day",
    "admin.calendar_remove": "reset_calendar_day",
    "admin.cohort_dates": "set_cohort_dates",
    "admin.region_zone": "set_region_time_zone",
    "incidents_admin.retry": "retry_incident",
    "migrations_admin.start": "start_migration",
    "migrations_admin.resume": "resume_migration",
    "templates_admin.retire": "retire_template_version",
    "templates_admin.restore": "restore_template_version",
    "templates_admin.import_new": "deploy_template",  # the API deploys a bundle at once; the page drafts it first
    "curators.add": "add_to_curator_pool",
    "curators.remove": "remove_from_curator_pool",
    "tasks.submit": "complete_task",  # and save_task_draft
    "tasks.claim": "claim_task",
    "tasks.release": "release_task",
    "tasks.hand_over": "reassign_task",
    "tasks.upload": "upload_task_document",
    "tasks.mark_read": "mark_notifications_read",
    "questionnaires.manage": "create_respondent_links",
    "questionnaires.director": "submit_director_questionnaire",
    "questionnaires.respond": "submit_questionnaire_by_link",
    "management.withdraw": "withdraw_roadmap",
    "management.suspension": "suspend_roadmaps",  # and resume_roadmaps
    "management.curator": "change_curator",
    "management.send_back": "send_roadmap_back",
    "management.move": "move_school",
    "management.batch_start": "create_batch",  # the page's dry run: create_batch with dry_run
    "management.batch_confirm": "create_batch",  # the confirmed run: create_batch with the dry run's schools
    "management.batch_resume": "resume_batch",
    "management.merge": "merge_schools",
    "measures.update": "update_measure",
    "measures.review": "review_measure",
    "measures.add": "propose_measure",
    "measures.agreement": "agree_measure",
    "visits.plan": "plan_visit",
    "visits.move": "move_visit",
    "visits.cancel": "cancel_visit",
    "reports.template_upload": "replace_report_template",
    "reports.template_reset": "reset_report_template",
    "webhooks_admin.create": "create_webhook",
    "webhooks_admin.update": "update_webhook",
    "webhooks_admin.delete": "delete_webhook",
    "webhooks_admin.test": "send_test_webhook",
    "webhooks_admin.redeliver": "redeliver_webhook_delivery",
}

WEB_ONLY = {
    "auth.login": "a browser session; the API authenticates each request with a bearer token",
    "auth.logout": "ends the browser session; a token is revoked with revoke_token",
    "auth.password": "a person's own password is typed by that person, not by an integration",
    "admin.reset": "shows a new password to the admin on screen; passwords are not handed to integrations",
    # The template editor: a person edits a draft file by file in the browser; an integration builds the bundle
    # itself and deploys it at once (deploy_template), compares versions (diff_template_versions) and exports
    # one (export_template_version).
    "templates_admin.open_draft": "the browser's template editor (an integration deploys a whole bundle)",
    "templates_admin.discard": "the browser's template editor (an integration deploys a whole bundle)",
    "templates_admin.deploy": "the browser's template editor; the API's deploy_template deploys a bundle",
    "templates_admin.save_file": "the browser's template editor (an integration deploys a whole bundle)",
    "templates_admin.save_file_form": "the browser's template editor (an integration deploys a whole bundle)",
    "templates_admin.add_form": "the browser's template editor (an integration deploys a whole bundle)",
    "templates_admin.delete_form": "the browser's template editor (an integration deploys a whole bundle)",
    "templates_admin.import_draft": "the browser's template editor (an integration deploys a whole bundle)",
    # A draft's trial run: a person fills its forms one by one in the browser; the console runs a file of steps
    # (`roadmap templates simulate`). Nothing it does is kept but the person's own inputs.
    "simulation_admin.start": "a person's trial run of a draft in the browser (the console: templates simulate)",
    "simulation_admin.fill": "a person's trial run of a draft in the browser (the console: templates simulate)",
    "simulation_admin.clock": "a person's trial run of a draft in the browser (the console: templates simulate)",
}

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_state_changing_web_route_has_an_api_equivalent_or_a_reason(db: Database) -> None:
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "parity"})
    document = app.test_client().get("/api/v1/openapi.json").json
    assert document is not None
    operations = {op["operationId"] for ops in document["paths"].values() for method, op in ops.items()
                  if method != "parameters"}
    web = {rule.endpoint for rule in app.url_map.iter_rules()
           if (rule.methods or set()) & CHANGING and not rule.rule.startswith("/api/")}
    missing = sorted(web - set(API_EQUIVALENT) - set(WEB_ONLY))
    assert not missing, f"state-changing web routes with neither an API equivalent nor a reason: {missing}"
    assert not set(API_EQUIVALENT) & set(WEB_ONLY)
    unknown = {endpoint: op for endpoint, op in API_EQUIVALENT.items() if op not in operations}
    assert not unknown, f"API equivalents that are not operations of /api/v1: {unknown}"
    stale = sorted((set(API_EQUIVALENT) | set(WEB_ONLY)) - web)
    assert not stale, f"listed routes that no longer exist or no longer change state: {stale}"
