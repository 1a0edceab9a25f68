// End-to-end test of modelwrap's /docs page in Debian's headless Chromium (playwright-core; no
// browser download): opens the page, checks that every route of the OpenAPI document is listed,
// enters an API key, runs a prediction from the page and checks the answer, saves a screenshot.
// Every request the page makes must go to the server itself (no CDN) and the page must log no
// error (a Content-Security-Policy violation included).
//
// Usage: node docs-e2e.mjs --base http://127.0.0.1:PORT --key KEY --routes FILE --screenshot PNG
//   --routes: JSON list of "METHOD /path" the page must show.
// Prints a JSON summary on stdout; exit 0 on success, 1 with the reason otherwise.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    if (!a[i].startsWith('--') || a[i + 1] === undefined) {
      throw new Error('bad argument ' + a[i]);
    }
    out[a[i].slice(2)] = a[i + 1];
  }
  for (const need of ['base', 'key', 'routes', 'screenshot']) {
    if (!out[need]) {
      throw new Error('missing --' + need);
    }
  }
  return out;
}

const IRIS = { data: [{ sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 }] };
const TIMEOUT = Number(process.env.MW_BROWSER_TIMEOUT_MS || 30000);

async function main() {
  const opt = args();
  const expected = JSON.parse(readFileSync(opt.routes, 'utf8'));
  const origin = new URL(opt.base).origin;
  const problems = [];
  const browser = await chromium.launch({
    executablePath: process.env.MW_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
      '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(TIMEOUT);
    // The one expected failure: the first /openapi.json without a key when authentication is on
    // (the page then asks for the key). Chromium logs it as a console error too.
    const failed = [];
    page.on('response', (r) => {
      if (r.status() >= 400) {
        failed.push(r.status() + ' ' + new URL(r.url()).pathname);
      }
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of 401/.test(msg.text())) {
        problems.push('console error: ' + msg.text());
      }
    });
    page.on('pageerror', (err) => problems.push('page error: ' + err.message));
    // Offline: anything not from the server itself is refused and reported.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin + '/') || url.startsWith('data:')) {
        return route.continue();
      }
      problems.push('request outside the server: ' + url);
      return route.abort();
    });

    const resp = await page.goto(opt.base + '/docs', { waitUntil: 'load' });
    if (!resp || resp.status() !== 200) {
      throw new Error('GET /docs answered ' + (resp && resp.status()));
    }
    const csp = resp.headers()['content-security-policy'] || '';
    if (!csp.includes("default-src 'none'") || csp.includes('unsafe-inline') || csp.includes('unsafe-eval')) {
      throw new Error('weak or missing Content-Security-Policy: ' + csp);
    }

    // With authentication on, the page asks for a key before it can load the API description.
    const form = page.locator('#mw-key-form');
    await page.waitForFunction(() => document.querySelector('.opblock') ||
      !document.getElementById('mw-key-form').hidden);
    let keyForm = false;
    if (await form.isVisible()) {
      keyForm = true;
      await page.fill('#mw-api-key', opt.key);
      await page.click('#mw-key-submit');
    }
    await page.waitForSelector('.opblock');

    // Every route is listed.
    const shown = await page.$$eval('.opblock', (blocks) => blocks.map((b) => {
      const m = b.querySelector('.opblock-summary-method');
      const p = b.querySelector('.opblock-summary-path');
      return (m ? m.textContent.trim() : '?') + ' ' +
        (p ? (p.getAttribute('data-path') || p.textContent).replace(/\u200b/g, '').trim() : '?');
    }));
    const missing = expected.filter((r) => !shown.includes(r));
    if (missing.length) {
      throw new Error('routes missing from the page: ' + missing.join(', ') + '; shown: ' + shown.join(', '));
    }

    // Enter the API key in the Authorize dialog (X-API-Key).
    await page.click('.auth-wrapper .authorize');
    const dialog = page.locator('.modal-ux');
    await dialog.waitFor();
    const section = dialog.locator('.auth-container', { hasText: 'ApiKeyHeader' });
    if (await section.locator('input').count() > 0) {
      await section.locator('input').fill(opt.key);
      await section.locator('button.authorize').click();
    }
    // Authorized (already, or just now): the section offers to log out.
    await section.locator('button', { hasText: 'Logout' }).waitFor();
    await section.locator('button.btn-done').click();
    await dialog.waitFor({ state: 'detached' });

    // Run a prediction from the page.
    const op = page.locator('.opblock-post', {
      has: page.locator('.opblock-summary-path[data-path="/api/v1/predict"]'),
    });
    await op.locator('.opblock-summary').first().click();
    await op.locator('.try-out__btn').click();
    await op.locator('textarea.body-param__text').fill(JSON.stringify(IRIS, null, 2));
    await op.locator('button.execute').click();
    const live = op.locator('.live-responses-table .response');
    await live.first().waitFor();
    const status = (await live.first().locator('.response-col_status').textContent()).trim();
    const body = (await op.locator('.live-responses-table .response-col_description pre').first().textContent());
    if (status !== '200') {
      throw new Error('the prediction from the page answered ' + status + ': ' + body);
    }
    const answer = JSON.parse(body);
    if (!answer.predictions || answer.predictions.length !== 1 || !answer.predictions[0].label) {
      throw new Error('unexpected prediction: ' + body);
    }
    // The picture: the operation with the live answer, as a person sees it.
    await op.locator('.live-responses-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: opt.screenshot });
    const expectedFailures = keyForm ? ['401 /openapi.json'] : [];
    if (JSON.stringify(failed) !== JSON.stringify(expectedFailures)) {
      problems.push('unexpected HTTP errors: ' + failed.join(', '));
    }
    if (problems.length) {
      throw new Error(problems.join('; '));
    }
    console.log(JSON.stringify({ ok: true, key_form: keyForm, routes: shown.length, status: Number(status), label: answer.predictions[0].label }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error('docs e2e failed: ' + (err && err.stack ? err.stack : err));
  process.exit(1);
});
