// End-to-end test of the demo editor (examples/editor/app.py) in a real
// browser: Debian's Chromium, headless, driven by playwright-core.
//
// It clicks through the editor like a user: creates a document, adds, edits,
// deletes and moves paragraphs, undoes and redoes, and after every action
// reads what the page shows: the paragraphs' text, the Undo/Redo buttons'
// counts and disabled state, and the history panel's labels and states.
// Then two tabs on one document: tab B saves a paragraph "without history"
// after tab A edited it, so tab A's undo must be refused with a readable
// message (SQLSTATE UR001 from the extension), the page must stay usable,
// and "Undo anyway" must force the old text back; likewise for redo.  The screenshot (the
// path given as argument) shows tab A with that message.
//
// Cases run in order on one document (each builds on the previous state)
// and print "<case> ... ok" or "<case> ... FAIL" (the error on stderr); the
// exit status is 1 when one failed.
//   EDITOR_URL=http://127.0.0.1:PORT/ node editor.test.js [screenshot.png]
// CHROMIUM overrides the browser (default /usr/bin/chromium).
'use strict';

const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

const BASE = process.env.EDITOR_URL;
const SCREENSHOT = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Headless, no sandbox (containers, root), and nothing that talks to the
// network on its own: no component/safe-browsing/variations updates, no
// metrics, no sync, no DNS prefetch, and every host name but localhost
// resolves to nothing.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-domain-reliability',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-client-side-phishing-detection',
  '--disable-breakpad',
  '--disable-features=Translate,OptimizationHints,MediaRouter,' +
    'AutofillServerCommunication,CertificateTransparencyComponentUpdater,' +
    'InterestFeedContentSuggestions,NetworkTimeServiceQuerying',
  '--metrics-recording-only',
  '--no-first-run',
  '--no-default-browser-check',
  '--no-pings',
  '--safebrowsing-disable-auto-update',
  '--dns-prefetch-disable',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  '--disable-dev-shm-usage',
  '--disable-gpu',
];

const cases = [];
function test(name, fn) { cases.push({ name, fn }); }

// --- what the page shows ---------------------------------------------------

async function paragraphs(page) {
  return page.locator('li.paragraph p.body').allInnerTexts();
}

async function button(page, id) {
  const b = page.locator('#' + id);
  return { text: (await b.innerText()).trim(), disabled: await b.isDisabled() };
}

async function toolbar(page) {
  return { undo: await button(page, 'undo'), redo: await button(page, 'redo') };
}

function expectToolbar(actual, undoCount, redoCount) {
  assert.deepEqual(actual, {
    undo: { text: `Undo (${undoCount})`, disabled: undoCount === 0 },
    redo: { text: `Redo (${redoCount})`, disabled: redoCount === 0 },
  });
}

// [[label, state], ...] of the history panel, oldest first
async function history(page) {
  return page.locator('#history tbody tr').evaluateAll((rows) => rows.map((r) => [
    r.querySelector('.label').innerText, r.querySelector('.state').innerText]));
}

async function messages(page) {
  return page.locator('[role=alert]').allInnerTexts();
}

// --- what the user does (every form posts, then the page reloads) ---------

async function submit(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

function paragraphItem(page, n) {
  return page.locator('li.paragraph').nth(n - 1);
}

async function addParagraph(page, text) {
  await page.locator('#new-paragraph textarea').fill(text);
  await submit(page, page.locator('#new-paragraph button'));
}

async function editParagraph(page, n, text, buttonName = 'Save') {
  const item = paragraphItem(page, n);
  await item.locator('summary').click();
  await item.locator('textarea').fill(text);
  await submit(page, item.getByRole('button', { name: buttonName, exact: true }));
}

async function paragraphButton(page, n, name) {
  await submit(page, paragraphItem(page, n).getByRole('button', { name, exact: true }));
}

// --- the cases ---------------------------------------------------------------

let browser;
let tabA;
let tabB;
let documentUrl;

test('new document starts with an empty history', async () => {
  await tabA.goto(BASE);
  await tabA.locator('#new-document input[name=title]').fill('Camping trip');
  await submit(tabA, tabA.locator('#new-document button'));
  documentUrl = tabA.url();
  assert.match(documentUrl, /\/documents\/\d+$/);
  assert.equal(await tabA.locator('#title').innerText(), 'Camping trip');
  expectToolbar(await toolbar(tabA), 0, 0);
  assert.deepEqual(await paragraphs(tabA), []);
  assert.equal(await tabA.locator('#no-history').innerText(), 'No steps yet.');
});

test('each added paragraph is one undo step', async () => {
  await addParagraph(tabA, 'Pack the tent.');
  expectToolbar(await toolbar(tabA), 1, 0);
  await addParagraph(tabA, 'Check the weather.');
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 2, 0);
  assert.deepEqual(await history(tabA),
    [['Add paragraph', 'can undo'], ['Add paragraph', 'can undo']]);
});

test('an edit is a step labelled with what the user did', async () => {
  await editParagraph(tabA, 1, 'Pack the tent and the stove.');
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent and the stove.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 3, 0);
  assert.deepEqual((await history(tabA))[2], ['Edit paragraph 1', 'can undo']);
});

test('undo puts the old text back and enables redo', async () => {
  await submit(tabA, tabA.locator('#undo'));
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 2, 1);
  assert.deepEqual(await history(tabA), [['Add paragraph', 'can undo'],
    ['Add paragraph', 'can undo'], ['Edit paragraph 1', 'can redo']]);
  assert.deepEqual(await messages(tabA), []);
});

test('redo applies the edit again and disables redo', async () => {
  await submit(tabA, tabA.locator('#redo'));
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent and the stove.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 3, 0);
  assert.deepEqual((await history(tabA))[2], ['Edit paragraph 1', 'can undo']);
});

test('undo of a delete brings the paragraph back', async () => {
  await paragraphButton(tabA, 2, 'Delete');
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent and the stove.']);
  expectToolbar(await toolbar(tabA), 4, 0);
  assert.deepEqual((await history(tabA))[3], ['Delete paragraph 2', 'can undo']);
  await submit(tabA, tabA.locator('#undo'));
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent and the stove.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 3, 1);
});

test('a move is one step of two changes, undone as one', async () => {
  await paragraphButton(tabA, 2, 'Move up');
  assert.deepEqual(await paragraphs(tabA), ['Check the weather.', 'Pack the tent and the stove.']);
  // the move discarded the redo history (the undone delete)
  expectToolbar(await toolbar(tabA), 4, 0);
  const rows = tabA.locator('#history tbody tr');
  assert.equal(await rows.count(), 4);
  assert.equal(await rows.nth(3).locator('.label').innerText(), 'Move paragraph 2 up');
  assert.equal(await rows.nth(3).locator('.changes').innerText(), '2');
  await submit(tabA, tabA.locator('#undo'));
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent and the stove.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 3, 1);
});

test('renaming the document is undoable too', async () => {
  await tabA.locator('details:has(input[name=title]) summary').click();
  await tabA.locator('input[name=title]').fill('Camping trip (June)');
  await submit(tabA, tabA.getByRole('button', { name: 'Rename', exact: true }));
  assert.equal(await tabA.locator('#title').innerText(), 'Camping trip (June)');
  expectToolbar(await toolbar(tabA), 4, 0);
  await submit(tabA, tabA.locator('#undo'));
  assert.equal(await tabA.locator('#title').innerText(), 'Camping trip');
  expectToolbar(await toolbar(tabA), 3, 1);
});

test('undo after another tab changed the row outside the history is refused', async () => {
  await editParagraph(tabA, 1, 'Tent, stove and matches.');
  expectToolbar(await toolbar(tabA), 4, 0);
  // tab B opens the document and overwrites that paragraph without history
  await tabB.goto(documentUrl);
  assert.deepEqual(await paragraphs(tabB), ['Tent, stove and matches.', 'Check the weather.']);
  await editParagraph(tabB, 1, 'Written in tab B.', 'Save without history');
  assert.deepEqual(await paragraphs(tabB), ['Written in tab B.', 'Check the weather.']);
  expectToolbar(await toolbar(tabB), 4, 0);   // no new step
  // tab A still shows its edit; its undo must not overwrite tab B's text
  await submit(tabA, tabA.locator('#undo'));
  const shown = await messages(tabA);
  assert.equal(shown.length, 1, JSON.stringify(shown));
  assert.match(shown[0], /^Cannot undo: something this step changed was edited outside/);
  assert.match(shown[0], /table "paragraph"/);
  const body = await tabA.locator('body').innerText();
  assert.doesNotMatch(body, /Traceback|Internal Server Error|psycopg2/);
  assert.deepEqual(await paragraphs(tabA), ['Written in tab B.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 4, 0);
  assert.deepEqual((await history(tabA))[3], ['Edit paragraph 1', 'can undo']);
});

test('screenshot of the conflict message', async () => {
  assert.ok(SCREENSHOT, 'no screenshot path given');
  const png = await tabA.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(png.length > 10000, `screenshot is only ${png.length} bytes`);
});

test('the page stays usable after a conflict', async () => {
  await addParagraph(tabA, 'Buy matches.');
  assert.deepEqual(await messages(tabA), []);
  assert.deepEqual(await paragraphs(tabA),
    ['Written in tab B.', 'Check the weather.', 'Buy matches.']);
  expectToolbar(await toolbar(tabA), 5, 0);
  await submit(tabA, tabA.locator('#undo'));
  assert.deepEqual(await paragraphs(tabA), ['Written in tab B.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 4, 1);
});

test('undo anyway overwrites the change made outside the history', async () => {
  await submit(tabA, tabA.locator('#undo'));
  assert.equal((await messages(tabA)).length, 1);
  await submit(tabA, tabA.locator('#force-undo'));
  assert.deepEqual(await messages(tabA), []);
  assert.deepEqual(await paragraphs(tabA), ['Pack the tent and the stove.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 3, 2);
  // the other tab sees the same document after a reload
  await tabB.reload();
  assert.deepEqual(await paragraphs(tabB), ['Pack the tent and the stove.', 'Check the weather.']);
  expectToolbar(await toolbar(tabB), 3, 2);
});

test('redo after a change outside the history is refused too', async () => {
  // the next redo is tab A's edit; tab B overwrites that paragraph first
  await tabB.goto(documentUrl);
  await editParagraph(tabB, 1, 'Tab B again.', 'Save without history');
  await submit(tabA, tabA.locator('#redo'));
  const shown = await messages(tabA);
  assert.equal(shown.length, 1, JSON.stringify(shown));
  assert.match(shown[0], /^Cannot redo: .*table "paragraph"/);
  assert.deepEqual(await paragraphs(tabA), ['Tab B again.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 3, 2);
  await submit(tabA, tabA.locator('#force-redo'));
  assert.deepEqual(await paragraphs(tabA), ['Tent, stove and matches.', 'Check the weather.']);
  expectToolbar(await toolbar(tabA), 4, 1);
  assert.deepEqual((await history(tabA)).map(([, state]) => state),
    ['can undo', 'can undo', 'can undo', 'can undo', 'can redo']);
});

async function main() {
  if (!BASE) throw new Error('EDITOR_URL is not set');
  let failed = 0;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    context.setDefaultTimeout(15000);
    tabA = await context.newPage();
    tabB = await context.newPage();
    console.log('launch chromium ... ok');
  } catch (err) {
    console.log('launch chromium ... FAIL');
    console.error(err);
    if (browser) await browser.close();
    return 1;
  }
  for (const { name, fn } of cases) {
    try {
      await fn();
      console.log(`${name} ... ok`);
    } catch (err) {
      failed += 1;
      console.log(`${name} ... FAIL`);
      console.error(err);
    }
  }
  await browser.close();
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; },
  (err) => { console.error(err); process.exitCode = 1; });
