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
// and "Undo anyway" must force the old text back; likewise for redo.
// Then two people, alice and bob, one in each tab of one browser, edit one
// document: each step records who made it, "Undo my last change" takes
// back alice's step and leaves bob's newer one, the history panel shows who
// and what (old -> new), "Revert" takes back an older step alone, and a
// revert that bob's later edit of the same paragraph depends on is refused
// with a message naming bob's step.  The screenshot (the path given as
// argument) shows alice's tab with that message.
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

// all the history panel shows of each step, oldest first
async function steps(page) {
  return page.locator('#history tbody tr').evaluateAll((rows) => rows.map((r) => ({
    step: Number(r.querySelector('.step').innerText),
    who: r.querySelector('.actor').innerText,
    label: r.querySelector('.label').innerText,
    state: r.querySelector('.state').innerText,
    changes: Array.from(r.querySelectorAll('li.change'), (li) => li.innerText.trim()),
    revert: r.querySelector('button.revert') !== null,
  })));
}

// "who: label (state)" of each step, oldest first
async function stepSummaries(page) {
  return (await steps(page)).map((s) => `${s.who}: ${s.label} (${s.state})`);
}

async function mine(page) {
  return { undo: await page.locator('#undo-mine').isDisabled() ? 'disabled' : 'enabled',
    redo: await page.locator('#redo-mine').isDisabled() ? 'disabled' : 'enabled' };
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

// the user switcher in the header reloads the page as that user
async function pickUser(page, name) {
  await Promise.all([page.waitForNavigation(), page.locator('#user').selectOption(name)]);
}

async function revertStep(page, step) {
  await submit(page, page.locator(`#step-${step} button.revert`));
}

// --- the cases ---------------------------------------------------------------

let browser;
let tabA;
let tabB;
let documentUrl;
let teamUrl;      // the document alice and bob edit, without ?user=

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

// --- two people on one document: alice in tab A, bob in tab B -------------

test('each tab edits as the user picked in it', async () => {
  await tabA.goto(BASE);
  await pickUser(tabA, 'alice');
  await tabA.locator('#new-document input[name=title]').fill('Team notes');
  await submit(tabA, tabA.locator('#new-document button'));
  assert.match(tabA.url(), /\/documents\/\d+\?user=alice$/);
  teamUrl = tabA.url().replace(/\?.*/, '');
  await addParagraph(tabA, 'Alice writes this.');
  await tabB.goto(teamUrl);
  assert.equal(await tabB.locator('#user').inputValue(), '');
  await pickUser(tabB, 'bob');
  assert.equal(tabB.url(), `${teamUrl}?user=bob`);
  await addParagraph(tabB, 'Bob writes that.');
  // tab A is still alice's: the user belongs to the tab, not to the browser
  await tabA.reload();
  assert.equal(await tabA.locator('#user').inputValue(), 'alice');
  assert.deepEqual(await paragraphs(tabA), ['Alice writes this.', 'Bob writes that.']);
  assert.deepEqual(await stepSummaries(tabA),
    ['alice: Add paragraph (can undo)', 'bob: Add paragraph (can undo)']);
  // with nobody picked there is no "my" undo or redo
  await tabB.goto(teamUrl);
  assert.deepEqual(await mine(tabB), { undo: 'disabled', redo: 'disabled' });
  await pickUser(tabB, 'bob');
});

test('"undo my last change" takes back my step, not the newer one of bob', async () => {
  await editParagraph(tabA, 1, 'Alice rewrites this.');
  await tabB.reload();
  await editParagraph(tabB, 2, 'Bob rewrites that.');
  await tabA.reload();
  expectToolbar(await toolbar(tabA), 4, 0);
  assert.deepEqual(await mine(tabA), { undo: 'enabled', redo: 'disabled' });
  await submit(tabA, tabA.locator('#undo-mine'));
  assert.deepEqual(await messages(tabA), []);
  // alice's edit is undone, bob's newer edit stays
  assert.deepEqual(await paragraphs(tabA), ['Alice writes this.', 'Bob rewrites that.']);
  assert.deepEqual(await stepSummaries(tabA), [
    'alice: Add paragraph (can undo)', 'bob: Add paragraph (can undo)',
    'alice: Edit paragraph 1 (can redo)', 'bob: Edit paragraph 2 (can undo)']);
  expectToolbar(await toolbar(tabA), 3, 1);
  assert.deepEqual(await mine(tabA), { undo: 'enabled', redo: 'enabled' });
  // bob undid nothing: he has nothing of his own to redo
  await tabB.reload();
  assert.deepEqual(await mine(tabB), { undo: 'enabled', redo: 'disabled' });
  await submit(tabA, tabA.locator('#redo-mine'));
  assert.deepEqual(await paragraphs(tabA), ['Alice rewrites this.', 'Bob rewrites that.']);
  assert.deepEqual(await mine(tabA), { undo: 'enabled', redo: 'disabled' });
  expectToolbar(await toolbar(tabA), 4, 0);
});

test('the history shows who made each step and what it changed', async () => {
  const shown = await steps(tabA);
  assert.deepEqual(shown.map((s) => s.who), ['alice', 'bob', 'alice', 'bob']);
  assert.equal(shown[0].changes.length, 1);
  assert.match(shown[0].changes[0], /^paragraph #\d+ added: body "Alice writes this\.", position 1$/);
  assert.match(shown[1].changes[0], /^paragraph #\d+ added: body "Bob writes that\.", position 2$/);
  assert.deepEqual(shown[2].changes.map((c) => c.replace(/#\d+/, '#N')),
    ['paragraph #N: body "Alice writes this." \u2192 "Alice rewrites this."']);
  assert.deepEqual(shown[3].changes.map((c) => c.replace(/#\d+/, '#N')),
    ['paragraph #N: body "Bob writes that." \u2192 "Bob rewrites that."']);
  assert.equal(await tabA.locator('#changes-unavailable').count(), 0);
  // every step can be undone, so every step has a Revert button
  assert.deepEqual(shown.map((s) => s.revert), [true, true, true, true]);
});

test('revert takes back an older step and keeps the later ones', async () => {
  await addParagraph(tabA, 'Snacks: apples.');
  await tabB.reload();
  await editParagraph(tabB, 2, 'Bob: that, and more.');
  await tabA.reload();
  const snacks = (await steps(tabA))[4];
  assert.equal(snacks.label, 'Add paragraph');
  await revertStep(tabA, snacks.step);
  assert.deepEqual(await messages(tabA), []);
  assert.deepEqual(await paragraphs(tabA), ['Alice rewrites this.', 'Bob: that, and more.']);
  const shown = await steps(tabA);
  assert.deepEqual(shown.slice(4).map((s) => `${s.who}: ${s.label} (${s.state})`), [
    'alice: Add paragraph (can undo)', 'bob: Edit paragraph 2 (can undo)',
    'alice: Revert: Add paragraph (can undo)']);
  assert.equal(await tabA.locator(`#step-${shown[6].step} .reverts`).innerText(),
    `(step ${snacks.step})`);
  assert.deepEqual(shown[6].changes.map((c) => c.replace(/#\d+/, '#N')),
    ['paragraph #N deleted: body "Snacks: apples.", position 3']);
  expectToolbar(await toolbar(tabA), 7, 0);
});

test('a revert that bob\'s later edit depends on is refused, naming his step', async () => {
  await tabB.reload();
  await editParagraph(tabB, 1, 'Bob fixed this.');
  await tabA.reload();
  const before = await steps(tabA);
  const alices = before[2];
  const bobs = before[7];
  assert.deepEqual([alices.who, alices.label, bobs.who, bobs.label],
    ['alice', 'Edit paragraph 1', 'bob', 'Edit paragraph 1']);
  await revertStep(tabA, alices.step);
  const shown = await messages(tabA);
  assert.deepEqual(shown, [`Cannot revert step ${alices.step} (\u201cEdit paragraph 1\u201d, by alice): ` +
    `step ${bobs.step} (\u201cEdit paragraph 1\u201d, by bob) changed the same row of table ` +
    `\u201cparagraph\u201d after it. Undo or revert step ${bobs.step} first.`]);
  // overwriting bob's recorded step is not offered
  assert.equal(await tabA.locator('[role=alert] button').count(), 0);
  assert.deepEqual(await paragraphs(tabA), ['Bob fixed this.', 'Bob: that, and more.']);
  assert.deepEqual(await steps(tabA), before);
  assert.equal(await tabA.locator(`#step-${bobs.step}.blocker`).count(), 1);
});

test('screenshot of the refused revert', async () => {
  assert.ok(SCREENSHOT, 'no screenshot path given');
  const png = await tabA.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(png.length > 10000, `screenshot is only ${png.length} bytes`);
});

test('once bob undoes his edit, the revert goes through', async () => {
  await tabB.reload();
  await submit(tabB, tabB.locator('#undo-mine'));
  assert.deepEqual(await paragraphs(tabB), ['Alice rewrites this.', 'Bob: that, and more.']);
  await tabA.reload();
  const alices = (await steps(tabA))[2];
  await revertStep(tabA, alices.step);
  assert.deepEqual(await messages(tabA), []);
  assert.deepEqual(await paragraphs(tabA), ['Alice writes this.', 'Bob: that, and more.']);
  const last = (await steps(tabA)).at(-1);
  assert.deepEqual([last.who, last.label, last.state], ['alice', 'Revert: Edit paragraph 1', 'can undo']);
});

test('"undo anyway" of my own change keeps me as the user', async () => {
  // bob overwrites alice's paragraph without history
  await tabB.reload();
  await editParagraph(tabB, 1, 'Outside edit.', 'Save without history');
  await tabA.reload();
  await submit(tabA, tabA.locator('#undo-mine'));
  const shown = await messages(tabA);
  assert.equal(shown.length, 1, JSON.stringify(shown));
  assert.match(shown[0], /^Cannot undo: something this step changed was edited outside/);
  await submit(tabA, tabA.locator('#force-undo'));
  assert.deepEqual(await messages(tabA), []);
  assert.equal(tabA.url(), `${teamUrl}?user=alice`);
  assert.deepEqual(await paragraphs(tabA), ['Alice rewrites this.', 'Bob: that, and more.']);
  const last = (await steps(tabA)).at(-1);
  assert.deepEqual([last.who, last.label, last.state], ['alice', 'Revert: Edit paragraph 1', 'can redo']);
  assert.deepEqual(await mine(tabA), { undo: 'enabled', redo: 'enabled' });
});

test('a revert from a page that is out of date says what happened', async () => {
  await tabB.reload();
  const snacksRevert = (await steps(tabB))[6];
  assert.deepEqual([snacksRevert.label, snacksRevert.revert], ['Revert: Add paragraph', true]);
  // alice undoes that step after bob's page showed it
  await tabA.reload();
  await submit(tabA, tabA.locator('#undo-mine'));
  assert.deepEqual(await paragraphs(tabA),
    ['Alice rewrites this.', 'Bob: that, and more.', 'Snacks: apples.']);
  await revertStep(tabB, snacksRevert.step);
  const docName = `document:${teamUrl.replace(/.*\//, '')}`;
  assert.deepEqual(await messages(tabB),
    [`Cannot revert step ${snacksRevert.step} of "${docName}": it has been undone.`]);
  assert.deepEqual(await paragraphs(tabB),
    ['Alice rewrites this.', 'Bob: that, and more.', 'Snacks: apples.']);
  assert.equal((await steps(tabB))[6].state, 'can redo');
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
