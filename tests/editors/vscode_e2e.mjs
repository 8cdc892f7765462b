// Plays a VS Code user in code-server through headless Chromium (playwright-core), for
// tests/test_editors_vscode_e2e.py. Reads a JSON plan (argv[2]), writes a JSON report (argv[3]).
//
// The plan: { url, playwright (path of playwright-core), chromium, file (name in the explorer),
//   modelName, steps: [{ type, expectWords, accept, screenshot }], statusCommand, screenshotDir },
//   or, instead of the steps, missingServer or failingServer (see below).
// Each step types `type` at the end of the document, waits for the suggest widget to show
// `expectWords` (the model's order, computed by the test), records every row, optionally
// screenshots it, and accepts the item at index `accept` (ArrowDown n times, then Tab: in
// Markdown the extension leaves Enter to the line break).
// `prose` (instead of, or before, the steps) writes as a person writes a note: each of its
// `lines` typed, a pause for a list to open if one will, then Enter, recording what the list
// and the ghost text showed; then `unsure` typed, a pause, the list and ghost text recorded and
// screenshot (`screenshot`), and Escape, recording the ghost text after it; then the `ghost`
// lines, each on a new line, until ghost text shows on one, and Escape.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const reportPath = process.argv[3];
const require = createRequire(import.meta.url);
const { chromium } = require(plan.playwright);

const report = { steps: [], console: [], errors: [], statusBar: [], notifications: [] };
const save = () => writeFileSync(reportPath, JSON.stringify(report, null, 2));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) {
        return last;
      }
    } catch (error) {
      if (String(error).includes('training failed')) {
        throw error;
      }
      last = String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    }
    await sleep(150);
  }
}

async function suggestRows(page) {
  return page.evaluate(() => {
    const widget = document.querySelector('.editor-widget.suggest-widget.visible');
    if (!widget) {
      return null;
    }
    const text = (el) => (el ? el.textContent.replace(/\u00a0/g, ' ').trim() : '');
    return [...widget.querySelectorAll('.monaco-list-row')]
      .map((row) => ({
        index: Number(row.getAttribute('data-index')),
        label: text(row.querySelector('.label-name')),
        detail: text(row.querySelector('.details-label')),
        qualifier: text(row.querySelector('.label-description')),
        ariaLabel: row.getAttribute('aria-label') || '',
        focused: row.classList.contains('focused'),
      }))
      .sort((a, b) => a.index - b.index);
  });
}

async function ghostText(page) {
  return page.evaluate(() => {
    const parts = [...document.querySelectorAll('.editor-instance .monaco-editor [class*="ghost-text"]')];
    const text = parts.map((el) => el.textContent).join('').trim();
    return text || null;
  });
}

async function writeProse(page, editor, prose) {
  const settle = prose.settleMs ?? 1500;
  report.prose = { lines: [] };
  for (const line of prose.lines) {
    await page.keyboard.type(line, { delay: 40 });
    await sleep(settle); // a list opens now if it will: Enter must write a line break all the same
    const rows = await suggestRows(page);
    report.prose.lines.push({ line, listAtEnter: rows ? rows.map((r) => r.label) : null, ghostAtEnter: await ghostText(page) });
    await page.keyboard.press('Enter');
  }
  await page.keyboard.type(prose.unsure, { delay: 40 });
  await sleep(settle);
  const rows = await suggestRows(page);
  report.prose.unsure = { typed: prose.unsure, list: rows ? rows.map((r) => r.label) : null, ghost: await ghostText(page) };
  const box = await editor.boundingBox();
  await page.screenshot({ path: prose.screenshot, clip: { x: box.x, y: box.y, width: Math.min(box.width, 760), height: Math.min(box.height, 300) } });
  await page.keyboard.press('Escape');
  await sleep(500);
  report.prose.unsure.ghostAfterEscape = await ghostText(page);
  report.prose.unsure.listAfterEscape = (await suggestRows(page)) !== null;
  // Lines where the model is sure of a phrase, each on a new line until ghost text shows on
  // one (with a list beside it or not): Escape must take it away, and it must not come back.
  report.prose.ghost = [];
  for (const typed of prose.ghost ?? []) {
    await page.keyboard.press('Enter');
    await page.keyboard.type(typed, { delay: 40 });
    const seen = { typed, ghost: null, list: null };
    report.prose.ghost.push(seen);
    const deadline = Date.now() + (prose.ghostWaitMs ?? 5000);
    while (Date.now() < deadline && !seen.ghost) {
      await sleep(150);
      seen.ghost = await ghostText(page);
    }
    const rows = await suggestRows(page);
    seen.list = rows ? rows.map((r) => r.label) : null;
    await page.keyboard.press('Escape');
    await sleep(prose.settleMs ?? 1500);
    seen.ghostAfterEscape = await ghostText(page);
    seen.listAfterEscape = (await suggestRows(page)) !== null;
    if (seen.ghost) {
      break;
    }
  }
  save();
}

async function statusBarText(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('.statusbar-item')].map((el) => el.textContent.trim()).filter((t) => t.includes('nextword')),
  );
}

async function notifications(page) {
  return page.evaluate(() => [...document.querySelectorAll('.notification-list-item')].map((el) => el.textContent.trim()));
}

async function runCommand(page, title) {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { timeout: 15000 });
  await page.keyboard.type(title, { delay: 20 });
  const label = title.split(': ').at(-1);
  await until(
    `the palette to list ${title}`,
    async () => (await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: label }).count()) > 0,
    15000,
  );
  await page.keyboard.press('Enter');
}

async function changeSetting(page, key, value) {
  await runCommand(page, 'Preferences: Open User Settings');
  const search = page.locator('.settings-editor .settings-header .monaco-editor textarea').first();
  await search.waitFor({ timeout: 20000 });
  await search.focus();
  await page.keyboard.type(key, { delay: 10 });
  const input = page.locator(`.settings-editor .setting-item-contents[data-key="${key}"] input, .settings-editor .monaco-list-row[aria-label*="${key.split('.').at(-1)}"] .setting-item-control input`).first();
  await input.waitFor({ timeout: 20000 });
  await input.fill(String(value));
  await input.press('Tab');
  await sleep(1500); // the Settings editor writes settings.json after a short pause
}

const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('console', (message) => {
    const text = message.text();
    if (text.includes('nextword') || message.type() === 'error') {
      report.console.push(`${message.type()}: ${text.slice(0, 500)}`);
    }
  });
  page.on('pageerror', (error) => report.errors.push(String(error).slice(0, 500)));

  await page.goto(plan.url);
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });

  // Open the file from the explorer, as a user would.
  const item = page.locator('.explorer-folders-view .monaco-list-row', { hasText: plan.file }).first();
  await item.waitFor({ timeout: 60000 });
  if (plan.quietBeforeOpenMs) {
    // With no Markdown or text file open, the extension (activated at start-up) starts no server.
    await sleep(plan.quietBeforeOpenMs);
    report.beforeOpen = { notifications: await notifications(page), statusBar: await statusBarText(page) };
  }
  await item.click();
  await page.waitForSelector(`.tab[aria-label*="${plan.file}"], .tab:has-text("${plan.file}")`, { timeout: 30000 });
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.waitFor({ timeout: 30000 });

  if (plan.missingServer) {
    // No server to start: one clear error, the status bar says so, and the README is a click away.
    const { text, button, tab } = plan.missingServer;
    const shown = await until(
      `an error saying ${text}`,
      async () => (await notifications(page)).find((t) => t.includes(text)),
      60000,
    );
    report.notifications = await notifications(page);
    report.statusBar = await until('the status bar to say so', async () => {
      const texts = await statusBarText(page);
      return texts.some((t) => t.includes('no server')) && texts;
    }, 15000);
    await page.locator('.notification-list-item', { hasText: text }).getByRole('button', { name: button }).click();
    if (plan.missingServer.choose) {
      // The file dialog (code-server's own, a path in a quick input): the program's path, Enter.
      const input = page.locator('.quick-input-widget input').first();
      await input.waitFor({ timeout: 15000 });
      report.dialogTitle = await page.evaluate(() => document.querySelector('.quick-input-widget .quick-input-title')?.textContent ?? '');
      // The dialog fills in its folder's path and lists that folder once it has read it; a path
      // typed before then is overwritten, so wait for the list, and type again if it was.
      await until('the file dialog to list its folder', async () => (await page.locator('.quick-input-list .monaco-list-row').count()) > 0, 15000);
      const open = async () => page.evaluate(() => !!document.querySelector('.quick-input-widget:not([style*="display: none"]) input'));
      for (let attempt = 0; attempt < 3 && (await open()); attempt++) {
        await input.fill(plan.missingServer.choose);
        await sleep(700);
        report.dialogValue = await input.inputValue();
        await input.press('Enter');
        await sleep(2000);
      }
      report.statusBar = await until(
        `the status bar to show ${plan.modelName}`,
        async () => {
          const texts = await statusBarText(page);
          return texts.some((t) => t.includes(plan.modelName)) && texts;
        },
        120000,
      );
      await page.screenshot({ path: `${plan.screenshotDir}/chosen-server.png` });
      report.error = shown;
      report.ok = true;
      save();
      await browser.close();
      process.exit(0);
    }
    report.openedTab = await until(
      `a tab with ${tab}`,
      async () => (await page.evaluate(() => [...document.querySelectorAll('.tab')].map((t) => t.textContent.trim()))).find((t) => t.toLowerCase().includes(tab)),
      30000,
    );
    await page.screenshot({ path: `${plan.screenshotDir}/missing-server.png` });
    report.error = shown;
    report.ok = true;
    save();
    await browser.close();
    process.exit(0);
  }

  if (plan.failingServer) {
    // A server that exits as it starts: one error, quoting what it wrote, that waits for no
    // answer: the fixed setting (written while the error is still open) starts the server.
    const { text, settingsFile, fixedSettings, button } = plan.failingServer;
    const shown = await until(
      `an error saying ${text}`,
      async () => (await notifications(page)).find((t) => t.includes(text)),
      60000,
    );
    await sleep(5000); // time for more notifications, if any came (retries, the client's own)
    report.notifications = await notifications(page);
    report.error = shown;
    writeFileSync(settingsFile, JSON.stringify(fixedSettings, null, 2));
    report.statusBar = await until(
      `the status bar to show ${plan.modelName} once the setting is fixed`,
      async () => {
        const texts = await statusBarText(page);
        return texts.some((t) => t.includes(plan.modelName)) && texts;
      },
      120000,
    );
    report.notificationsAfterFix = await notifications(page);
    await page.locator('.notification-list-item', { hasText: text }).getByRole('button', { name: button }).click();
    report.openedTab = await until(
      'the Settings editor',
      async () => (await page.evaluate(() => [...document.querySelectorAll('.tab')].map((t) => t.textContent.trim()))).find((t) => t.includes('Settings')),
      30000,
    );
    report.settingsSearch = await page.evaluate(() => document.querySelector('.settings-editor .settings-header .monaco-editor .view-lines')?.textContent ?? '');
    await page.screenshot({ path: `${plan.screenshotDir}/failing-server.png` });
    report.ok = true;
    save();
    await browser.close();
    process.exit(0);
  }

  // The status bar tells when nextword's model is ready.
  report.statusBar.push(...(await statusBarText(page)));
  await until(
    'the nextword status bar item to show the model',
    async () => {
      const texts = await statusBarText(page);
      if (texts.length && texts.at(-1) !== report.statusBar.at(-1)) {
        report.statusBar.push(texts.at(-1));
      }
      return texts.some((t) => t.includes(plan.modelName));
    },
    120000,
  );

  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+End');

  if (plan.prose) {
    await writeProse(page, editor, plan.prose);
  }
  for (const step of plan.steps ?? []) {
    const record = { typed: step.type, rows: null, accepted: null };
    report.steps.push(record);
    if (step.setting) {
      // A settings change while the server runs, made in the Settings editor as a user does.
      await changeSetting(page, step.setting.key, step.setting.value);
      record.settingChanged = step.setting;
      await page.locator('.tab', { hasText: plan.file }).first().click();
      await editor.locator('.view-lines').click();
      await page.keyboard.press('Control+End');
      await sleep(step.settleMs ?? 1000);
    }
    await page.keyboard.type(step.type, { delay: 40 });
    let rows;
    try {
      rows = await until(
        `the suggest widget to show ${JSON.stringify(step.expectWords)}`,
        async () => {
          const r = await suggestRows(page);
          record.rows = r;
          return r && r.length && JSON.stringify(r.map((x) => x.label)) === JSON.stringify(step.expectWords) ? r : null;
        },
        45000,
      );
    } catch (error) {
      record.error = String(error);
      await page.screenshot({ path: `${plan.screenshotDir}/failed-${report.steps.length}.png` });
      throw error;
    }
    await sleep(300); // let the widget settle (its details column renders last)
    rows = (await suggestRows(page)) ?? rows;
    record.rows = rows;
    if (step.screenshot) {
      const widget = await page.locator('.editor-widget.suggest-widget.visible').boundingBox();
      const box = await editor.boundingBox();
      const title = await page.locator('.editor-group-container .title').first().boundingBox();
      const x = Math.max(0, box.x);
      const y = Math.max(0, Math.min(widget.y, box.y, title ? title.y : box.y));
      const width = Math.min(1280 - x, Math.max(widget.x + widget.width + 40 - x, 640));
      const height = Math.min(800 - y, widget.y + widget.height + 16 - y);
      await page.screenshot({ path: step.screenshot, clip: { x, y, width, height } });
      record.screenshot = step.screenshot;
    }
    if (step.accept !== undefined && step.accept !== null) {
      for (let i = 0; i < step.accept; i++) {
        await page.keyboard.press('ArrowDown');
      }
      await sleep(150);
      record.focusedBeforeAccept = ((await suggestRows(page)) ?? []).find((r) => r.focused)?.label ?? null;
      await page.keyboard.press('Tab');
      await until('the suggest widget to close', async () => (await suggestRows(page)) === null, 10000);
      record.accepted = step.expectWords[step.accept];
    }
    if (step.then) {
      await page.keyboard.type(step.then, { delay: 40 });
    }
    if (step.escape) {
      await page.keyboard.press('Escape');
    }
  }

  // Save, so the test reads what the editor holds.
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+S');
  await until('the tab to lose its dirty mark', async () => (await page.locator('.tab.dirty').count()) === 0, 15000);

  if (plan.statusCommand) {
    await runCommand(page, 'nextword: Show Status');
    await until(
      'the status notification',
      async () => {
        const shown = await notifications(page);
        report.notifications = shown;
        return shown.some((t) => t.includes(plan.modelName) && t.includes('ready'));
      },
      30000,
    );
  }
  if (plan.stopIdle) {
    // Stop Training with none running says so.
    await runCommand(page, 'nextword: Stop Training');
    report.stopIdle = await until(
      `a notification saying ${plan.stopIdle}`,
      async () => (await notifications(page)).find((t) => t.includes(plan.stopIdle)),
      20000,
    );
  }
  if (plan.train) {
    // Train on the workspace from the palette: a progress notification follows the server's
    // $/progress, the status bar says "training", and the new model takes over when done.
    await runCommand(page, 'nextword: Train on This Workspace');
    report.training = { notifications: [], statusBar: [] };
    await until(
      `the status bar to show the trained model ${plan.train.modelName}`,
      async () => {
        for (const text of await notifications(page)) {
          if (text.includes('nextword') && !report.training.notifications.includes(text)) {
            report.training.notifications.push(text);
          }
          if (text.includes('training') && text.includes('failed')) {
            throw new Error(`training failed: ${text}`);
          }
        }
        const bar = await statusBarText(page);
        for (const text of bar) {
          if (!report.training.statusBar.includes(text)) {
            report.training.statusBar.push(text);
          }
        }
        return bar.some((t) => t.includes(plan.train.modelName));
      },
      plan.train.timeoutMs ?? 240000,
    );
    await page.screenshot({ path: `${plan.screenshotDir}/trained.png` });
  }
  report.statusBar.push(...(await statusBarText(page)));
  report.ok = true;
} catch (error) {
  report.ok = false;
  report.failure = String(error && error.stack ? error.stack : error).slice(0, 4000);
  exitCode = 1;
} finally {
  save();
  await browser.close();
}
process.exit(exitCode);
