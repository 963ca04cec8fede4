// The oracle: runs baton's checks (feature_list.json form) with Playwright against the same
// Chromium and prints each feature's verdict as JSON, for the verify crate's oracle test.
// Usage: node playwright_oracle.js <features.json> <base-url> <action-timeout-ms>
// playwright-core is loaded from $BATON_PLAYWRIGHT_DIR (scripts/setup-playwright.sh).
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.env.BATON_PLAYWRIGHT_DIR || path.join(process.env.HOME || '', '.cache/baton/playwright');
const { chromium } = require(path.join(dir, 'node_modules', 'playwright-core'));

const [featuresPath, baseUrl, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg);
const executablePath = process.env.BATON_CHROMIUM || '/usr/bin/chromium';

const join = (target) => {
  if (/^https?:\/\//.test(target)) return target;
  if (target.startsWith('#') || target.startsWith('?')) return baseUrl.split('#')[0] + target;
  return baseUrl.replace(/[#?].*$/, '').replace(/\/+$/, '') + '/' + target.replace(/^\/+/, '');
};

const matcher = (m) => {
  if ('contains' in m) return (t) => t.includes(m.contains);
  if ('equals' in m) return (t) => t.trim() === m.equals.trim();
  const re = new RegExp(m.regex);
  return (t) => re.test(t);
};

// Retry `probe` until it returns true, as Playwright's web-first assertions do.
async function poll(what, probe) {
  const deadline = Date.now() + timeout;
  let last = '';
  for (;;) {
    try { if (await probe()) return; } catch (e) { last = e.message.split('\n')[0]; }
    if (Date.now() > deadline) throw new Error(what + (last ? ': ' + last : ''));
    await new Promise((r) => setTimeout(r, 50));
  }
}

// baton acts on the first visible match; in Playwright that is `>> visible=true` then first().
const firstVisible = (page, sel) => page.locator(sel).locator('visible=true').first();
const textOf = (els) => els.map((el) => (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) ? el.value : (el.innerText ?? el.textContent ?? ''));

async function run(page, check, errors) {
  const [kind] = Object.keys(check);
  const arg = check[kind];
  const opts = { timeout };
  switch (kind) {
    case 'goto': return page.goto(join(arg), { waitUntil: 'load' });
    case 'click': return firstVisible(page, arg).click(opts);
    case 'dblclick': return firstVisible(page, arg).dblclick(opts);
    case 'hover': return firstVisible(page, arg).hover(opts);
    case 'check': return firstVisible(page, arg).check(opts);
    case 'uncheck': return firstVisible(page, arg).uncheck(opts);
    case 'fill': return firstVisible(page, arg.selector).fill(arg.text, opts);
    case 'press':
      if (arg.selector) return firstVisible(page, arg.selector).press(arg.key, opts);
      return page.keyboard.press(arg.key);
    case 'select': return firstVisible(page, arg.selector).selectOption(arg.value, opts);
    case 'wait_for': {
      const sel = typeof arg === 'string' ? arg : arg.selector;
      const ms = typeof arg === 'string' ? timeout : (arg.timeout_ms || timeout);
      return firstVisible(page, sel).waitFor({ state: 'attached', timeout: ms });
    }
    case 'reload': return arg ? page.reload({ waitUntil: 'load' }) : undefined;
    case 'expect_visible': return firstVisible(page, arg).waitFor({ state: 'attached', timeout });
    case 'expect_hidden': return poll('visible', async () => (await page.locator(arg).locator('visible=true').count()) === 0);
    case 'expect_count': return poll('count', async () => (await page.locator(arg.selector).count()) === arg.equals);
    case 'expect_text': {
      const ok = matcher(arg);
      return poll('text', async () => (await page.locator(arg.selector).evaluateAll(textOf)).some(ok));
    }
    case 'expect_url': { const ok = matcher(arg); return poll('url', async () => ok(page.url())); }
    case 'expect_value': {
      const ok = matcher(arg);
      return poll('value', async () => ok(await page.locator(arg.selector).first().inputValue({ timeout: 100 })));
    }
    case 'expect_checked': {
      const sel = typeof arg === 'string' ? arg : arg.selector;
      const want = typeof arg === 'string' ? true : arg.checked;
      return poll('checked', async () => (await page.locator(sel).first().isChecked({ timeout: 100 })) === want);
    }
    case 'expect_enabled': return poll('enabled', () => page.locator(arg).first().isEnabled({ timeout: 100 }));
    case 'expect_disabled': return poll('disabled', () => page.locator(arg).first().isDisabled({ timeout: 100 }));
    case 'expect_attribute': {
      const ok = matcher(arg);
      return poll('attribute', async () => {
        const value = await page.locator(arg.selector).first().getAttribute(arg.name, { timeout: 100 });
        return value !== null && ok(value);
      });
    }
    case 'expect_no_console_errors':
      if (arg && errors.length) throw new Error(errors.join(' | '));
      return undefined;
    case 'screenshot': return page.screenshot();
    default: throw new Error('the oracle does not know the check ' + kind);
  }
}

(async () => {
  const raw = JSON.parse(fs.readFileSync(featuresPath, 'utf8'));
  const features = Array.isArray(raw) ? raw : raw.features;
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--headless=new'],
  });
  const verdicts = [];
  for (const feature of features) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);
    page.setDefaultNavigationTimeout(10000);
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    const checks = feature.checks || [];
    const steps = checks.length && !('goto' in checks[0]) ? [{ goto: '/' }, ...checks] : checks;
    const offset = steps.length - checks.length;
    let verdict = { id: feature.id, outcome: 'passed', index: null, error: null };
    for (let i = 0; i < steps.length; i++) {
      try {
        await run(page, steps[i], errors);
      } catch (e) {
        verdict = { id: feature.id, outcome: 'failed', index: Math.max(i - offset, 0), error: e.message.split('\n').slice(0, 3).join(' ') };
        break;
      }
    }
    verdicts.push(verdict);
    await context.close();
  }
  await browser.close();
  process.stdout.write(JSON.stringify(verdicts) + '\n');
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
