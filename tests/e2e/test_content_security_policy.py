"""The Content-Security-Policy in a real browser: the interactive API docs still work under it (their set-up
script moved out of the page), and an inline script injected into a page is refused. The ``page`` fixture
fails any test whose pages had something refused, so every browser test checks its own pages too."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer, csp_violations


def test_the_api_docs_work_under_the_policy(page: Page, live: LiveServer) -> None:
    page.goto(f"{live.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Roadmap API")
    expect(page.locator(".opblock-tag").first).to_be_visible()  # the operations, read from openapi.json


def test_an_injected_inline_script_is_refused(browser: Browser, live: LiveServer) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        refused = csp_violations(page)
        page.goto(f"{live.url}/login")
        page.evaluate("""() => {
            const script = document.createElement('script');
            script.textContent = 'window.injected = true';
            document.body.appendChild(script);
        }""")
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.injected === undefined")
        assert refused and "script-src 'self'" in refused[0]
    finally:
        context.close()
