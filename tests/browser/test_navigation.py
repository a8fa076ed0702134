"""Browser: the app opens, every page of app.py's PAGES is in the navigation in order, and each page loads
without an error.

    python -m pytest tests/browser/test_navigation.py -q
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.harness import open_page, page_titles, wait_idle

pytestmark = pytest.mark.browser


def test_every_page_is_in_the_navigation_and_opens(page, review_app):
    titles = page_titles()
    open_page(page, review_app.url)
    links = page.get_by_test_id("stSidebarNavLink")
    expect(links.get_by_test_id("stMarkdownContainer")).to_have_text(titles)
    for title in titles:
        link = links.filter(has_text=title)
        link.click()
        expect(link).to_have_attribute("aria-current", "page")
        wait_idle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        expect(page.get_by_test_id("stMain").locator("h1, h2").first).to_be_visible()
